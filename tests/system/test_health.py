"""/healthz while the Procfile's worker dynos idle, die or lose their Redis data: healthy while
they are, each fault named within its bound.

The tests run the Procfile's worker (its pool and its scheduler) against a Redis of their
own with time compressed (tests/support/backend.py): an idle worker's heartbeat every 5 s
instead of 45 s, the schedule's lease 5 s instead of 30 s.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from rq import worker_registration

from scheduling.scheduler import LEASE_KEY
from tests.support.backend import (
    COMPRESSED_ENV,
    COMPRESSED_HEALTH,
    HEARTBEAT_SECONDS,
    compress_health,
    health,
    worker_dyno,
)
from tests.support.chores import queue_chore
from tests.support.processes import Process, procfile_command, wait_until
from tests.support.redis_server import ThrowawayRedis

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def backend_env(worker_env, own_redis, settings) -> dict[str, str]:
    compress_health(settings)
    return {**worker_env, **COMPRESSED_ENV, "REDIS_URL": own_redis.url}


# Production's idle heartbeat (WORKER_TTL_SECONDS 60 - rq's 15) and the acceptance's idle spell.
PRODUCTION_HEARTBEAT_SECONDS = 45
IDLE_PRODUCTION_MINUTES = 10
# Heartbeat periods in that spell, rounded up: 14 of the compressed 5 s ones, 70 s here.
IDLE_HEARTBEAT_PERIODS = -(-IDLE_PRODUCTION_MINUTES * 60 // PRODUCTION_HEARTBEAT_SECONDS)


def heartbeats(own_redis: ThrowawayRedis) -> dict[str, str]:
    """Each registered worker's last heartbeat, as rq records it."""
    client = own_redis.client
    return {
        key.decode(): (client.hget(key.decode(), "last_heartbeat") or b"").decode()
        for key in client.smembers(worker_registration.REDIS_WORKER_KEYS)
    }


@pytest.mark.soak
@pytest.mark.slow
def test_idle_workers_stay_healthy_for_ten_minutes_of_production_heartbeats(client, own_redis, backend_env):
    # No sweep during the test (an interval entry fires once when it has no record): truly idle.
    env = {**backend_env, "SWEEP_INTERVAL_SECONDS": "3600"}
    with worker_dyno(env) as worker:
        wait_until(lambda: health(client)[0] == 200, 60, "the worker's first heartbeat and lease", every=0.5)
        # rq's own idle worker would have looked dead after one cycle of its 405 s wait; these must
        # beat on through ten minutes' worth of cycles, each renewing a record that would expire.
        started = time.monotonic()
        watch_until = started + IDLE_HEARTBEAT_PERIODS * HEARTBEAT_SECONDS
        oldest_heartbeat = 0.0
        seen: dict[str, set[str]] = {}
        while time.monotonic() < watch_until:
            status, body = health(client)
            assert status == 200, body
            oldest_heartbeat = max(oldest_heartbeat, body["workers"]["last_heartbeat_seconds_ago"])
            for name, stamp in heartbeats(own_redis).items():
                seen.setdefault(name, set()).add(stamp)
            time.sleep(1)
        watched = time.monotonic() - started
        periods = watched / HEARTBEAT_SECONDS
        production_minutes = periods * PRODUCTION_HEARTBEAT_SECONDS / 60
        beats = sorted(len(stamps) for stamps in seen.values())
        print(
            f"idle for {periods:.1f} heartbeat periods of {HEARTBEAT_SECONDS} s ({watched:.0f} s), "
            f"{production_minutes:.1f} production minutes at {PRODUCTION_HEARTBEAT_SECONDS} s; "
            f"heartbeats seen per worker {beats}, oldest {oldest_heartbeat:.1f} s ago"
        )

        assert production_minutes >= IDLE_PRODUCTION_MINUTES
        assert oldest_heartbeat <= COMPRESSED_HEALTH["HEALTH_WORKER_MAX_AGE_SECONDS"]
        # Both of the pool's workers kept beating (a record rewritten each period, not once at start).
        assert len(beats) == 2 and beats[0] >= IDLE_HEARTBEAT_PERIODS - 2, beats
        assert worker.poll() is None

    status, body = health(client)  # its workers said goodbye on SIGTERM, its scheduler gave the lease back
    assert status == 503
    assert body["failing"] == ["workers", "schedule"]


@pytest.mark.slow
def test_after_a_flushall_idle_workers_are_never_named_and_are_seen_again_within_one_heartbeat(
    client, own_redis, backend_env
):
    with worker_dyno(backend_env):
        wait_until(lambda: health(client)[0] == 200, 60, "a healthy start", every=0.5)

        own_redis.client.flushall()
        flushed = time.monotonic()
        named: list[dict] = []

        def both_registered_again() -> bool:
            _, body = health(client)
            if "workers" in body["failing"]:
                named.append(body)
            return own_redis.client.scard("rq:workers") == 2

        # Both workers of the pool re-register, each at its own next heartbeat; until then
        # their heartbeats from before the flush stand for them.
        wait_until(both_registered_again, 4 * HEARTBEAT_SECONDS, "both workers to re-register", every=0.2)
        registered = time.monotonic() - flushed
        wait_until(lambda: health(client)[0] == 200, 4 * HEARTBEAT_SECONDS, "a 200 again", every=0.2)
        print(
            f"both workers registered again {registered:.1f} s after FLUSHALL, 200 {time.monotonic() - flushed:.1f} s"
        )

        assert named == [], named[0]


