"""Accounts: sign-up, the confirmation link, password reset, and the clean-up of accounts never confirmed."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Retry

from accounts import conf
from accounts.models import User
from accounts.signals import users_deleting
from queues import redis_client
from work import claims

logger = logging.getLogger(__name__)

CONFIRMATION_SALT = "accounts.email-confirmation"


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
        data = signing.loads(token, salt=CONFIRMATION_SALT, max_age=conf.EMAIL_CONFIRMATION_MAX_AGE())
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
        # Apps whose rows go with an account (uploads, say) remove what the database
        # cascade cannot: their stored files.
        users_deleting.send(sender=User, users=stale)
        count = stale.count()
        stale.delete()
    logger.info("deleted %d accounts unconfirmed for %s", count, older_than)
    return count


# --- Password reset -----------------------------------------------------------------------


def password_reset_request(*, email: str, domain: str, use_https: bool) -> None:
    """Ask for a reset link for whatever address was typed; the request cannot tell whether it has an account.

    Known or not, the request does the same work: one job queued with the address
    (accounts.jobs.send_password_reset), nothing read or written in the database. The worker
    looks the address up and, for an account, writes the reset email to the outbox, which
    delivers it like any other email. Doing the look-up and the outbox write in the request made
    a known address answer measurably slower (a 7 ms median against 5 ms), which tells anyone
    who asks that it has an account.

    Trade-off, so that nothing is lost: if Redis does not take the job (down, full, hung: the
    web's client gives up within a second), the request does the worker's part itself. The
    person gets the reset email (the outbox row waits for the sweeper, which queues it once Redis
    is back) and the page is no 500; only then, during a Redis outage, does a known address
    answer more slowly than an unknown one again. A job Redis took but then lost (flushed before
    a worker took it) sends nothing, as no row records it: the person asks again, as one does
    when no email comes. A durable row for every request would close that gap, at the cost of
    keeping every address anyone types.
    """
    try:
        redis_client.queue("high").enqueue(
            "accounts.jobs.send_password_reset",
            email,
            domain,
            use_https,
            # The worker's database down for a moment is not the end of the reset.
            retry=Retry(max=3, interval=[10, 60, 300]),
            # Keeps the address someone typed no longer in Redis than needed.
            result_ttl=0,
            failure_ttl=claims.FAILURE_TTL,
        )
    except RedisError as error:
        logger.warning("could not queue a password reset; sending it from the request: %s", error)
        password_reset_send(email=email, domain=domain, use_https=use_https)


class _PasswordResetForm(PasswordResetForm):
    """Django's reset email, but a message the outbox cannot write raises instead of being logged away.

    Django's form logs any failure to send and carries on; here the "sending" is the outbox
    write, and a job that raises is retried.
    """

    sent = 0

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        message = EmailMultiAlternatives(
            subject, render_to_string(email_template_name, context), from_email, [to_email]
        )
        if html_email_template_name is not None:
            message.attach_alternative(render_to_string(html_email_template_name, context), "text/html")
        message.send()
        self.sent += 1


def password_reset_send(*, email: str, domain: str, use_https: bool) -> int:
    """Write a reset email to the outbox for each active account with this address; how many were written.

    Django's PasswordResetForm decides who gets one (an active account whose password is
    usable) and what it says. `domain` and `use_https` are the asking request's, for the link.
    """
    form = _PasswordResetForm({"email": email})
    if not form.is_valid():
        return 0
    with transaction.atomic():
        form.save(
            domain_override=domain,
            use_https=use_https,
            subject_template_name="accounts/email/password_reset_subject.txt",
            email_template_name="accounts/email/password_reset.txt",
            html_email_template_name="accounts/email/password_reset.html",
            # The product's name, not the request's host (which is the domain).
            extra_email_context={"site_name": settings.SITE_NAME},
        )
    return form.sent


# --- Emails -----------------------------------------------------------------------------


def email_queue_confirmation(*, user: User, site_url: str) -> EmailMessage:
    return _email_queue(
        user=user,
        subject=f"Confirm your email address for {settings.SITE_NAME}",
        template="confirm",
        context=_confirmation_context(user=user, site_url=site_url),
    )


def email_queue_signup_attempt(*, user: User, site_url: str) -> EmailMessage:
    """Tell the owner of an address that someone signed up with it again: log in, or confirm first."""
    context: dict[str, Any] = {"user": user, "login_link": _absolute(site_url, reverse("login"))}
    if not user.email_confirmed:
        context |= _confirmation_context(user=user, site_url=site_url)
    return _email_queue(
        user=user,
        subject=f"Someone tried to sign up to {settings.SITE_NAME} with your address",
        template="signup_attempt",
        context=context,
    )


def _confirmation_context(*, user: User, site_url: str) -> dict[str, Any]:
    return {
        "user": user,
        "link": _absolute(site_url, reverse("confirm_email", args=[user_confirmation_token(user=user)])),
        "days": conf.EMAIL_CONFIRMATION_MAX_AGE() // 86400,
    }


def _absolute(site_url: str, path: str) -> str:
    return (conf.SITE_URL() or site_url).rstrip("/") + path


def _email_queue(*, user: User, subject: str, template: str, context: dict[str, Any]) -> EmailMessage:
    # Through EMAIL_BACKEND, the outbox: a row in this transaction, delivered after the commit.
    # Rendered without a request, so the context processors' site_name is given here.
    context = {"site_name": settings.SITE_NAME, **context}
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string(f"accounts/email/{template}.txt", context), to=[user.email]
    )
    message.attach_alternative(render_to_string(f"accounts/email/{template}.html", context), "text/html")
    message.send()
    return message
