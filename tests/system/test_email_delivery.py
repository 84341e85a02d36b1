"""Email delivery through SMTP trouble, and the operator's remedies, with the Procfile's worker.

Real worker processes (started as the Procfile starts them) send to a real SMTP server
(tests/support/smtp.py) that goes down and comes back, or answers DATA late. Time is
compressed through settings: EMAIL_RETRY_SCHEDULE in seconds instead of minutes and hours,
EMAIL_TIMEOUT of 2 s instead of 10.
"""

from __future__ import annotations

import time

import django_rq
import pytest
from django.urls import reverse

from emails.models import OutgoingEmail
from tests.support import outbox
from tests.support.dashboard import DASHBOARD, queue_index
from tests.support.outbox import schedule_env
from tests.support.processes import wait_until
from work import claims

SITE = "https://example.herokuapp.com/"


def queue_confirmations(django_user_model, count: int) -> list[OutgoingEmail]:
    users = [
        django_user_model.objects.create_user(email=f"person{n}@example.com", password="a-long-passphrase-42")
        for n in range(count)
    ]
    return [outbox.queue_confirmation(user, SITE) for user in users]


def rows(emails: list[OutgoingEmail]) -> list[OutgoingEmail]:
    return list(OutgoingEmail.objects.filter(pk__in=[email.pk for email in emails]).order_by("pk"))


