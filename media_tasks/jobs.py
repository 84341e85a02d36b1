"""The demo's rq jobs: thumbnails (durable work: work.durable claims the row) and the bucket's cleanup."""

from __future__ import annotations

import logging
from datetime import timedelta

from media_tasks import conf, direct_upload, image_lifecycle
from media_tasks.models import Image
from queues.joblog import logged
from work import durable

logger = logging.getLogger(__name__)


@durable.job(
    Image,
    words=durable.Words(
        gone="{name} is gone; no thumbnails to make",
        elsewhere="{name} is {status} or being processed elsewhere; nothing to do",
        # Its owner deleted it mid-run: whatever the run stored goes, and there is nothing to retry.
        deleted="{name} was deleted while its thumbnails were made; discarding them",
        taken_over="{name} was taken over by another run; discarding this one",
    ),
)
def make_thumbnails(image: Image, run: durable.Run) -> None:
    image_lifecycle.image_make_thumbnails(image=image, run=run)


@logged
def delete_orphan_uploads() -> int:
    """Delete objects uploaded straight to the bucket but never recorded (media_tasks/schedule.py)."""
    storage = direct_upload.direct_upload_storage()
    if storage is None:
        return 0  # no bucket, no direct uploads
    older_than = timedelta(hours=conf.DIRECT_UPLOAD_GRACE_HOURS())
    return len(direct_upload.upload_delete_orphans(storage=storage, older_than=older_than))
