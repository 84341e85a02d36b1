"""The accounts app's recurring job, registered with the schedule (scheduling/schedule.py)."""

from __future__ import annotations

import os

from accounts import jobs
from scheduling import schedule

# When the daily cleanup runs (cron syntax, UTC; a sixth field counts seconds, which the tests
# use); a config var so a deploy can move it.
CLEANUP_CRON = os.environ.get("UNCONFIRMED_CLEANUP_CRON", "17 3 * * *")

# Daily at 03:17 UTC by default: off the hour, when the site is quiet.
schedule.register(
    jobs.delete_unconfirmed_accounts, queue_name="low", cron=CLEANUP_CRON, result_ttl=86400, failure_ttl=7 * 86400
)
