"""GET /healthz: is this deploy able to do its work? For uptime monitors and operators.

Each part says whether it is ok, and the page is 200 only when every part is:

- database: a SELECT 1 answers.
- redis: Redis answers and takes a write. A full Redis under noeviction (Heroku's default)
  still answers reads but refuses every write, so nothing can be queued or processed: a
  probe key with a short expiry tells the two apart. At its maxmemory, Redis takes a write
  whenever an expiry has just freed a little, and refuses the next: so Redis within
  REDIS_HEADROOM_BYTES of its maxmemory counts as full too, and the page stays 503 until work
  can be queued again.
- workers: some worker has sent a heartbeat within HEALTH_WORKER_MAX_AGE_SECONDS (90 s). The
  project's workers send one every 45 s even when idle (workers/runtime.py) and write their
  record again with it, so idle workers pass and a flushed Redis heals at the next heartbeat.
  Until then the newest heartbeat this process saw before the flush still counts, within the
  same 90 s: a flush takes the records, not the workers. A flush is told from workers that
  stopped (and said goodbye) by a key written once and never expired: gone, or another value
  than this process saw last, means Redis was emptied.
- queues: per queue, how many jobs wait and how long the oldest has waited (latency); not ok
  once a job has waited over HEALTH_QUEUE_LATENCY_MAX_SECONDS (300 s).
- schedule: some worker dyno's scheduler holds the schedule's lease and has ticked within
  HEALTH_SCHEDULE_MAX_AGE_SECONDS (60 s; it ticks every second, scheduling/scheduler.py), and
  no entry's due slot has waited longer than a lease and two ticks (32 s) unfired: a lease
  that names a holder is not proof that anyone acts on it. The holder, the last sweep's age and
  any overdue entries are shown with it.

`failing` names the parts that are not ok. A part that could not be checked (Redis
unreachable) is null, and the page is 503. Cheap: one SELECT 1 and four Redis round trips
(two of them the queues', queues/latency.py, which stats.json and Judoscale read too); no
secrets.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from redis.exceptions import RedisError
from rq import worker_registration

from queues import redis_client
from queues.latency import QueueWait, age_since, as_text, queue_waits
from scheduling import conf as scheduling_conf
from scheduling import schedule
from scheduling.scheduler import LEASE_KEY, TICK_KEY, last_key
from web import conf
from work.jobs import LAST_SWEEP_KEY

PROBE_KEY = "background:healthz:probe"
PROBE_TTL_SECONDS = 60
# Room an enqueue needs (a job is a kilobyte or two) with margin for what expires meanwhile.
REDIS_HEADROOM_BYTES = 1024 * 1024

# Written once (SET NX), never expired: a FLUSHALL or a new Redis changes or removes it.
EPOCH_KEY = "background:healthz:epoch"


class _Seen:
    """What this process saw at its last look: survives a FLUSHALL, which the records do not."""

    epoch: bytes | None = None
    newest_heartbeat: float | None = None
    heartbeat_before_emptied: float | None = None


_seen = _Seen()


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report: dict[str, Any] = {"database": _database(), **_redis_parts()}
    failing = [name for name, part in report.items() if part is not None and part.get("ok") is False]
    healthy = all(part is not None and part.get("ok") is True for part in report.values())
    report["status"] = "ok" if healthy else "degraded"
    report["failing"] = failing
    return JsonResponse(report, status=200 if healthy else 503)


def _database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


def _redis_parts() -> dict[str, Any]:
    now = time.time()
    try:
        redis = redis_client.connection()
        with redis.pipeline(transaction=False) as pipe:
            pipe.set(PROBE_KEY, f"{now:.3f}", ex=PROBE_TTL_SECONDS)
            pipe.get(EPOCH_KEY)
            pipe.set(EPOCH_KEY, f"{now:.3f}", nx=True)
            pipe.smembers(worker_registration.REDIS_WORKER_KEYS)
            pipe.get(LEASE_KEY)
            pipe.get(TICK_KEY)
            pipe.get(LAST_SWEEP_KEY)
            pipe.info("memory")
            entries = schedule.entries()
            for entry in entries:
                pipe.hget(last_key(entry), "next_due")
            # A refused write comes back as its error; reads still tell the rest.
            probe, epoch, _, members, lease, ticked, last_sweep, memory, *next_dues = pipe.execute(raise_on_error=False)
        for reply in [epoch, members, lease, ticked, last_sweep, memory, *next_dues]:
            if isinstance(reply, Exception):
                raise reply
        worker_keys = sorted(as_text(key) for key in members)

        with redis.pipeline(transaction=False) as pipe:
            for key in worker_keys:
                pipe.hget(key, "last_heartbeat")
            stamps = pipe.execute() if worker_keys else []
        waits = queue_waits(redis, now=now)
    except RedisError as error:
        return {
            "redis": {"ok": False, "error": type(error).__name__},
            "workers": None,
            "queues": None,
            "schedule": None,
        }

    heartbeats = [age_since(now, stamp) for stamp in stamps]
    overdue_after = scheduling_conf.SCHEDULE_LEASE_SECONDS() + 2 * scheduling_conf.SCHEDULE_TICK_SECONDS()
    overdue = [
        entry.name
        for entry, next_due in zip(entries, next_dues, strict=True)
        if next_due and now - float(next_due) > overdue_after
    ]
    return {
        "redis": _redis(probe, memory),
        "workers": _workers(now, heartbeats, epoch),
        "queues": _queues(waits),
        "schedule": _schedule(now, lease, ticked, last_sweep, overdue),
    }


def _redis(probe: Any, memory: dict[str, Any]) -> dict[str, Any]:
    if isinstance(probe, Exception):
        return {"ok": False, "writable": False, "error": type(probe).__name__}
    used, maxmemory = int(memory.get("used_memory", 0)), int(memory.get("maxmemory", 0))
    if maxmemory and used + REDIS_HEADROOM_BYTES > maxmemory:
        return {"ok": False, "writable": False, "error": "nearly full", "used_bytes": used, "maxmemory": maxmemory}
    return {"ok": True}


def _workers(now: float, heartbeat_ages: list[float | None], epoch: bytes | None) -> dict[str, Any]:
    max_age = conf.HEALTH_WORKER_MAX_AGE_SECONDS()
    if _seen.epoch is not None and epoch != _seen.epoch:
        _seen.heartbeat_before_emptied = _seen.newest_heartbeat
    _seen.epoch = epoch
    known = [age for age in heartbeat_ages if age is not None]
    newest = min(known, default=None)
    if newest is not None:
        _seen.newest_heartbeat = now - newest
        _seen.heartbeat_before_emptied = None  # registered again: the records speak for themselves
    elif _seen.heartbeat_before_emptied is not None:
        newest = now - _seen.heartbeat_before_emptied
    part = {
        "ok": newest is not None and newest <= max_age,
        "alive": sum(age <= max_age for age in known),
        "registered": len(heartbeat_ages),
        "last_heartbeat_seconds_ago": _round(newest),
    }
    if not known and _seen.heartbeat_before_emptied is not None:
        part["seen_before_redis_was_emptied"] = True
    return part


def _queues(waits: dict[str, QueueWait]) -> dict[str, Any]:
    max_latency = conf.HEALTH_QUEUE_LATENCY_MAX_SECONDS()
    latencies = {name: wait.oldest_age_seconds for name, wait in waits.items()}
    return {
        "ok": all(latency is None or latency <= max_latency for latency in latencies.values()),
        "waiting": {name: wait.waiting for name, wait in waits.items()},
        "latency_seconds": {name: _round(latency) for name, latency in latencies.items()},
    }


def _schedule(
    now: float, lease: bytes | None, ticked: bytes | None, last_sweep: bytes | None, overdue: list[str]
) -> dict[str, Any]:
    max_age = conf.HEALTH_SCHEDULE_MAX_AGE_SECONDS()
    tick_age = now - float(ticked) if lease and ticked else None
    sweep_age = now - float(last_sweep) if last_sweep else None
    try:
        holder = json.loads(lease)["holder"] if lease else None
    except (ValueError, KeyError, TypeError):
        holder = as_text(lease)
    return {
        "ok": tick_age is not None and tick_age <= max_age and not overdue,
        "overdue": overdue,
        "lease_holder": holder,
        "last_tick_seconds_ago": _round(tick_age),
        "last_sweep_seconds_ago": _round(sweep_age),
    }


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(max(seconds, 0.0), 1)