def holder_pid(own_redis: ThrowawayRedis) -> int | None:
    lease = own_redis.client.get(LEASE_KEY)
    return json.loads(lease)["pid"] if lease else None


@pytest.mark.slow
def test_when_the_lease_holder_dies_another_worker_dyno_takes_the_schedule_within_the_lease(
    client, own_redis, backend_env
):
    dynos = [
        Process(procfile_command("worker"), {**backend_env, "DYNO": f"worker.{n}", "DATABASE_SSL_REQUIRE": "0"})
        for n in (1, 2)
    ]
    try:
        wait_until(lambda: health(client)[0] == 200, 60, "a healthy start", every=0.5)
        [holder] = [dyno for dyno in dynos if dyno.popen.pid == holder_pid(own_redis)]
        [other] = [dyno for dyno in dynos if dyno is not holder]

        holder.signal_dyno(signal.SIGKILL)  # a crash: no goodbye, the lease just expires
        killed = time.monotonic()
        wait_until(lambda: holder_pid(own_redis) == other.popen.pid, 30, "the other dyno to take the lease", every=0.1)
        moved = time.monotonic() - killed
        print(f"lease moved {moved:.1f} s after its holder died (lease {COMPRESSED_ENV['SCHEDULE_LEASE_SECONDS']} s)")

        assert moved <= float(COMPRESSED_ENV["SCHEDULE_LEASE_SECONDS"]) + 3
        body = health(client)[1]
        assert body["schedule"]["ok"] is True
        assert body["schedule"]["lease_holder"] == f"worker.{dynos.index(other) + 1}"
    finally:
        for dyno in dynos:
            dyno.stop()


@pytest.mark.slow
def test_dead_workers_with_jobs_waiting_are_named_within_the_heartbeat_bound(
    client, own_redis, backend_env, django_capture_on_commit_callbacks
):
    with worker_dyno(backend_env) as worker:
        wait_until(lambda: health(client)[0] == 200, 60, "a healthy start", every=0.5)

        worker.signal_dyno(signal.SIGKILL)  # the whole worker dyno, pool and workers
        killed = time.monotonic()
        # Until Redis has seen the dead workers' connections close, it could still hand the
        # job to a dead worker's BLPOP (the sweeper's case, not this test's).
        wait_until(lambda: own_redis.client.info("clients")["blocked_clients"] == 0, 10, "Redis to drop the workers")
        with django_capture_on_commit_callbacks(execute=True):
            queue_chore("stuck")
        body = wait_until(
            lambda: (lambda status, body: body if "workers" in body["failing"] else None)(*health(client)),
            COMPRESSED_HEALTH["HEALTH_WORKER_MAX_AGE_SECONDS"] + 15,
            "/healthz to notice the workers are gone",
            every=0.5,
        )
        print(f"503 naming the workers {time.monotonic() - killed:.1f} s after they died")

        assert body["status"] == "degraded"
        assert body["workers"]["alive"] == 0
        assert body["queues"]["waiting"]["default"] >= 1


@pytest.mark.slow
def test_a_scheduler_killed_without_releasing_its_lease_is_named_within_the_schedule_bound(
    client, own_redis, backend_env
):
    with worker_dyno(backend_env) as worker:
        wait_until(lambda: health(client)[0] == 200, 60, "a healthy start", every=0.5)
        assert holder_pid(own_redis) == worker.popen.pid  # the pool's parent runs the schedule

        # The parent alone (a crash, or the kernel's out-of-memory kill choosing it): no SIGTERM
        # handler hands the lease back, and its pool's workers live on as orphans.
        os.kill(worker.popen.pid, signal.SIGKILL)
        killed = time.monotonic()
        assert own_redis.client.get(LEASE_KEY), "the lease should outlive its holder until it expires"
        body = wait_until(
            lambda: (lambda status, body: body if status == 503 and "schedule" in body["failing"] else None)(
                *health(client)
            ),
            COMPRESSED_HEALTH["HEALTH_SCHEDULE_MAX_AGE_SECONDS"] + 10,
            "/healthz to notice the schedule stopped",
            every=0.2,
        )
        named = time.monotonic() - killed
        print(
            f"503 naming the schedule {named:.1f} s after its holder was SIGKILLed "
            f"(lease {COMPRESSED_ENV['SCHEDULE_LEASE_SECONDS']} s, "
            f"bound {COMPRESSED_HEALTH['HEALTH_SCHEDULE_MAX_AGE_SECONDS']} s; production 30 s and 60 s); "
            f"failing {body['failing']}"
        )

        assert named <= COMPRESSED_HEALTH["HEALTH_SCHEDULE_MAX_AGE_SECONDS"], named
        # The complaint was a dead clock blamed on the workers: these still beat.
        assert body["failing"] == ["schedule"], body
        assert body["schedule"]["ok"] is False and body["schedule"]["lease_holder"] is None
