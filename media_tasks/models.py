from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models

from work.models import WorkItem


def original_upload_to(instance: Image, filename: str) -> str:
    # The user's file name never reaches the storage path: no collisions, no path tricks.
    return f"originals/{instance.owner_id}/{instance.token}"


class Image(WorkItem):
    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Work:
        job = "media_tasks.jobs.make_thumbnails"
        queue = "default"
        pending, in_progress, done, failed = "pending", "processing", "ready", "failed"
        retry_schedule_setting = "WORK_RETRY_SCHEDULE"
        max_attempts_setting = "WORK_MAX_ATTEMPTS"
        reset_fields: ClassVar[dict[str, Any]] = {"failure_reason": ""}
        # What the owner reads when the sweeper gives the image up.
        gave_up_fields: ClassVar[dict[str, Any]] = {
            "failure_reason": "Thumbnails could not be made after several tries; please upload it again."
        }

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images")
    token = models.CharField(max_length=32, unique=True, editable=False)
    original = models.FileField(upload_to=original_upload_to, max_length=255, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    failure_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One image per stored original: two completes of one direct upload racing each other
            # must not both record it (two rows, two jobs, one object). Discarded originals are "".
            models.UniqueConstraint(
                fields=["original"], condition=~models.Q(original=""), name="one_image_per_original"
            )
        ]

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
