"""The accounts app's recurring job, registered with the schedule (scheduling/schedule.py)."""

from __future__ import annotations

from accounts import conf, jobs
from scheduling import schedule

schedule.register(
    jobs.delete_unconfirmed_accounts,
    queue_name="low",
    cron=conf.UNCONFIRMED_CLEANUP_CRON(),
    result_ttl=86400,
    failure_ttl=7 * 86400,
)
