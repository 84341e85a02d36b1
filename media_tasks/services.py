"""The business logic: every change to users and images goes through these functions."""

from __future__ import annotations

import logging
import secrets
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from typing import Any, NoReturn

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from media_tasks import thumbnails, work
from media_tasks.models import Image, OutgoingEmail, Thumbnail, User

logger = logging.getLogger(__name__)

CONFIRMATION_SALT = "media_tasks.email-confirmation"


class ConfirmationLinkInvalid(Exception):
    """The link was tampered with, has expired, or belongs to an account that is gone."""


# --- Users ------------------------------------------------------------------------------


def user_signup(*, email: str, password: str, site_url: str) -> User:
    """Make an account for a new address, or tell the owner of a known one; the caller cannot tell which.

    Both ways hash the password and queue one email, so neither the answer nor its timing
    says whether the address has an account (account enumeration). Returns the account the
    email goes to.
    """
    email = User.objects.normalize_email(email)
    with transaction.atomic():
        existing = User.objects.filter(email__iexact=email).first()
        if existing is None:
            try:
                with transaction.atomic():
                    user = User.objects.create_user(email=email, password=password)
            except IntegrityError:
                # The same address signed up at the same moment: the other request made it.
                existing = User.objects.get(email__iexact=email)
            else:
                email_queue_confirmation(user=user, site_url=site_url)
                return user
        make_password(password)  # the work create_user does, so a known address answers as slowly
        email_queue_signup_attempt(user=existing, site_url=site_url)
        return existing


def user_confirmation_token(*, user: User) -> str:
    return signing.dumps({"user": user.pk, "email": user.email}, salt=CONFIRMATION_SALT)


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


# --- Emails -----------------------------------------------------------------------------


def _refused_for_good(error: BaseException) -> bool:
    """SMTP replies that will not change on a retry: the address or the message is refused."""
    if isinstance(error, (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPNotSupportedError)):
        return True
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def email_queue_confirmation(*, user: User, site_url: str) -> OutgoingEmail:
    return _email_queue(
        user=user,
        subject="Confirm your email address for Media tasks",
        template="confirm",
        context=_confirmation_context(user=user, site_url=site_url),
    )


def email_queue_signup_attempt(*, user: User, site_url: str) -> OutgoingEmail:
    """Tell the owner of an address that someone signed up with it again: log in, or confirm first."""
    context: dict[str, Any] = {"user": user, "login_link": _absolute(site_url, reverse("login"))}
    if not user.email_confirmed:
        context |= _confirmation_context(user=user, site_url=site_url)
    return _email_queue(
        user=user,
        subject="Someone tried to sign up to Media tasks with your address",
        template="signup_attempt",
        context=context,
    )


def _confirmation_context(*, user: User, site_url: str) -> dict[str, Any]:
    return {
        "user": user,
        "link": _absolute(site_url, reverse("confirm_email", args=[user_confirmation_token(user=user)])),
        "days": settings.EMAIL_CONFIRMATION_MAX_AGE // 86400,
    }


def _absolute(site_url: str, path: str) -> str:
    return (settings.SITE_URL or site_url).rstrip("/") + path


@transaction.atomic
def _email_queue(*, user: User, subject: str, template: str, context: dict[str, Any]) -> OutgoingEmail:
    email = OutgoingEmail.objects.create(
        user=user,
        to=user.email,
        subject=subject,
        body=render_to_string(f"media_tasks/email/{template}.txt", context),
        html_body=render_to_string(f"media_tasks/email/{template}.html", context),
    )
    transaction.on_commit(partial(work.enqueue, work.EMAILS, email.pk))
    return email


