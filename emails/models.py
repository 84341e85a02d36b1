"""The email outbox: every email the site sends is a row here first."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models

from work.models import WorkItem


class OutgoingEmail(WorkItem):
    """The outbox: an email is a row first, written with whatever caused it, then sent by a job.

    Every email the site sends comes here: the outbox is Django's EMAIL_BACKEND
    (background/outbox.py), and a job on `high` hands the row to the delivery backend.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # Handed over twice without the server confirming either: it may have been delivered.
        UNCONFIRMED = "unconfirmed", "Maybe sent (unconfirmed)"

    class Work:
        job = "emails.jobs.send_email"
        queue = "high"
        pending, in_progress, done, failed = "pending", "sending", "sent", "failed"
        retry_schedule_setting = "EMAIL_RETRY_SCHEDULE"
        also_given_up = ("unconfirmed",)
        reset_fields: ClassVar[dict[str, Any]] = {"unconfirmed_sends": 0}
        # While emails wait on a retry, the sweeper asks whether the SMTP server answers again.
        resume_check = "emails.services.email_delivery_answers"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    from_email = models.CharField(max_length=320, blank=True)
    # The first recipient, for the admin's list and search; `recipients` holds them all.
    to = models.CharField(max_length=320)
    recipients = models.JSONField(default=dict, blank=True, help_text="to, cc, bcc and reply_to lists.")
    headers = models.JSONField(default=dict, blank=True)
    subject = models.CharField(max_length=998)
    body = models.TextField()
    html_body = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # db_default: the code still running during a release inserts rows without this column.
    unconfirmed_sends = models.PositiveSmallIntegerField(
        default=0,
        db_default=0,
        help_text="Attempts whose message the SMTP server took but never confirmed: each may have delivered it.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"
