"""The durable-work app's recurring job: the sweep, registered with the schedule (scheduling/schedule.py)."""

from __future__ import annotations

from scheduling import schedule
from work import conf, jobs

# Every minute: re-queue work whose job was lost (killed worker, Redis outage), unless
# SWEEP_INTERVAL_SECONDS names another interval.
interval_seconds = conf.SWEEP_INTERVAL_SECONDS()
schedule.register(
    jobs.sweep_stuck_work,
    queue_name="low",
    cron=None if interval_seconds else "* * * * *",
    interval_seconds=interval_seconds or None,
    result_ttl=600,
    failure_ttl=86400,
)
