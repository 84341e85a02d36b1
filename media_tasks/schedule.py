"""The recurring jobs, read by `python manage.py rqcron media_tasks.schedule` (the clock process).

rq's cron has no lock between processes, so exactly one clock process may run it.
"""

from __future__ import annotations

import os

from rq import cron

from media_tasks import jobs

# When the daily cleanup runs (cron syntax, UTC); a config var so a deploy can move it.
CLEANUP_CRON = os.environ.get("UNCONFIRMED_CLEANUP_CRON", "17 3 * * *")

# Every minute: re-queue work whose job was lost (killed worker, Redis outage). A number of
# seconds in SWEEP_INTERVAL_SECONDS runs it that often instead (the fault tests use a few).
SWEEP_INTERVAL_SECONDS = int(os.environ.get("SWEEP_INTERVAL_SECONDS") or 0)
SWEEP_TIMING = {"interval": SWEEP_INTERVAL_SECONDS} if SWEEP_INTERVAL_SECONDS else {"cron": "* * * * *"}
cron.register(jobs.sweep_stuck_work, queue_name="low", result_ttl=600, failure_ttl=86400, **SWEEP_TIMING)
# Daily at 03:17 UTC by default: off the hour, when the site is quiet.
cron.register(
    jobs.delete_unconfirmed_accounts, queue_name="low", cron=CLEANUP_CRON, result_ttl=86400, failure_ttl=7 * 86400
)