@pytest.mark.soak
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_emails_sent_during_an_smtp_outage_are_delivered_once_when_it_returns(
    django_user_model, smtp_server, start_worker
):
    smtp_server.stop()
    emails = queue_confirmations(django_user_model, 5)
    start_worker(extra_env=smtp_server.env)

    # Five attempts fall inside the outage: with the old schedule (5 in all) that was the end.
    wait_until(
        lambda: all(row.attempts >= 5 for row in rows(emails)), 120, "five attempts each during the outage", every=0.5
    )
    during = rows(emails)
    assert {row.status for row in during} <= {OutgoingEmail.Status.PENDING, OutgoingEmail.Status.SENDING}
    assert all("ConnectionRefusedError" in row.last_error for row in during if row.status == "pending")
    smtp_server.start()
    back = time.monotonic()

    wait_until(
        lambda: all(row.status == OutgoingEmail.Status.SENT for row in rows(emails)), 180, "every email sent", every=0.5
    )
    delivered_after = time.monotonic() - back

    sent = rows(emails)
    assert set(smtp_server.copies("Message-ID").values()) == {1}
    assert smtp_server.copies("To") == {f"person{n}@example.com": 1 for n in range(5)}
    assert not OutgoingEmail.objects.filter(status=OutgoingEmail.Status.FAILED).exists()
    attempts = sorted(row.attempts for row in sent)
    print(f"\noutage: attempts per email {attempts}; all delivered {delivered_after:.1f} s after SMTP returned")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_server_that_never_confirms_in_time_gets_at_most_two_copies_and_the_row_says_so(
    django_user_model, smtp_server, start_worker
):
    smtp_server.delay_data_reply(8)
    [email] = queue_confirmations(django_user_model, 1)
    start_worker(extra_env={**smtp_server.env, "EMAIL_TIMEOUT": "2"})

    wait_until(lambda: rows([email])[0].status == OutgoingEmail.Status.UNCONFIRMED, 120, "the email to end unconfirmed")

    row = rows([email])[0]
    assert smtp_server.copies("To") == {"person0@example.com": 2}
    assert len(smtp_server.copies("Message-ID")) == 1  # both copies are the same message
    assert (row.attempts, row.unconfirmed_sends) == (2, 2)
    assert "did not confirm delivery within 2 s" in row.last_error
    assert "may have delivered it" in row.last_error
    queue = django_rq.get_queue("high")
    # rq parks the job just after the run wrote the row's last words. Requeue would send it again.
    job_id = claims.kind_of(OutgoingEmail).job_id(email.pk)
    wait_until(lambda: job_id in queue.failed_job_registry.get_job_ids(), 15, "the job to be parked in the failed list")
    assert len(queue.scheduled_job_registry) == 0 and queue.count == 0  # and nothing else will
    print(f"\nslow server: {len(smtp_server.messages)} copies; row: {row.get_status_display()}: {row.last_error}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_unconfirmed_send_is_tried_once_more_and_a_confirmed_retry_marks_it_sent(
    django_user_model, smtp_server, start_worker
):
    smtp_server.delay_data_reply(8)
    [email] = queue_confirmations(django_user_model, 1)
    start_worker(extra_env={**smtp_server.env, "EMAIL_TIMEOUT": "2"})
    wait_until(lambda: rows([email])[0].unconfirmed_sends == 1, 60, "the first send to go unconfirmed")
    smtp_server.delay_data_reply(0)

    wait_until(lambda: rows([email])[0].status == OutgoingEmail.Status.SENT, 60, "the retry to be confirmed")

    row = rows([email])[0]
    assert smtp_server.copies("To") == {"person0@example.com": 2}
    assert len(smtp_server.copies("Message-ID")) == 1
    assert "may have delivered it too" in row.last_error


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_timeouts_before_the_message_is_handed_over_are_ordinary_retries(django_user_model, start_worker):
    import socket

    # A server that accepts connections and never greets: the wait times out while connecting.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        [email] = queue_confirmations(django_user_model, 1)
        start_worker(extra_env={"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port), "EMAIL_TIMEOUT": "1"})

        wait_until(lambda: rows([email])[0].attempts >= 3, 60, "three attempts")

    row = rows([email])[0]
    assert row.unconfirmed_sends == 0
    assert row.status in {OutgoingEmail.Status.PENDING, OutgoingEmail.Status.SENDING}
    assert "may have delivered" not in row.last_error


def fail_for_good_while_smtp_is_down(emails: list[OutgoingEmail], start_worker, smtp_server) -> None:
    """Run out every email's attempts (3 here) against a stopped SMTP server: the issue's failed rows."""
    worker = start_worker(extra_env={**smtp_server.env, **schedule_env((1, 1))})
    wait_until(lambda: all(row.status == OutgoingEmail.Status.FAILED for row in rows(emails)), 60, "the emails to fail")
    worker.stop()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_send_again_in_the_admin_delivers_a_failed_email(
    client, superuser, django_user_model, settings, smtp_server, start_worker
):
    settings.EMAIL_RETRY_SCHEDULE = (1, 1)
    smtp_server.stop()
    [email] = queue_confirmations(django_user_model, 1)
    fail_for_good_while_smtp_is_down([email], start_worker, smtp_server)
    assert "Gave up after 3 attempts" in rows([email])[0].last_error
    smtp_server.start()
    client.force_login(superuser)

    response = client.post(
        reverse("admin:emails_outgoingemail_changelist"),
        {"action": "send_again", "_selected_action": [email.pk]},
        follow=True,
    )
    start_worker(extra_env=smtp_server.env)

    assert "Queued 1 emails to be sent again." in response.content.decode()
    wait_until(lambda: rows([email])[0].status == OutgoingEmail.Status.SENT, 60, "the email to be sent")
    assert smtp_server.copies("To") == {"person0@example.com": 1}
    assert rows([email])[0].attempts == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_requeue_all_in_the_dashboard_delivers_the_emails_an_outage_failed(
    client, superuser, django_user_model, settings, smtp_server, start_worker
):
    settings.EMAIL_RETRY_SCHEDULE = (1, 1)
    smtp_server.stop()
    emails = queue_confirmations(django_user_model, 3)
    fail_for_good_while_smtp_is_down(emails, start_worker, smtp_server)
    high = django_rq.get_queue("high")
    assert sorted(high.failed_job_registry.get_job_ids()) == sorted(
        claims.kind_of(OutgoingEmail).job_id(e.pk) for e in emails
    )
    smtp_server.start()
    client.force_login(superuser)

    response = client.post(f"{DASHBOARD}queues/{queue_index('high')}/requeue-all/")
    start_worker(extra_env=smtp_server.env)

    assert response.status_code == 302
    wait_until(
        lambda: all(row.status == OutgoingEmail.Status.SENT for row in rows(emails)), 60, "every email to be sent"
    )
    assert smtp_server.copies("To") == {f"person{n}@example.com": 1 for n in range(3)}
    assert [row.attempts for row in rows(emails)] == [1, 1, 1]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_requeue_in_the_dashboard_sends_an_email_the_server_refused_once_fixed(
    client, superuser, django_user_model, smtp_server, start_worker
):
    smtp_server.refuse("person0@example.com")
    [email] = queue_confirmations(django_user_model, 1)
    assert start_worker(extra_env=smtp_server.env, burst=True).wait(60) == 0
    assert rows([email])[0].status == OutgoingEmail.Status.FAILED
    smtp_server._collector.refused.clear()  # the operator fixed the mailbox
    client.force_login(superuser)

    job_id = claims.kind_of(OutgoingEmail).job_id(email.pk)
    response = client.post(f"{DASHBOARD}queues/{queue_index('high')}/{job_id}/requeue/", {"requeue": "Requeue"})
    assert start_worker(extra_env=smtp_server.env, burst=True).wait(60) == 0

    assert response.status_code == 302
    row = rows([email])[0]
    assert (row.status, row.attempts) == (OutgoingEmail.Status.SENT, 1)
    assert smtp_server.copies("To") == {"person0@example.com": 1}
