"""When Redis misbehaves: a hung Redis must not hold the web for long, and a full or frozen one
must stop no process for good nor lose any work (sign-ups' emails, and the test-only Chore).

The full and frozen Redis tests run the Procfile's worker (which runs the schedule too) against
a redis-server of their own, with time compressed (tests/support/backend.py): a sweep every 5 s instead of a
minute, retries capped at 4 s instead of 30 s.
"""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse
from redis.exceptions import RedisError

from emails.models import OutgoingEmail
from queues import redis_client
from scheduling.scheduler import LEASE_KEY
from tests.support.backend import (
    PROCESSING_ALLOWANCE_SECONDS,
    SWEEP_SECONDS,
    assert_no_process_exited,
    health,
    visitor,
    wait_for_all_done_then_healthy,
    worker_dyno,
)
from tests.support.chores import queue_chore
from tests.support.processes import wait_until
from tests.workapp.models import Chore


@pytest.mark.django_db(transaction=True)
def test_a_signup_while_redis_hangs_answers_in_seconds_not_after_retries(client, settings, hung_redis):
    # The request's own work (hashing the password) is not what is measured here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    started = time.monotonic()
    response = client.post(reverse("signup"), {"email": "late@example.com", "password": "a-long-pass-42x"})
    elapsed = time.monotonic() - started

    # Stored and waiting; the sweeper queues its email once Redis answers again.
    assert response.status_code == 302
    assert OutgoingEmail.objects.get(to="late@example.com").status == OutgoingEmail.Status.PENDING
    # Two Redis calls (rate limit, enqueue) of at most TIMEOUT_SECONDS each, plus the request itself,
    # with slack for a busy machine: redis-py's default retries made such a request wait 10 s or more.
    assert elapsed < 2 * redis_client.TIMEOUT_SECONDS + 3.0, elapsed


# --- A Redis of the test's own, full or frozen, under the Procfile's worker ---------------------

# Long enough for several of the compressed heartbeat, retry and sweep cycles to pass. The
# acceptance's 60 s is run by the demo's version (its tests/system/test_redis_full_uploads.py), with
# uploads: doubling this one too would add half a minute of CI for no cycle it does not see.
FULL_SECONDS = 30
# The issue's own figure: a minute at maxmemory.
FULL_AT_MAXMEMORY_SECONDS = 60
FROZEN_SECONDS = 30


def chore_and_sign_up(n: int) -> float:
    """One chore queued (as a product's view would) and one sign-up through the web; returns the sign-up's seconds."""
    queue_chore(f"chore-{n}")
    started = time.monotonic()
    signed_up = visitor().post(reverse("signup"), {"email": f"user-{n}@example.com", "password": "a-long-pass-42x"})
    elapsed = time.monotonic() - started
    assert signed_up.status_code == 302
    return elapsed


def unfinished() -> int:
    chores_left = Chore.objects.exclude(status="done").count()
    emails_left = OutgoingEmail.objects.exclude(status=OutgoingEmail.Status.SENT).count()
    return chores_left + emails_left


@pytest.mark.soak
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_full_redis_stops_no_process_and_every_row_is_done_within_two_sweeps_of_freeing_it(
    client, own_redis, backend_env, smtp_server
):
    with worker_dyno(backend_env) as worker:
        wait_until(lambda: health(client)[0] == 200, 60, "a healthy start", every=0.5)

        own_redis.fill()
        full_since = time.monotonic()
        statuses: list[int] = []
        count = 0
        while time.monotonic() - full_since < FULL_SECONDS:
            chore_and_sign_up(count)
            count += 1
            status, body = health(client)
            statuses.append(status)
            assert status == 503 and "redis" in body["failing"], body
            time.sleep(0.5)

        # Nothing could be processed (every write is refused), and /healthz said so throughout.
        assert not Chore.objects.filter(status="done").exists()
        assert_no_process_exited(worker)

        own_redis.free()
        freed = time.monotonic()
        all_done, healthy = wait_for_all_done_then_healthy(
            client, unfinished, since=freed, what="every chore done and every email sent"
        )
        print(
            f"full {FULL_SECONDS} s, {count} chores and sign-ups; "
            f"all done {all_done:.1f} s and 200 {healthy:.1f} s after freeing"
        )

        assert Chore.objects.filter(status="done", runs=1).count() == count
        assert len(smtp_server.wait_for_messages(count)) == count
        assert_no_process_exited(worker)
        # The scheduler rode it out too: it logged the refusal and took the lease again after.
        assert any(
            "schedule: scheduler" in line and "Redis error OutOfMemoryError" in line
            for line in worker.output().splitlines()
        )


SWEEP_QUEUED = re.compile(r"schedule: queued schedule-sweep_stuck_work-(\d+) ")


