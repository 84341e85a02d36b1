"""/healthz, as an uptime monitor sees it: each part named, 503 only for a real problem.

In this process, against the test's Redis or a Redis of the test's own; the Procfile's worker
dynos idling, dying and losing their Redis data are tests/system/test_health.py's.
"""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse

from queues import redis_client
from queues.config import rq_queues
from scheduling.scheduler import LEASE_KEY, TICK_KEY, last_key
from tests.support.backend import (
    health,
    schedule_entry,
)
from tests.support.chores import queue_chore
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_without_a_worker_the_site_reports_degraded_naming_the_workers_and_the_schedule(client):
    status, body = health(client)

    assert status == 503
    assert body["status"] == "degraded"
    assert body["failing"] == ["workers", "schedule"]
    assert body["database"] == {"ok": True}
    assert body["redis"] == {"ok": True}
    assert body["workers"] == {"ok": False, "alive": 0, "registered": 0, "last_heartbeat_seconds_ago": None}
    assert body["queues"]["waiting"] == {"high": 0, "default": 0, "low": 0}
    assert body["queues"]["ok"] is True


def test_health_reports_an_unreachable_redis_without_secrets(client, settings):
    settings.RQ_QUEUES = rq_queues("redis://:supersecret@127.0.0.1:9/0")

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["redis"] == {"ok": False, "error": "ConnectionError"}
    assert body["failing"] == ["redis"]
    assert b"supersecret" not in response.content
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_full_redis_that_refuses_writes_is_reported_at_once(client, own_redis):
    own_redis.fill()

    status, body = health(client)

    assert status == 503
    assert body["redis"] == {"ok": False, "writable": False, "error": "OutOfMemoryError"}
    assert "redis" in body["failing"]
    assert body["queues"]["waiting"] == {"high": 0, "default": 0, "low": 0}  # reads still answer
    own_redis.free()
    assert health(client)[1]["redis"] == {"ok": True}


@pytest.mark.parametrize(("waited", "overdue"), [(5, []), (40, ["sweep_stuck_work"])])
def test_a_due_slot_left_unfired_past_a_lease_and_two_ticks_fails_the_schedule(client, waited, overdue):
    # A lease that names a holder and a fresh tick are not enough: someone must fire what is due.
    redis = redis_client.connection()
    now = time.time()
    redis.set(LEASE_KEY, json.dumps({"holder": "worker.1", "pid": 1, "token": "t"}))
    redis.set(TICK_KEY, f"{now:.3f}")
    redis.hset(last_key(schedule_entry("sweep_stuck_work")), mapping={"slot": 0, "next_due": f"{now - waited:.3f}"})

    _, body = health(client)

    assert body["schedule"]["overdue"] == overdue
    assert ("schedule" in body["failing"]) == bool(overdue)


def test_a_job_waiting_too_long_makes_the_queues_part_fail(client, settings, django_capture_on_commit_callbacks):
    settings.HEALTH_QUEUE_LATENCY_MAX_SECONDS = 1
    with django_capture_on_commit_callbacks(execute=True):
        queue_chore("waiting")

    def queue_late() -> dict | None:
        body = health(client)[1]
        return body if not body["queues"]["ok"] else None

    body = wait_until(queue_late, 10, "the waiting job to pass the latency limit")
    assert body["queues"]["waiting"]["default"] == 1
    assert body["queues"]["latency_seconds"]["default"] >= 1
    assert "queues" in body["failing"]
