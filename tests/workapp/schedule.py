"""A test-only schedule entry, registered only when TEST_SCHEDULE_EVERY_SECONDS is set.

Its job records each run (its job id and when it ran) in Redis, so the scheduler tests can
count per slot how many times it was queued and run.
"""

from __future__ import annotations

import os
import time

from rq import get_current_job

from queues import redis_client
from queues.joblog import logged
from scheduling import schedule

RUNS_KEY = "test:schedule:runs"
EVERY_SECONDS = int(os.environ.get("TEST_SCHEDULE_EVERY_SECONDS") or 0)


@logged
def record_tick() -> None:
    job = get_current_job()
    redis_client.connection().rpush(RUNS_KEY, f"{job.id if job else '-'} {time.time():.3f} {os.getpid()}")


if EVERY_SECONDS:
    schedule.register(record_tick, name="test_tick", queue_name="high", interval_seconds=EVERY_SECONDS, result_ttl=3600)