def _message_id(email: OutgoingEmail) -> str:
    domain = (settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost").strip(">")
    return f"<outgoingemail-{email.pk}-{int(email.created_at.timestamp())}@{domain}>"


def email_send(*, email: OutgoingEmail) -> OutgoingEmail:
    token = work.claim(work.EMAILS, email.pk)
    if token is None:
        logger.info("email %s is %s or being sent elsewhere; not sent again", email.pk, email.status)
        return email
    email.refresh_from_db()
    backend = get_connection()
    try:
        # One Message-ID per outbox row: if a worker dies after the SMTP server accepted the mail
        # but before the row says "sent", the retry resends the same message, which mail clients
        # show once. SMTP cannot do better than at-least-once.
        message = EmailMultiAlternatives(
            subject=email.subject,
            body=email.body,
            to=[email.to],
            headers={"Message-ID": _message_id(email)},
            connection=backend,
        )
        if email.html_body:
            message.attach_alternative(email.html_body, "text/html")
        message.send()
    except BaseException as error:
        if getattr(backend, "delivery_unconfirmed", False):
            _email_unconfirmed(email, token, error, timeout=backend.timeout)
        if _refused_for_good(error):
            work.give_up(work.EMAILS, email.pk, token, f"The SMTP server refused it: {error}")
        # Connection trouble, a timeout or a worker shutting down: rq retries the job.
        work.release(work.EMAILS, email.pk, token, error)
        raise
    fields: dict[str, Any] = {"status": OutgoingEmail.Status.SENT, "sent_at": timezone.now()}
    if email.unconfirmed_sends:
        fields["last_error"] = (
            f"Sent on attempt {email.attempts}; the server did not confirm an earlier attempt, "
            "which may have delivered it too (the same Message-ID, shown once by most mail clients)."
        )
    work.finish(work.EMAILS, email.pk, token, **fields)
    logger.info("sent email %s", email.pk)
    email.refresh_from_db()
    return email


# A message handed over but never confirmed may have been delivered; it is handed over once
# more at most, so a recipient gets at most this many copies.
MAX_UNCONFIRMED_SENDS = 2


def _email_unconfirmed(email: OutgoingEmail, token: str, error: BaseException, *, timeout: float | None) -> NoReturn:
    """The SMTP server had the whole message but never said whether it took it: an unknown outcome.

    Sending it again may deliver a second copy, and not sending it may lose it. It is retried,
    on the usual schedule, until it has been handed over MAX_UNCONFIRMED_SENDS times in all
    (failures before the hand-over cannot deliver a copy and do not count); then it ends
    "unconfirmed", which the admin's "Send again" can override.
    """
    cause = error.__cause__ or error.__context__
    if isinstance(error, TimeoutError) or isinstance(cause, TimeoutError):
        what = f"The SMTP server did not confirm delivery within {timeout} s"
    else:
        what = f"The SMTP server did not confirm delivery ({type(error).__name__}: {error})"
    sends = email.unconfirmed_sends + 1
    if sends >= MAX_UNCONFIRMED_SENDS:
        reason = (
            f"{what}, {sends} times; it may have delivered it. Not sent again, so that no more copies "
            f"arrive (Message-ID {_message_id(email)})."
        )
        work.give_up(
            work.EMAILS, email.pk, token, reason, status=OutgoingEmail.Status.UNCONFIRMED, unconfirmed_sends=sends
        )
    work.release(
        work.EMAILS,
        email.pk,
        token,
        error,
        last_error=f"{what}; it may have delivered it. It is sent once more, with the same Message-ID.",
        given_up_status=OutgoingEmail.Status.UNCONFIRMED,
        unconfirmed_sends=sends,
    )
    raise error


def email_send_again(*, email: OutgoingEmail) -> bool:
    """Send a failed or unconfirmed email again with fresh attempts; False if it is in neither state."""
    with transaction.atomic():
        if not work.reset(work.EMAILS, email.pk):
            return False
        transaction.on_commit(partial(work.enqueue, work.EMAILS, email.pk))
    email.refresh_from_db()
    return True


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
        written.append(image.original.name)
        image.save()
        transaction.on_commit(partial(work.enqueue, work.THUMBNAILS, image.pk))
    return image


def image_make_thumbnails(*, image: Image) -> Image:
    token = work.claim(work.THUMBNAILS, image.pk)
    if token is None:
        logger.info("image %s is %s or being processed elsewhere; nothing to do", image.pk, image.status)
        return image
    try:
        with image.original.open("rb") as source:
            rendered = thumbnails.render_thumbnails(source, settings.THUMBNAIL_SIZES)
    except thumbnails.UnreadableImage as error:
        return _image_failed(image, token, str(error))
    except (FileNotFoundError, ValueError):
        # ValueError: the FileField is empty because the original was already discarded.
        return _image_failed(image, token, "The original file is no longer stored.")
    except BaseException as error:
        # Storage or database trouble, or a worker shutting down: rq retries the job.
        work.release(work.THUMBNAILS, image.pk, token, error)
        raise

    with _stored_files_removed_on_error() as written, transaction.atomic():
        # Lock the row: if the claim lapsed and another run took over, this run writes nothing.
        if not Image.objects.select_for_update().filter(pk=image.pk, claim_token=token).exists():
            logger.warning("image %s was taken over by another run; discarding this one", image.pk)
            return image
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
        work.finish(
            work.THUMBNAILS,
            image.pk,
            token,
            status=Image.Status.READY,
            failure_reason="",
            last_error="",
            original=kept_original,
        )
        _delete_files_after_commit(discarded)
    image.refresh_from_db()
    logger.info("made %d thumbnails for image %s", len(rendered), image.pk)
    return image


def image_reprocess(*, image: Image) -> bool:
    """Make an image's thumbnails again from its original; False if the original was discarded."""
    if not image.original.name:
        return False
    with transaction.atomic():
        Image.objects.filter(pk=image.pk).update(
            status=Image.Status.PENDING,
            attempts=0,
            failure_reason="",
            last_error="",
            claim_token="",
            claimed_at=None,
            updated_at=timezone.now(),
        )
        transaction.on_commit(partial(work.enqueue, work.THUMBNAILS, image.pk))
    image.refresh_from_db()
    return True


def _image_failed(image: Image, token: str, reason: str) -> Image:
    # Bad data stays bad: fail now, with a reason a person can read, and do not retry.
    work.finish(work.THUMBNAILS, image.pk, token, status=Image.Status.FAILED, failure_reason=reason, last_error=reason)
    image.refresh_from_db()
    logger.warning("image %s failed: %s", image.pk, reason)
    return image


def work_sweep() -> dict[str, int]:
    return work.sweep().as_dict()


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
