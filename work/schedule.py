"""The durable-work app's recurring job: the sweep, registered with the schedule (scheduling/schedule.py)."""

from __future__ import annotations

import os

from scheduling import schedule
from work import jobs

# Every minute: re-queue work whose job was lost (killed worker, Redis outage). A number of
# seconds in SWEEP_INTERVAL_SECONDS runs it that often instead (the fault tests use a few).
SWEEP_INTERVAL_SECONDS = int(os.environ.get("SWEEP_INTERVAL_SECONDS") or 0)
schedule.register(
    jobs.sweep_stuck_work,
    queue_name="low",
    cron=None if SWEEP_INTERVAL_SECONDS else "* * * * *",
    interval_seconds=SWEEP_INTERVAL_SECONDS or None,
    result_ttl=600,
    failure_ttl=86400,
)
