"""Queue latency: per queue, how many jobs wait and how long the oldest has waited.

This is what an autoscaler scales workers on (a queue that is long but moving fast needs no more
workers; a job that has waited a minute does), and what /healthz's queues part alarms on. The
dashboard's stats.json (workers/stats.py) and the Judoscale reporter (workers/autoscale/)
read it here.

Two round trips whatever the number of queues, and nothing is deserialised: the oldest job's id
is the head of the queue's list (rq pushes at the tail and pops from the head), and its
`enqueued_at` is read from the job's hash as a string.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from redis import Redis
from rq.job import Job
from rq.queue import Queue
from rq.utils import utcparse

from queues.config import QUEUE_NAMES


@dataclass(frozen=True)
class QueueWait:
    waiting: int
    # None when nothing waits, or the head's job hash is gone (deleted while queued: rq skips it).
    oldest_age_seconds: float | None


def queue_waits(redis: Redis, names: Sequence[str] = QUEUE_NAMES, *, now: float | None = None) -> dict[str, QueueWait]:
    """Jobs waiting and the oldest one's age, per queue name, in the order given."""
    now = time.time() if now is None else now
    with redis.pipeline(transaction=False) as pipe:
        for name in names:
            key = Queue.redis_queue_namespace_prefix + name
            pipe.llen(key)
            pipe.lindex(key, 0)
        replies = pipe.execute()
    depths = [int(depth) for depth in replies[0::2]]
    heads = [as_text(head) for head in replies[1::2]]

    wanted = [head for head in heads if head]
    stamps: list[bytes | None] = []
    if wanted:
        with redis.pipeline(transaction=False) as pipe:
            for job_id in wanted:
                pipe.hget(Job.key_for(job_id), "enqueued_at")
            stamps = pipe.execute()
    ages = dict(zip(wanted, (age_since(now, stamp) for stamp in stamps), strict=True))
    return {
        name: QueueWait(waiting=depth, oldest_age_seconds=ages.get(head) if head else None)
        for name, depth, head in zip(names, depths, heads, strict=True)
    }


def age_since(now: float, stamp: bytes | None) -> float | None:
    """Seconds from an rq timestamp (bytes from Redis, or none) to `now`."""
    if not stamp:
        return None
    try:
        return max(0.0, now - utcparse(as_text(stamp)).timestamp())
    except ValueError:
        return None


def as_text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
