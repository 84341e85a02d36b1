"""The schedule's read-out for people: who holds the lease, and each entry's next run and last outcome.

Shown by the admin's schedule page and `manage.py schedule`; it only reads what
scheduling/scheduler.py writes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from redis import Redis
from rq.job import Job

from scheduling import schedule
from scheduling.scheduler import LEASE_KEY, TICK_KEY, last_key


@dataclass
class Status:
    name: str
    timing: str
    queue_name: str
    func: str
    next_run: float | None
    last_slot: int | None
    last_job_id: str | None
    last_enqueued_at: float | None
    outcome: str | None


def lease_holder(connection: Redis) -> dict[str, Any] | None:
    """Who holds the lease (holder, pid, token) and when it last ticked, or None."""
    with connection.pipeline(transaction=False) as pipe:
        pipe.get(LEASE_KEY)
        pipe.pttl(LEASE_KEY)
        pipe.get(TICK_KEY)
        value, ttl_ms, ticked = pipe.execute()
    if not value:
        return None
    try:
        holder: dict[str, Any] = json.loads(value)
    except ValueError:
        holder = {"holder": _text(value)}
    holder["expires_in_seconds"] = round(ttl_ms / 1000, 1) if ttl_ms and ttl_ms > 0 else None
    holder["ticked_at"] = float(ticked) if ticked else None
    return holder


def statuses(connection: Redis, now: float | None = None) -> list[Status]:
    """Each entry with its next run and its last run's outcome (the rq job's status, or 'expired')."""
    now = time.time() if now is None else now
    entries = schedule.entries()
    with connection.pipeline(transaction=False) as pipe:
        for entry in entries:
            pipe.hgetall(last_key(entry))
        records = [{_text(k): _text(v) for k, v in record.items()} for record in pipe.execute()]
    with connection.pipeline(transaction=False) as pipe:
        for record in records:
            pipe.hget(Job.key_for(record["job_id"]) if record.get("job_id") else "-", "status")
        job_statuses = [_text(status) for status in pipe.execute()]
    result = []
    for entry, record, job_status in zip(entries, records, job_statuses, strict=True):
        slot = int(record["slot"]) if record.get("slot") else None
        fired_slot = int(record["fired_slot"]) if record.get("fired_slot") else None
        job_id = record.get("job_id") or None
        if slot is None:
            next_run: float = entry.latest_slot(now) if entry.interval_seconds else entry.next_slot(now)
        else:
            next_run = entry.next_slot(slot)
        result.append(
            Status(
                name=entry.name,
                timing=entry.timing,
                queue_name=entry.queue_name,
                func=entry.func_path,
                next_run=next_run,
                last_slot=fired_slot,
                last_job_id=job_id,
                last_enqueued_at=float(record["enqueued_at"]) if record.get("enqueued_at") else None,
                outcome=(job_status or "expired") if job_id else None,
            )
        )
    return result


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
