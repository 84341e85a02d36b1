"""Job functions called directly with ids, as a worker would call them."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts import jobs as account_jobs
from accounts.models import User
from emails import jobs
from emails.models import OutgoingEmail
from tests.support import outbox

pytestmark = pytest.mark.django_db


def queued_confirmation(user: User, site_url: str = "https://example.herokuapp.com/") -> OutgoingEmail:
    return outbox.queue_confirmation(user, site_url)


def test_email_job_sends_the_confirmation_link_and_records_it(user, settings):
    email = queued_confirmation(user)

    jobs.send_email(email.id)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    assert message.subject == f"Confirm your email address for {settings.SITE_NAME}"
    assert "https://example.herokuapp.com/confirm/" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert 'href="https://example.herokuapp.com/confirm/' in html
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutgoingEmail.Status.SENT, 1)
    assert email.sent_at is not None


def test_every_send_of_an_outbox_row_carries_the_same_message_id(user):
    email = queued_confirmation(user)

    jobs.send_email(email.id)
    OutgoingEmail.objects.filter(pk=email.pk).update(status=OutgoingEmail.Status.PENDING)  # as after a lost commit
    jobs.send_email(email.id)

    first, second = (message.message()["Message-ID"] for message in mail.outbox)
    assert first == second
    assert first.startswith(f"<outgoingemail-{email.pk}-")


def test_running_the_email_job_twice_sends_one_email(user):
    email = queued_confirmation(user)

    jobs.send_email(email.id)
    jobs.send_email(email.id)

    assert len(mail.outbox) == 1


def test_confirmation_email_uses_site_url_when_set(user, settings):
    settings.SITE_URL = "https://photos.example.com"

    jobs.send_email(queued_confirmation(user, "https://attacker.example/").id)

    assert "https://photos.example.com/confirm/" in mail.outbox[0].body


def test_email_job_for_a_deleted_row_ends_quietly(caplog):
    with caplog.at_level(logging.INFO, logger="queues.joblog"):
        jobs.send_email(424242)

    assert mail.outbox == []
    assert "email 424242 is gone" in caplog.text


def test_cleanup_deletes_only_old_unconfirmed_accounts(
    django_user_model, settings, user, django_capture_on_commit_callbacks
):
    settings.UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS = 7
    old = timezone.now() - timedelta(days=8)
    stale = django_user_model.objects.create_user(email="stale@example.com", password="p-long-passphrase-1")
    confirmed = django_user_model.objects.create_user(
        email="kept@example.com", password="p-long-passphrase-2", email_confirmed_at=old
    )
    staff = django_user_model.objects.create_user(
        email="ops@example.com", password="p-long-passphrase-3", is_staff=True
    )
    django_user_model.objects.filter(pk__in=[stale.pk, confirmed.pk, staff.pk]).update(date_joined=old)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = account_jobs.delete_unconfirmed_accounts()

    assert deleted == 1
    remaining = set(django_user_model.objects.values_list("email", flat=True))
    assert remaining == {"ada@example.com", "kept@example.com", "ops@example.com"}
