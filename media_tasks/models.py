from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with an email address instead of a username."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    email_confirmed_at = models.DateTimeField(null=True, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()  # type: ignore[misc]

    def __str__(self) -> str:
        return self.email

    @property
    def email_confirmed(self) -> bool:
        return self.email_confirmed_at is not None


def original_upload_to(instance: Image, filename: str) -> str:
    # The user's file name never reaches the storage path: no collisions, no path tricks.
    return f"originals/{instance.owner_id}/{instance.token}"


class WorkItem(models.Model):
    """A unit of background work with a durable status, so nothing is lost with a job.

    A job claims the row (status → in progress, a fresh token, a timestamp) with a conditional
    UPDATE; the claim lapses after WORK_CLAIM_LEASE_SECONDS, so a row left behind by a killed
    worker is picked up again by the sweeper.
    """

    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Image(WorkItem):
    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="images")
    token = models.CharField(max_length=32, unique=True, editable=False)
    original = models.FileField(upload_to=original_upload_to, max_length=255, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    failure_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.original_name or f"Image {self.pk}"


class Thumbnail(models.Model):
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="thumbnails")
    size = models.PositiveIntegerField(help_text="Longest edge the thumbnail was made to fit, in pixels.")
    file = models.FileField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()

    class Meta:
        ordering = ["-size"]
        constraints = [models.UniqueConstraint(fields=["image", "size"], name="one_thumbnail_per_size")]

    def __str__(self) -> str:
        return f"{self.image} @ {self.size}px"


class StoredFile(models.Model):
    """File bytes kept in the database, so every dyno sees every file and restarts lose nothing."""

    name = models.CharField(max_length=255, unique=True)
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class OutgoingEmail(WorkItem):
    """The outbox: an email is a row first, written with whatever caused it, then sent by a job."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # Handed over twice without the server confirming either: it may have been delivered.
        UNCONFIRMED = "unconfirmed", "Maybe sent (unconfirmed)"

    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails")
    to = models.EmailField()
    subject = models.CharField(max_length=200)
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
