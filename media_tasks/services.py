"""The demo's business logic: every change to images goes through these functions."""

from __future__ import annotations

import io
import logging
import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage, storages
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from storages.backends.s3 import S3Storage  # type: ignore[import-untyped]  # no types shipped

from accounts.models import User
from media_tasks import thumbnails
from media_tasks.models import Image, Thumbnail
from work import claims, durable

logger = logging.getLogger(__name__)


# --- Images -----------------------------------------------------------------------------


def image_create(*, owner: User, file: UploadedFile) -> Image:
    """Store an upload and queue its thumbnails; UnreadableImage (nothing stored) if it is no image we take."""
    info = thumbnails.inspect_image(file, largest=max(settings.THUMBNAIL_SIZES))
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
            info = thumbnails.inspect_image(source, largest=max(settings.THUMBNAIL_SIZES))
            run.finish(width=info.width, height=info.height)
        rendered = thumbnails.render_thumbnails(source, settings.THUMBNAIL_SIZES)
    except thumbnails.UnreadableImage as error:
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
    if not settings.KEEP_ORIGINAL_UPLOADS:
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
            content = SimpleUploadedFile(name, thumb.content, thumbnails.CONTENT_TYPES[thumb.extension])
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


# --- Files ------------------------------------------------------------------------------


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


# --- Direct uploads (browser → bucket) ----------------------------------------------------

# Objects the browser puts in the bucket itself, under uploads/<user id>/: until the worker has
# made the request's checks on them they are unchecked bytes, and never served.
DIRECT_UPLOAD_PREFIX = "uploads/"
# Long enough to pick a file on a slow line, short enough that a leaked form is soon useless.
PRESIGN_EXPIRES_SECONDS = 600
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


class DirectUploadRefused(Exception):
    """A key the site will not record; the message says why, for the person who sent it."""


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]
    key: str


def direct_upload_storage() -> S3Storage | None:
    """The bucket storage when media lives in S3 (direct uploads are possible), else None."""
    storage = storages["default"]  # the instance default_storage stands for
    return storage if isinstance(storage, S3Storage) else None


def _user_prefix(owner: User) -> str:
    return f"{DIRECT_UPLOAD_PREFIX}{owner.pk}/"


def _safe_name(name: str) -> str:
    # Only the last part of what the browser calls the file, in characters no tool trips on.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME_CHARACTERS.sub("-", base).strip(".-")[:100]
    return cleaned or "upload"


def upload_presign(*, owner: User, storage: S3Storage, filename: str) -> PresignedPost:
    """A form the browser posts one file with straight to the bucket, under the owner's prefix only."""
    key = f"{_user_prefix(owner)}{uuid.uuid4().hex}/{_safe_name(filename)}"
    client = storage.connection.meta.client
    # The policy pins the exact key and the size: S3 refuses any other key, an empty file or one
    # over MAX_UPLOAD_BYTES, so the limit holds although the bytes never pass through the site.
    presigned = client.generate_presigned_post(
        Bucket=storage.bucket_name,
        Key=key,
        Conditions=[["content-length-range", 1, settings.MAX_UPLOAD_BYTES]],
        ExpiresIn=PRESIGN_EXPIRES_SECONDS,
    )
    return PresignedPost(url=presigned["url"], fields=dict(presigned["fields"]), key=key)


def bucket_cors_set(*, storage: S3Storage, origins: list[str]) -> dict[str, Any]:
    """Let these origins' pages send the gallery's preflighted upload to the bucket and read its answer (CORS).

    Replaces the bucket's CORS rules with this one: POST only (the presigned form), from these
    origins only; GETs of signed thumbnail URLs are <img> loads, which need no CORS.
    """
    rule = {
        "AllowedOrigins": origins,
        "AllowedMethods": ["POST"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag", "Location"],
        "MaxAgeSeconds": 3600,
    }
    client = storage.connection.meta.client
    client.put_bucket_cors(Bucket=storage.bucket_name, CORSConfiguration={"CORSRules": [rule]})
    return rule


def upload_complete(*, owner: User, storage: S3Storage, key: str) -> Image:
    """Record an object the browser put in the bucket and queue its checks and thumbnails.

    DirectUploadRefused if the key is not one of this owner's uploads, is missing, too large
    or already recorded. No bytes are read here: the worker checks them (image_make_thumbnails).
    """
    prefix = _user_prefix(owner)
    parts = key.split("/")
    if not key.startswith(prefix) or len(parts) != 4 or ".." in parts or not all(parts):
        raise DirectUploadRefused("That upload is not one of yours.")
    client = storage.connection.meta.client
    try:
        head = client.head_object(Bucket=storage.bucket_name, Key=key)
    except client.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            raise DirectUploadRefused("That upload did not reach the bucket; please try again.") from error
        raise
    size = int(head["ContentLength"])
    if not 0 < size <= settings.MAX_UPLOAD_BYTES:
        # S3's policy refuses such a file; one here came by other means and is of no use to anyone.
        client.delete_object(Bucket=storage.bucket_name, Key=key)
        raise DirectUploadRefused(f"The file must be between 1 byte and {settings.MAX_UPLOAD_BYTES} bytes.")
    try:
        with transaction.atomic():
            image = Image(owner=owner, token=secrets.token_hex(16), original_name=parts[-1][:255])
            # The object stays where the browser put it; the row names it, so it is no orphan.
            image.original.name = key
            image.save()
            claims.enqueue_on_commit(image)
    except IntegrityError:
        # The unique constraint on the key, not a check before the insert: two completes of one
        # key at once (a retried request, two tabs) would both pass a check. The loser's
        # transaction, and the job it would have queued, are rolled back.
        if Image.objects.filter(original=key).exists():
            raise DirectUploadRefused("That upload is already in your gallery.") from None
        raise
    return image


def upload_delete_orphans(*, storage: S3Storage, older_than: timedelta) -> list[str]:
    """Delete objects under uploads/ that no image names and that are older than the grace period.

    A browser that uploaded and then closed its tab never completes: its object would stay,
    unchecked and unbilled for, for ever. Younger objects may still be completed, so they stay.
    """
    client = storage.connection.meta.client
    cutoff = timezone.now() - older_than
    deleted: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=storage.bucket_name, Prefix=DIRECT_UPLOAD_PREFIX
    ):
        candidates = [item["Key"] for item in page.get("Contents", []) if item["LastModified"] < cutoff]
        if not candidates:
            continue
        recorded = set(Image.objects.filter(original__in=candidates).values_list("original", flat=True))
        orphans = [key for key in candidates if key not in recorded]
        for key in orphans:
            client.delete_object(Bucket=storage.bucket_name, Key=key)
        deleted += orphans
    if deleted:
        logger.info("deleted %d direct uploads never recorded", len(deleted))
    return deleted
