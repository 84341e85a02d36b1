"""Images waiting for their thumbnails, made and queued as an upload would, for the worker benchmarks."""

from __future__ import annotations

import secrets
from typing import Any

from bench.common import BenchmarkError, bench_user
from media_tasks.bench.images import TestImage


def create_pending_images(image: TestImage, content: bytes, count: int, label: str, owner: Any = None) -> list[int]:
    """Rows and stored originals as image_lifecycle.image_create leaves them, without queueing a job.

    The upload form is bypassed on purpose: these benchmarks measure workers, not requests,
    and a 50 MP original may be over MAX_UPLOAD_BYTES. The owner is a user named after the label
    unless one is given.
    """
    from django.core.files.base import ContentFile
    from django.db import transaction

    from media_tasks.models import Image as ImageRow

    owner = owner or bench_user(f"{label}@example.com")
    ids = []
    for number in range(count):
        with transaction.atomic():
            row = ImageRow(
                owner=owner,
                token=secrets.token_hex(16),
                original_name=f"{label}-{number}.{image.filename.rsplit('.', 1)[1]}",
                width=image.width,
                height=image.height,
            )
            row.original.save(row.token, ContentFile(content), save=False)
            row.save()
        ids.append(row.pk)
    return ids


def enqueue_thumbnails(ids: list[int]) -> list[str]:
    """Queue each image's job as an upload does (work/claims.py), after its row is committed."""
    from django.db import connection

    from media_tasks.models import Image
    from work import claims

    # django-rq's on_db_commit mode would hold a job until a commit that never comes.
    if connection.in_atomic_block:
        raise BenchmarkError("enqueue must run outside a transaction")
    for pk in ids:
        if not claims.enqueue(claims.kind_of(Image), pk):
            raise BenchmarkError(f"could not queue the thumbnail job of image {pk}")
    return [claims.kind_of(Image).job_id(pk) for pk in ids]
