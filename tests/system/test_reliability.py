"""Nothing lost: real worker processes, real signals, a Redis that goes away, duplicate deliveries.

The work is the test-only Chore (tests/workapp), so these promises hold without the demo.
Worker processes are started exactly as the Procfile starts them. The sweeper is the function
the schedule runs every minute; these tests call it more often so they finish quickly.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator

import django_rq
import pytest
from django.test import Client
from django.urls import reverse

from emails.models import OutgoingEmail
from tests.support import outbox
from tests.support.chores import queue_chore, slow, status_of
from tests.support.leases import LEASE_SECONDS
from tests.support.processes import Process, procfile_command, wait_until
from tests.workapp.models import Chore
from work import claims

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHORE_JOB_ID = claims.kind_of(Chore).job_id


@pytest.fixture
def start_worker(worker_env, short_lease) -> Iterator:
    """Start the Procfile's worker line (a pool of workers), as a worker dyno does; stopped after the test."""
    started: list[Process] = []

    def start(*, slow_seconds: float = 0, extra_env: dict[str, str] | None = None, burst: bool = False) -> Process:
        argv = procfile_command("worker") + (["--burst"] if burst else [])
        env = {**worker_env, **short_lease, **(slow(slow_seconds) if slow_seconds else {}), **(extra_env or {})}
        process = Process(argv, env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def test_a_chore_queued_after_its_commit_is_done_by_the_procfile_worker(start_worker):
    chore = queue_chore("dishes")

    worker = start_worker(burst=True)
    assert worker.popen.wait(60) == 0, worker.output()

    chore.refresh_from_db()
    assert (chore.status, chore.runs, chore.attempts) == ("done", 1, 1)


def test_sigterm_mid_job_hands_the_row_back_and_a_restarted_worker_finishes_it(start_worker):
    chore = queue_chore("interrupted")
    worker = start_worker(slow_seconds=20)
    wait_until(lambda: status_of(chore) == "doing", 30, "the worker to claim the chore")

    worker.signal_dyno(signal.SIGTERM)  # a dyno restart: every process of the dyno gets it
    assert worker.popen.wait(20) == 0, worker.output()

    assert "ShutDownImminentException" in worker.output()
    assert status_of(chore) == "pending"  # handed back, not lost
    assert chore.runs == 0
    start_worker()
    wait_until(lambda: status_of(chore) == "done", 60, "the retried job to finish")
    assert (chore.attempts, chore.runs) == (2, 1)


def test_sigkill_mid_job_leaves_a_claim_whose_lease_lapses_and_the_sweeper_requeues_it(start_worker):
    chore = queue_chore("killed")
    worker = start_worker(slow_seconds=60)
    wait_until(lambda: status_of(chore) == "doing", 30, "the worker to claim the chore")

    worker.signal_dyno(signal.SIGKILL)  # a crash or the out-of-memory killer: no goodbye
    worker.popen.wait(10)
    assert claims.sweep().requeued == 0  # the claim still holds until its lease lapses
    start_worker()

    def swept_and_done() -> bool:
        claims.sweep()
        return status_of(chore) == "done"

    wait_until(swept_and_done, LEASE_SECONDS + 60, "the sweeper to re-queue the abandoned chore", every=1)
    assert (chore.attempts, chore.runs) == (2, 1)


def test_work_and_signups_during_a_redis_outage_are_kept_and_done_once_the_sweeper_runs(
    own_redis, start_worker, smtp_server
):
    own_redis.stop()

    chore = queue_chore("during-outage")
    visitor = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})
    signup = visitor.post(reverse("signup"), {"email": "grace@example.com", "password": "correct-horse-battery"})

    assert signup.status_code == 302
    email = OutgoingEmail.objects.get(to="grace@example.com")
    assert (status_of(chore), email.status) == ("pending", OutgoingEmail.Status.PENDING)

    own_redis.start()
    report = claims.sweep()
    worker = start_worker(burst=True, extra_env={"REDIS_URL": own_redis.url, **smtp_server.env})
    assert worker.popen.wait(60) == 0, worker.output()

    assert report.requeued == 2
    assert (status_of(chore), chore.runs) == ("done", 1)
    email.refresh_from_db()
    assert email.status == OutgoingEmail.Status.SENT
    assert [m["To"] for m in smtp_server.wait_for_messages(1)] == ["grace@example.com"]


def test_two_runs_of_the_same_row_at_once_do_the_work_once(start_worker):
    chore = queue_chore("twice")
    # A second job for the same row under another id, as a duplicate delivery would be.
    django_rq.get_queue("default", commit_mode="auto").enqueue(claims.kind_of(Chore).job, chore.pk, job_id="duplicate")
    first, second = start_worker(slow_seconds=2, burst=True), start_worker(slow_seconds=2, burst=True)

    assert first.popen.wait(60) == 0 and second.popen.wait(60) == 0

    chore.refresh_from_db()
    assert (chore.status, chore.attempts, chore.runs) == ("done", 1, 1)
    assert "being done elsewhere" in first.output() + second.output()


def test_three_worker_dynos_do_every_row_once(start_worker):
    chores = [queue_chore(f"chore-{n}") for n in range(30)]
    workers = [start_worker(slow_seconds=0.3, burst=True) for _ in range(3)]

    for worker in workers:
        assert worker.popen.wait(120) == 0, worker.output()

    assert sum("Job OK" in w.output() for w in workers) >= 2  # the work was really shared
    done = Chore.objects.filter(pk__in=[c.pk for c in chores]).values_list("status", "attempts", "runs")
    assert sorted(set(done)) == [("done", 1, 1)]


def test_a_worker_grown_past_its_memory_limit_is_replaced_and_no_row_is_lost(start_worker):
    chores = [queue_chore(f"chore-{n}") for n in range(4)]
    # With a 1 MB limit every worker retires after its first job.
    worker = start_worker(extra_env={"WORKER_MAX_RSS_MB": "1"})

    for chore in chores:
        wait_until(lambda chore=chore: status_of(chore) == "done", 60, f"{chore} to be done")
        assert (chore.attempts, chore.runs) == (1, 1)
    assert worker.output().count("retiring so the pool starts a fresh one") >= 3, worker.output()
    assert worker.popen.poll() is None  # the dyno's process lives on; only its workers were replaced


def test_an_smtp_refusal_fails_the_email_at_once(user, smtp_server, start_worker):
    smtp_server.refuse("nobody@example.com")
    user.email = "nobody@example.com"
    email = outbox.queue_confirmation(user)

    worker = start_worker(burst=True, extra_env=smtp_server.env)
    assert worker.popen.wait(60) == 0, worker.output()

    email.refresh_from_db()
    assert email.status == OutgoingEmail.Status.FAILED
    assert "550" in email.last_error
    assert email.attempts == 1
    assert len(django_rq.get_queue("high").scheduled_job_registry) == 0  # not retried


def test_an_unreachable_smtp_server_is_retried_with_backoff(user, start_worker):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    email = outbox.queue_confirmation(user)

    worker = start_worker(burst=True, extra_env={"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(closed_port)})
    assert worker.popen.wait(60) == 0, worker.output()

    email.refresh_from_db()
    assert email.status == OutgoingEmail.Status.PENDING
    assert "ConnectionRefusedError" in email.last_error
    assert django_rq.get_queue("high").scheduled_job_registry.get_job_ids() == [
        claims.kind_of(OutgoingEmail).job_id(email.pk)
    ]
