"""The demo's rq job: takes an image id, re-reads the row and calls one service."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings

from background.jobs import logged
from media_tasks import services
from media_tasks.models import Image

logger = logging.getLogger(__name__)


@logged
def make_thumbnails(image_id: int) -> None:
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        logger.info("image %s is gone; no thumbnails to make", image_id)
        return
    try:
        services.image_make_thumbnails(image=image)
    except Image.DoesNotExist:
        # Its owner deleted it mid-run (the service re-reads the row after the claim and after
        # writing): whatever the run stored went with the delete, so there is nothing to retry.
        logger.info("image %s was deleted while its thumbnails were made", image_id)


@logged
def delete_orphan_uploads() -> int:
    """Delete objects uploaded straight to the bucket but never recorded (media_tasks/schedule.py)."""
    storage = services.direct_upload_storage()
    if storage is None:
        return 0  # no bucket, no direct uploads
    older_than = timedelta(hours=settings.DIRECT_UPLOAD_GRACE_HOURS)
    return len(services.upload_delete_orphans(storage=storage, older_than=older_than))
