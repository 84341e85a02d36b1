"""The business logic: every change to users and images goes through these functions."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import django_rq
from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from media_tasks import thumbnails
from media_tasks.models import Image, Thumbnail, User

logger = logging.getLogger(__name__)

CONFIRMATION_SALT = "media_tasks.email-confirmation"


class ConfirmationLinkInvalid(Exception):
    """The link was tampered with, has expired, or belongs to an account that is gone."""


# --- Users ------------------------------------------------------------------------------


@transaction.atomic
def user_signup(*, email: str, password: str, site_url: str) -> User:
    user = User.objects.create_user(email=email, password=password)
    # django-rq defers this to the commit, so the worker always finds the row.
    django_rq.get_queue("high").enqueue("media_tasks.jobs.send_confirmation_email", user.id, site_url)
    return user


def user_confirmation_token(*, user: User) -> str:
    return signing.dumps({"user": user.pk, "email": user.email}, salt=CONFIRMATION_SALT)


def user_send_confirmation_email(*, user: User, site_url: str) -> None:
    base = (settings.SITE_URL or site_url).rstrip("/")
    link = base + reverse("confirm_email", args=[user_confirmation_token(user=user)])
    days = settings.EMAIL_CONFIRMATION_MAX_AGE // 86400
    send_mail(
        subject="Confirm your email address",
        message=(
            f"Welcome!\n\nOpen this link to confirm {user.email}:\n\n{link}\n\n"
            f"The link works for {days} days. If you did not sign up, ignore this email."
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    logger.info("sent confirmation email to user %s", user.pk)


def user_confirm_email(*, token: str) -> User:
    try:
        data = signing.loads(token, salt=CONFIRMATION_SALT, max_age=settings.EMAIL_CONFIRMATION_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ConfirmationLinkInvalid("This confirmation link has expired.") from exc
    except signing.BadSignature as exc:
        raise ConfirmationLinkInvalid("This confirmation link is not valid.") from exc
    user = User.objects.filter(pk=data["user"], email=data["email"]).first()
    if user is None:
        raise ConfirmationLinkInvalid("The account for this link no longer exists.")
    if user.email_confirmed_at is None:
        User.objects.filter(pk=user.pk, email_confirmed_at__isnull=True).update(email_confirmed_at=timezone.now())
        user.refresh_from_db()
    return user


def user_delete_unconfirmed(*, older_than: timedelta) -> int:
    cutoff = timezone.now() - older_than
    stale = User.objects.filter(
        email_confirmed_at__isnull=True, date_joined__lt=cutoff, is_staff=False, is_superuser=False
    )
    with transaction.atomic():
        images = Image.objects.filter(owner__in=stale)
        files = [*images.values_list("original", flat=True)]
        files += Thumbnail.objects.filter(image__in=images).values_list("file", flat=True)
        count = stale.count()
        stale.delete()
        _delete_files_after_commit(files)
    logger.info("deleted %d accounts unconfirmed for %s", count, older_than)
    return count


# --- Images -----------------------------------------------------------------------------


def image_create(*, owner: User, file: UploadedFile) -> Image:
    """Store an upload that the form has already checked, and queue its thumbnails."""
    info = thumbnails.inspect_image(file)
    with _stored_files_removed_on_error() as written, transaction.atomic():
        image = Image(
            owner=owner,
            token=secrets.token_hex(16),
            original_name=(file.name or "")[:255],
            width=info.width,
            height=info.height,
        )
        image.original.save(image.token, file, save=False)
        written.append(image.original.name)
        image.save()
        django_rq.get_queue("default").enqueue("media_tasks.jobs.make_thumbnails", image.id)
    return image


def image_make_thumbnails(*, image: Image) -> Image:
    claimed = Image.objects.filter(pk=image.pk, status__in=[Image.Status.PENDING, Image.Status.PROCESSING]).update(
        status=Image.Status.PROCESSING, updated_at=timezone.now()
    )
    if not claimed:
        logger.info("image %s is already %s; nothing to do", image.pk, image.status)
        return image
    try:
        with image.original.open("rb") as source:
            rendered = thumbnails.render_thumbnails(source, settings.THUMBNAIL_SIZES)
    except thumbnails.UnreadableImage as exc:
        return image_mark_failed(image=image, reason=str(exc))
    except (FileNotFoundError, ValueError):
        # ValueError: the FileField is empty because the original was already discarded.
        return image_mark_failed(image=image, reason="The original file is no longer stored.")

    with _stored_files_removed_on_error() as written, transaction.atomic():
        old_files = list(image.thumbnails.values_list("file", flat=True))
        image.thumbnails.all().delete()
        for thumb in rendered:
            name = f"thumbnails/{image.owner_id}/{image.token}-{thumb.size}.{thumb.extension}"
            stored = Thumbnail(image=image, size=thumb.size, width=thumb.width, height=thumb.height)
            stored.file.save(name, ContentFile(thumb.content), save=False)
            written.append(stored.file.name)
            stored.save()
        discarded = [name for name in old_files if name]
        kept_original = image.original.name
        if not settings.KEEP_ORIGINAL_UPLOADS:
            discarded.append(image.original.name)
            kept_original = ""
        Image.objects.filter(pk=image.pk).update(
            status=Image.Status.READY, failure_reason="", original=kept_original, updated_at=timezone.now()
        )
        _delete_files_after_commit(discarded)
    image.refresh_from_db()
    logger.info("made %d thumbnails for image %s", len(rendered), image.pk)
    return image


def image_mark_failed(*, image: Image, reason: str) -> Image:
    Image.objects.filter(pk=image.pk).update(
        status=Image.Status.FAILED, failure_reason=reason, updated_at=timezone.now()
    )
    image.refresh_from_db()
    logger.warning("image %s failed: %s", image.pk, reason)
    return image


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
