"""When the SMTP server answers again after an outage, the emails waiting on a retry go within a minute.

Real worker processes (the Procfile's worker, its schedule running the sweeper) and a real
SMTP server (tests/support/smtp.py) that is stopped for the equivalent of 5 minutes.

Time is compressed by 4, the least that keeps this test to about two and a half minutes, and
applied alike to everything the outcome depends on: the retry schedule (production's 30 s,
2, 10 and 30 min... becomes 7 s, 30 s, 150 s, 450 s...), the outage (5 min becomes 75 s) and
the sweep (every minute becomes every 15 s). As in production, the emails have had 3 attempts
when the server returns and wait on the 10-minute step, here 150 s, whose retries come about
two minutes after the server is back: more than twice the 60 s this test allows. What is not
compressed is the 60 s bound itself, and the sending.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import django_rq
import pytest

from emails.models import OutgoingEmail
from tests.support import outbox
from tests.support.processes import Process, procfile_command, wait_until
from work import claims

SITE = "https://example.herokuapp.com/"
SCALE = 4
PRODUCTION_SCHEDULE = (30, 120, 600, 1800, 3600, 10800, 21600)
SCHEDULE = tuple(seconds // SCALE for seconds in PRODUCTION_SCHEDULE)  # (7, 30, 150, 450, ...)
OUTAGE_SECONDS = 5 * 60 / SCALE
SWEEP_SECONDS = 60 // SCALE
BACKLOG_BOUND_SECONDS = 60


@pytest.fixture
def worker(worker_env, settings, smtp_server) -> Iterator[Process]:
    # The process that queues an email builds its rq Retry from the schedule; the worker counts attempts.
    settings.EMAIL_RETRY_SCHEDULE = SCHEDULE
    env = {
        **worker_env,
        **smtp_server.env,
        "EMAIL_RETRY_SCHEDULE": ",".join(map(str, SCHEDULE)),
        "SWEEP_INTERVAL_SECONDS": str(SWEEP_SECONDS),
    }
    smtp_server.stop()
    process = Process(procfile_command("worker"), env)
    yield process
    process.stop()


def confirmations(django_user_model, names: range) -> list[OutgoingEmail]:
    users = [
        django_user_model.objects.create_user(email=f"person{n}@example.com", password="a-long-passphrase-42")
        for n in names
    ]
    return [outbox.queue_confirmation(user, SITE) for user in users]


def rows(emails: list[OutgoingEmail]) -> list[OutgoingEmail]:
    return list(OutgoingEmail.objects.filter(pk__in=[email.pk for email in emails]).order_by("pk"))


@pytest.mark.soak
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_backlog_of_an_smtp_outage_is_delivered_once_within_a_minute_of_the_server_answering(
    django_user_model, smtp_server, worker
):
    down = time.monotonic()
    emails = confirmations(django_user_model, range(6))
    time.sleep(20)
    emails += confirmations(django_user_model, range(6, 9))  # some arrive during the outage
    wait_until(
        lambda: all(row.attempts >= 3 and row.status == "pending" for row in rows(emails)),
        OUTAGE_SECONDS + 30,
        "three attempts each during the outage",
        every=0.5,
    )
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down)))
    high = django_rq.get_queue("high")
    retries_at = [
        high.scheduled_job_registry.get_scheduled_time(claims.kind_of(OutgoingEmail).job_id(row.pk)).timestamp()
        for row in rows(emails)
    ]
    assert all(row.status == "pending" and "ConnectionRefusedError" in row.last_error for row in rows(emails))

    smtp_server.start()
    back, back_at = time.monotonic(), time.time()
    # Their scheduled retries would come too late: the bound below is met only by bringing them forward.
    assert min(retries_at) - back_at > BACKLOG_BOUND_SECONDS + 30

    wait_until(
        lambda: all(row.status == OutgoingEmail.Status.SENT for row in rows(emails)),
        BACKLOG_BOUND_SECONDS,
        f"every waiting email sent within {BACKLOG_BOUND_SECONDS} s of the server answering",
        every=0.5,
    )
    delivered_after = time.monotonic() - back

    sent = rows(emails)
    assert set(smtp_server.copies("Message-ID").values()) == {1}
    assert smtp_server.copies("To") == {f"person{n}@example.com": 1 for n in range(9)}
    assert len(smtp_server.messages) == 9
    assert [row.last_error for row in sent] == [""] * 9  # the outage's error is gone with it
    assert [row.attempts for row in sent] == [4] * 9
    print(
        f"\nbacklog: {len(sent)} emails, their retries due {min(retries_at) - back_at:.0f}-"
        f"{max(retries_at) - back_at:.0f} s after SMTP returned; all delivered {delivered_after:.1f} s after it"
    )


# --- How the retries are brought forward (in-process) ---------------------------------------


@pytest.fixture
def waiting(django_user_model, settings) -> list[OutgoingEmail]:
    """Five emails out of an outage, each waiting on a retry an hour away, the last one just failed."""
    from datetime import UTC, datetime, timedelta

    from django.utils import timezone

    settings.EMAIL_RETRY_SCHEDULE = (30, 3600)
    emails = confirmations(django_user_model, range(5))
    high = django_rq.get_queue("high")
    high.empty()
    kind = claims.kind_of(OutgoingEmail)
    for email in emails:
        high.enqueue_at(datetime.now(UTC) + timedelta(hours=1), kind.job, email.pk, job_id=kind.job_id(email.pk))
    OutgoingEmail.objects.update(
        attempts=2, last_error="ConnectionRefusedError", updated_at=timezone.now() - timedelta(minutes=5)
    )
    OutgoingEmail.objects.filter(pk=emails[-1].pk).update(updated_at=timezone.now())
    return emails


def queued_ids() -> list[str]:
    return django_rq.get_queue("high").get_job_ids()


@pytest.mark.django_db
def test_retries_are_brought_forward_oldest_first_a_few_at_a_time(waiting):
    kind = claims.kind_of(OutgoingEmail)
    high = django_rq.get_queue("high")

    assert claims.retry_waiting_now(kind, batch=2) == 2
    assert queued_ids() == [kind.job_id(email.pk) for email in waiting[:2]]
    assert claims.retry_waiting_now(kind, batch=2) == 0  # the queue is full enough: no burst
    high.empty()
    assert claims.retry_waiting_now(kind, batch=2) == 2
    assert queued_ids() == [kind.job_id(email.pk) for email in waiting[2:4]]
    high.empty()
    # The last failed a moment ago, less than the schedule's first wait: it keeps its schedule.
    assert claims.retry_waiting_now(kind, batch=2) == 0
    assert kind.job_id(waiting[-1].pk) in high.scheduled_job_registry


@pytest.mark.django_db
def test_the_sweeper_brings_retries_forward_only_when_the_smtp_server_answers(waiting, settings, smtp_server):
    settings.MAILERS = {
        **settings.MAILERS,
        "delivery": {
            "BACKEND": "emails.mail.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_server.port, "timeout": 2},
        },
    }
    smtp_server.stop()
    assert claims.sweep().retried_now == 0
    assert queued_ids() == []

    smtp_server.start()
    assert claims.sweep().retried_now == 4
    assert smtp_server.messages == []  # a connection, not a message