@pytest.mark.soak
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_redis_at_its_maxmemory_is_503_whenever_an_enqueue_is_refused_and_loses_no_sweep(
    client, own_redis, backend_env
):
    # Filled to its maxmemory and left there, as a Redis full of its own traffic is: whenever a
    # key expires or a job is taken it takes a write or two, so a probe alone flaps.
    from tests.workapp.jobs import ping

    with worker_dyno(backend_env) as worker:
        wait_until(lambda: health(client)[0] == 200, 60, "a healthy start", every=0.5)

        own_redis.fill(hold=False)
        full_since, full_since_at = time.monotonic(), time.time()
        polls: list[tuple[bool, int]] = []
        while time.monotonic() - full_since < FULL_AT_MAXMEMORY_SECONDS:
            try:
                ping.delay(len(polls))
                refused = False
            except RedisError:
                refused = True
            polls.append((refused, health(client)[0]))
            time.sleep(0.5)
        own_redis.free()
        freed, freed_at = time.monotonic(), time.time()
        wait_until(lambda: health(client)[0] == 200, 10, "a 200 within 10 s of freeing", every=0.2)
        healthy = time.monotonic() - freed
        time.sleep(2 * SWEEP_SECONDS)
        refusals = sum(refused for refused, _ in polls)
        print(
            f"{FULL_AT_MAXMEMORY_SECONDS} s at maxmemory: {refusals} of {len(polls)} enqueues refused, "
            f"/healthz 503 {sum(status == 503 for _, status in polls)} times; 200 {healthy:.1f} s after freeing"
        )

        assert refusals, "the fill refused no enqueue: nothing was tested"
        assert [status for refused, status in polls if refused] == [503] * refusals
        # Every sweep slot from before the fill to after it queued exactly once: those due while
        # Redis refused writes when it took them again.
        slots = [int(slot) for slot in SWEEP_QUEUED.findall(worker.output())]
        assert len(slots) == len(set(slots)), slots
        assert slots == list(range(slots[0], slots[-1] + SWEEP_SECONDS, SWEEP_SECONDS)), slots
        assert slots[0] < full_since_at and slots[-1] >= freed_at, (full_since_at, freed_at, slots)
        assert_no_process_exited(worker)


@pytest.mark.soak
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_frozen_redis_holds_no_signup_over_two_seconds_and_all_is_done_after_it_thaws(
    client, own_redis, backend_env, smtp_server
):
    with worker_dyno(backend_env) as worker:
        wait_until(lambda: health(client)[0] == 200, 60, "a healthy start", every=0.5)

        own_redis.freeze()
        frozen_since = time.monotonic()
        signup_seconds: list[float] = []
        while time.monotonic() - frozen_since < FROZEN_SECONDS:
            signup_seconds.append(chore_and_sign_up(len(signup_seconds)))
            assert health(client)[0] == 503
            time.sleep(0.5)
        own_redis.thaw()
        thawed = time.monotonic()

        all_done, _ = wait_for_all_done_then_healthy(
            client, unfinished, since=thawed, what="every chore done and every email sent", slack_seconds=30
        )
        count = len(signup_seconds)
        print(
            f"frozen {FROZEN_SECONDS} s, {count} sign-ups, longest {max(signup_seconds):.2f} s; "
            f"all done {all_done:.1f} s after the thaw"
        )

        # The acceptance's bound: two Redis calls of TIMEOUT_SECONDS each and the request itself.
        assert max(signup_seconds) < 2, signup_seconds
        assert Chore.objects.filter(status="done", runs=1).count() == count
        assert len(smtp_server.wait_for_messages(count)) == count
        assert_no_process_exited(worker)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_flushall_while_the_schedule_and_work_run_loses_nothing_and_the_lease_is_taken_again(
    client, own_redis, backend_env, smtp_server
):
    # No clock: the worker dyno's own scheduler queues the sweeper (every 5 s here).
    with worker_dyno(backend_env) as worker:
        wait_until(lambda: health(client)[0] == 200, 60, "a healthy start", every=0.5)
        count = 0
        for _ in range(10):
            chore_and_sign_up(count)
            count += 1

        own_redis.client.flushall()  # the queued jobs, the lease, the schedule's records: all gone
        flushed = time.monotonic()
        wait_until(lambda: own_redis.client.get(LEASE_KEY), 10, "the lease to be taken again", every=0.05)
        retaken = time.monotonic() - flushed
        for _ in range(10):
            chore_and_sign_up(count)
            count += 1
        wait_until(
            lambda: unfinished() == 0,
            2 * SWEEP_SECONDS + PROCESSING_ALLOWANCE_SECONDS,
            "every chore done and every email sent",
            every=0.5,
        )
        all_done = time.monotonic() - flushed
        print(
            f"FLUSHALL: lease taken again after {retaken:.1f} s; {count} chores and emails done {all_done:.1f} s after"
        )

        assert Chore.objects.filter(status="done", runs=1).count() == count
        assert len(smtp_server.wait_for_messages(count)) == count
        assert worker.output().count("schedule: lease taken") == 2
        assert_no_process_exited(worker)
