"""The demo's recurring job, registered with the schedule (scheduling/schedule.py)."""

from __future__ import annotations

from media_tasks import jobs
from scheduling import schedule

# Hourly, off the hour: an orphan outlives DIRECT_UPLOAD_GRACE_HOURS by an hour at most, and a
# listing of uploads/ is cheap (one request per 1,000 objects).
schedule.register(jobs.delete_orphan_uploads, queue_name="low", cron="41 * * * *", result_ttl=86400)
