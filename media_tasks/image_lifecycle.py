"""An image's life: stored from an upload, its thumbnails made, made again, deleted with its files."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import transaction
from django.db.models import QuerySet

from accounts.models import User
from media_tasks import conf, rendering, upload_checks
from media_tasks.direct_upload import DIRECT_UPLOAD_PREFIX
from media_tasks.models import Image, Thumbnail
from work import claims, durable

logger = logging.getLogger(__name__)


def image_create(*, owner: User, file: UploadedFile) -> Image:
    """Store an upload and queue its thumbnails; UnreadableImage (nothing stored) if it is no image we take."""
    info = upload_checks.inspect_image(file, largest=max(conf.THUMBNAIL_SIZES()))
    with _stored_files_removed_on_error() as written, transaction.atomic():
        image = Image(
            owner=owner,
            token=secrets.token_hex(16),
            original_name=(file.name or "")[:255],
            width=info.width,
            height=info.height,
        )
        image.original.save(image.token, file, save=False)
        written.append(str(image.original.name))
        image.save()
        claims.enqueue_on_commit(image)
    return image


def image_make_thumbnails(*, image: Image, run: durable.Run) -> None:
    """Make the image's thumbnails, for its durable job (media_tasks/jobs.py), which claimed it.

    Bad data stays bad: an image we cannot read fails at once, with a reason its owner reads,
    and is not retried. Anything else (storage or database trouble, a worker shutting down)
    hands it back for rq's retry.
    """
    direct = (image.original.name or "").startswith(DIRECT_UPLOAD_PREFIX)
    try:
        with image.original.open("rb") as stored:
            source = io.BytesIO(stored.read())
        if direct:
            # No request ever saw these bytes: the worker makes the request's checks, with the same
            # words, before a single pixel is decoded.
            info = upload_checks.inspect_image(source, largest=max(conf.THUMBNAIL_SIZES()))
            run.finish(width=info.width, height=info.height)
        rendered = rendering.render_thumbnails(source, conf.THUMBNAIL_SIZES())
    except upload_checks.UnreadableImage as error:
        if direct:
            # Nothing of an object that failed the checks is kept, so nothing of it can be served.
            run.delete_files_after_commit([str(image.original.name)])
            _image_failed(image, run, str(error), original="")
        else:
            _image_failed(image, run, str(error))
        return
    except (FileNotFoundError, ValueError):
        # ValueError: the FileField is empty because the original was already discarded.
        _image_failed(image, run, "The original file is no longer stored.")
        return

    kept_original = image.original.name
    if not conf.KEEP_ORIGINAL_UPLOADS():
        run.delete_files_after_commit([str(image.original.name)])
        kept_original = ""
    # The row is locked and the claim checked: a run whose image was deleted meanwhile, or taken
    # over by another run, stores none of this.
    with run.results(failure_reason="", last_error="", original=kept_original):
        run.delete_files_after_commit(image.thumbnails.values_list("file", flat=True))
        image.thumbnails.all().delete()
        for thumb in rendered:
            name = f"thumbnails/{image.owner_id}/{image.token}-{thumb.size}.{thumb.extension}"
            row = Thumbnail(image=image, size=thumb.size, width=thumb.width, height=thumb.height)
            # S3 stores the type the bucket will serve: given, not left to a guess from the name.
            content = SimpleUploadedFile(name, thumb.content, rendering.CONTENT_TYPES[thumb.extension])
            row.file.save(name, content, save=False)
            run.file_stored(str(row.file.name))
            row.save()
    logger.info("made %d thumbnails for image %s", len(rendered), image.pk)


def image_reprocess(*, image: Image) -> bool:
    """Make an image's thumbnails again from its original; False if the original was discarded."""
    if not image.original.name:
        return False
    with transaction.atomic():
        # Whatever its status: back to pending with fresh attempts, no claim, no reasons.
        claims.reset(claims.kind_of(Image), image.pk, statuses=tuple(Image.Status.values))
        claims.enqueue_on_commit(image)
    image.refresh_from_db()
    return True


def image_delete(*, image: Image, user: User) -> bool:
    """Delete one of the user's images: its rows now, its stored files once that commits.

    False if the image is not theirs or is already gone. A thumbnail run in progress either
    commits its files before this reads their names, or finds the row gone and writes nothing.
    """
    with transaction.atomic():
        # The row lock orders this against the thumbnail run's own locked write (SQLite's
        # IMMEDIATE transactions give the same order).
        locked = Image.objects.select_for_update().filter(pk=image.pk, owner=user).first()
        if locked is None:
            return False
        files = [locked.original.name] if locked.original.name else []
        files += [name for name in locked.thumbnails.values_list("file", flat=True) if name]
        locked.delete()
        # Storage is not transactional: a rollback must leave the files the rows still name.
        _delete_files_after_commit(files)
    logger.info("image %s deleted by its owner with %d stored files", image.pk, len(files))
    return True


def _image_failed(image: Image, run: durable.Run, reason: str, **fields: Any) -> None:
    # Bad data stays bad: fail now, with a reason a person can read, and do not retry. The job
    # ends well (nothing for the dashboard's failed list): the owner's upload is what failed.
    with run.results(status=Image.Status.FAILED, failure_reason=reason, last_error=reason, **fields):
        pass
    logger.warning("image %s failed: %s", image.pk, reason)


@contextmanager
def _stored_files_removed_on_error() -> Iterator[list[str]]:
    """Storage is not transactional: delete what was written if the rows never commit."""
    names: list[str] = []
    try:
        yield names
    except BaseException:
        for name in names:
            default_storage.delete(name)
        raise


def _delete_files_after_commit(names: list[str]) -> None:
    def delete() -> None:
        for name in names:
            default_storage.delete(name)

    transaction.on_commit(delete)


def image_delete_files_of(*, owners: QuerySet[User]) -> None:
    """Delete the stored files of these users' images once their deletion commits (rows cascade)."""
    images = Image.objects.filter(owner__in=owners)
    files = [name for name in images.values_list("original", flat=True) if name]
    files += Thumbnail.objects.filter(image__in=images).values_list("file", flat=True)
    _delete_files_after_commit(files)
