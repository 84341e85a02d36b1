"""The email job called directly with ids, as a worker would call it, and a given-up email's copies."""

from __future__ import annotations

import logging

import django_rq
import pytest
from django.core import mail

from emails import jobs
from emails.models import OutgoingEmail
from queues.config import SERIALIZER
from tests.support import outbox
from work import claims

pytestmark = pytest.mark.django_db


def queued_confirmation(user, site_url: str = "https://example.herokuapp.com/") -> OutgoingEmail:
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


# --- The rule that tells a requeue by hand from a stale duplicate (in-process worker) ------


def run_high_queue() -> None:
    worker = django_rq.get_worker("high", worker_class="rq.SimpleWorker", serializer=SERIALIZER)
    worker.work(burst=True)


@pytest.fixture
def given_up_email(user, settings, django_capture_on_commit_callbacks) -> OutgoingEmail:
    """An email whose worker died on its last attempt, given up by the sweeper: its job is parked."""
    email = queued_confirmation(user)
    django_rq.get_queue("high").empty()
    OutgoingEmail.objects.filter(pk=email.pk).update(
        attempts=claims.kind_of(OutgoingEmail).max_attempts(), last_error="OSError: x"
    )
    settings.WORK_STALE_SECONDS = 0
    claims.sweep()
    email.refresh_from_db()
    assert email.status == OutgoingEmail.Status.FAILED
    return email


@pytest.mark.django_db
def test_a_stale_copy_of_a_given_up_emails_job_does_not_send_it(given_up_email):
    queue = django_rq.get_queue("high", commit_mode="auto")
    job_id = claims.kind_of(OutgoingEmail).job_id(given_up_email.pk)
    queue.enqueue(claims.kind_of(OutgoingEmail).job, given_up_email.pk, job_id="a-copy")  # under another id
    queue.connection.rpush(queue.key, job_id)  # its own id, but the job is still parked

    run_high_queue()

    given_up_email.refresh_from_db()
    assert given_up_email.status == OutgoingEmail.Status.FAILED
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_given_up_emails_job_requeued_from_the_failed_registry_sends_it(given_up_email):
    queue = django_rq.get_queue("high")
    queue.failed_job_registry.requeue(claims.kind_of(OutgoingEmail).job_id(given_up_email.pk))

    run_high_queue()

    given_up_email.refresh_from_db()
    assert (given_up_email.status, given_up_email.attempts) == (OutgoingEmail.Status.SENT, 1)
    assert len(mail.outbox) == 1
