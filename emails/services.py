"""The outbox's services: send a row through the delivery backend, send it again."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import mailers
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from emails import outbox
from emails.models import OutgoingEmail
from work import claims, durable

logger = logging.getLogger(__name__)


def _refused_for_good(error: BaseException) -> bool:
    """SMTP replies that will not change on a retry: the address or the message is refused."""
    if isinstance(error, (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPNotSupportedError)):
        return True
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def _message_id(email: OutgoingEmail) -> str:
    domain = (settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost").strip(">")
    return f"<outgoingemail-{email.pk}-{int(email.created_at.timestamp())}@{domain}>"


def email_send(*, email: OutgoingEmail, run: durable.Run) -> None:
    """Hand the row, claimed by its durable job (emails/jobs.py), to the delivery backend."""
    backend = mailers["delivery"]
    try:
        # One Message-ID per outbox row: if a worker dies after the SMTP server accepted the mail
        # but before the row says "sent", the retry resends the same message, which mail clients
        # show once. SMTP cannot do better than at-least-once.
        outbox.message_of(email, connection=backend, message_id=_message_id(email)).send()
    except BaseException as error:
        if getattr(backend, "delivery_unconfirmed", False):
            raise _email_unconfirmed(email, error, timeout=getattr(backend, "timeout", None)) from error
        if _refused_for_good(error):
            raise durable.Permanent(f"The SMTP server refused it: {error}") from error
        # Connection trouble, a timeout or a worker shutting down: rq retries the job.
        raise
    # The last error belonged to an attempt that failed; a sent row has none (the admin shows
    # no history of errors, only this field).
    last_error = ""
    if email.unconfirmed_sends:
        last_error = (
            f"Sent on attempt {email.attempts}; the server did not confirm an earlier attempt, "
            "which may have delivered it too (the same Message-ID, shown once by most mail clients)."
        )
    with run.results(sent_at=timezone.now(), last_error=last_error):
        pass
    logger.info("sent email %s", email.pk)
    _email_backlog_forward()


def _email_backlog_forward() -> None:
    """The server just took a message: emails waiting on a retry need not wait out the schedule.

    After an outage the waiting emails' next attempts lie up to 10 min, 30 min, hours ahead
    (EMAIL_RETRY_SCHEDULE). Each successful send brings the oldest few forward, enough to fill
    the `high` queue to claims.RETRY_NOW_BATCH jobs; their own successes bring the next few, so
    the backlog goes as fast as the workers send it, oldest first, fresh emails interleaved.
    When no email is sent at all, the sweeper's check (email_delivery_answers) starts it.
    The send is done whatever happens here: a failure is only logged, and the retries keep
    their schedule.
    """
    try:
        claims.retry_waiting_now(claims.kind_of(OutgoingEmail))
    except RedisError as error:
        logger.warning("could not bring waiting emails forward; they keep their retry schedule: %s", error)
    except Exception:
        logger.exception("could not bring waiting emails forward; they keep their retry schedule")


def email_delivery_answers() -> bool:
    """Whether the delivery backend takes a connection now: the outbox's resume_check.

    The sweeper calls it (every minute) only while emails wait on a retry. Connecting and
    saying hello (and logging in, with credentials) without sending anything: True brings the
    waiting emails forward (claims.retry_waiting_now), so after an SMTP outage the backlog goes
    within about a minute of the server answering, rather than at its next scheduled retry.
    """
    try:
        with mailers["delivery"]:
            pass
    except Exception as error:
        logger.info("the SMTP server still does not answer; waiting emails keep their schedule: %s", error)
        return False
    return True


# A message handed over but never confirmed may have been delivered; it is handed over once
# more at most, so a recipient gets at most this many copies.
MAX_UNCONFIRMED_SENDS = 2


def _email_unconfirmed(
    email: OutgoingEmail, error: BaseException, *, timeout: float | None
) -> durable.Permanent | durable.Retry:
    """The SMTP server had the whole message but never said whether it took it: an unknown outcome.

    Sending it again may deliver a second copy, and not sending it may lose it. It is retried,
    on the usual schedule, until it has been handed over MAX_UNCONFIRMED_SENDS times in all
    (failures before the hand-over cannot deliver a copy and do not count); then it ends
    "unconfirmed", which the admin's "Send again" can override. Returns what the job raises.
    """
    cause = error.__cause__ or error.__context__
    if isinstance(error, TimeoutError) or isinstance(cause, TimeoutError):
        what = f"The SMTP server did not confirm delivery within {timeout} s"
    else:
        what = f"The SMTP server did not confirm delivery ({type(error).__name__}: {error})"
    sends = email.unconfirmed_sends + 1
    if sends >= MAX_UNCONFIRMED_SENDS:
        return durable.Permanent(
            f"{what}, {sends} times; it may have delivered it. Not sent again, so that no more copies "
            f"arrive (Message-ID {_message_id(email)}).",
            status=OutgoingEmail.Status.UNCONFIRMED,
            unconfirmed_sends=sends,
        )
    return durable.Retry(
        f"{what}; it may have delivered it. It is sent once more, with the same Message-ID.",
        given_up_status=OutgoingEmail.Status.UNCONFIRMED,
        unconfirmed_sends=sends,
    )


def email_send_again(*, email: OutgoingEmail) -> bool:
    """Send a failed or unconfirmed email again with fresh attempts; False if it is in neither state."""
    with transaction.atomic():
        if not claims.reset(claims.kind_of(OutgoingEmail), email.pk):
            return False
        claims.enqueue_on_commit(email)
    email.refresh_from_db()
    return True
