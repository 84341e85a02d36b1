"""Direct uploads: the browser puts a file straight in the bucket, the site records it, a worker checks it."""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.utils import timezone
from storages.backends.s3 import S3Storage  # type: ignore[import-untyped]  # no types shipped

from accounts.models import User
from media_tasks.models import Image
from web import conf as web_conf
from work import claims

logger = logging.getLogger(__name__)

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
        Conditions=[["content-length-range", 1, web_conf.MAX_UPLOAD_BYTES()]],
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
    or already recorded. No bytes are read here: the worker checks them (image_lifecycle.image_make_thumbnails).
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
    if not 0 < size <= web_conf.MAX_UPLOAD_BYTES():
        # S3's policy refuses such a file; one here came by other means and is of no use to anyone.
        client.delete_object(Bucket=storage.bucket_name, Key=key)
        raise DirectUploadRefused(f"The file must be between 1 byte and {web_conf.MAX_UPLOAD_BYTES()} bytes.")
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
