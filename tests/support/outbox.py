"""The outbox row a message became (emails/outbox.py names it on the message)."""

from __future__ import annotations

from django.core.mail import EmailMessage

from emails.models import OutgoingEmail


def row_of(message: EmailMessage) -> OutgoingEmail:
    return OutgoingEmail.objects.get(pk=message.outbox_id)  # type: ignore[attr-defined]


def queue_confirmation(user, site_url: str = "https://example.herokuapp.com/") -> OutgoingEmail:
    """A confirmation email for `user`, written to the outbox (and queued after the commit)."""
    from accounts import services

    return row_of(services.email_queue_confirmation(user=user, site_url=site_url))


# The default retry schedule's shape (each wait longer than the last), in seconds instead of hours.
FAST_SCHEDULE = (1, 2, 4, 8, 16, 32, 64)


def schedule_env(schedule: tuple[int, ...]) -> dict[str, str]:
    """EMAIL_RETRY_SCHEDULE for a worker process's environment."""
    return {"EMAIL_RETRY_SCHEDULE": ",".join(map(str, schedule))}
