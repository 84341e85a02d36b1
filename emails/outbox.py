"""The outbox as Django's default mailer: every email the site sends becomes a row first.

send_mail, EmailMessage.send, mail_admins and any third-party app's mail land here: each
message is written as an OutgoingEmail row in the caller's transaction (a rolled-back sign-up
sends nothing), and a job on `high` delivers it after the commit through the backend named
by the "delivery" mailer (emails/services.py, email_send), with claims, retries, one
Message-ID per row and the sweeper behind it.
https://docs.djangoproject.com/en/6.1/topics/email/#defining-a-custom-email-backend

Attachments are not kept: the outbox stores text and HTML bodies, recipients and headers, so
a message with attachments is refused with ValueError rather than sent without them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from emails.models import OutgoingEmail
from work import claims

logger = logging.getLogger(__name__)


class EmailBackend(BaseEmailBackend):
    """Writes each message to the outbox; after `send`, `message.outbox_id` names its row.

    With `fail_silently` (the "error_reports" mailer's option) a message that cannot be written
    is logged instead of raised: a 500 caused by the database being down cannot write its
    report either, and must still be answered as a 500.
    """

    def __init__(self, *, fail_silently: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.fail_silently = fail_silently

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        written = 0
        try:
            with transaction.atomic():
                for message in email_messages:
                    if not message.recipients():
                        continue
                    row = outbox_add(message)
                    message.outbox_id = row.pk  # type: ignore[attr-defined]
                    written += 1
        except Exception:
            if not self.fail_silently:
                raise
            logger.exception("could not write %d emails to the outbox", len(email_messages))
            return 0
        return written


def outbox_add(message: EmailMessage) -> OutgoingEmail:
    """Write one message as an outbox row and queue its delivery once the transaction commits."""
    if message.attachments:
        raise ValueError("The outbox keeps no attachments; send this message through another backend.")
    html = next((content for content, mimetype in getattr(message, "alternatives", []) if mimetype == "text/html"), "")
    recipients = {
        "to": list(message.to),
        "cc": list(message.cc),
        "bcc": list(message.bcc),
        "reply_to": list(message.reply_to),
    }
    row = OutgoingEmail.objects.create(
        from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
        to=parseaddr((message.to or message.cc or message.bcc)[0])[1],
        recipients=recipients,
        headers={key: str(value) for key, value in message.extra_headers.items() if key.lower() != "message-id"},
        subject=str(message.subject),
        body=str(message.body),
        html_body=str(html),
    )
    claims.enqueue_on_commit(row)
    return row


def message_of(email: OutgoingEmail, *, connection: Any, message_id: str) -> EmailMultiAlternatives:
    """The row as a message for the delivery backend, with the row's one Message-ID."""
    recipients = email.recipients or {"to": [email.to]}
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body,
        from_email=email.from_email or None,
        to=recipients.get("to") or [],
        cc=recipients.get("cc") or [],
        bcc=recipients.get("bcc") or [],
        reply_to=recipients.get("reply_to") or [],
        headers={**email.headers, "Message-ID": message_id},
        connection=connection,
    )
    if email.html_body:
        message.attach_alternative(email.html_body, "text/html")
    return message
