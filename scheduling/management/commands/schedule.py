"""`python manage.py schedule`: each recurring job with its next run, its last run and that run's outcome.

The same as the admin's Schedule page (emails/admin.py), for `heroku run`. Read-only.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from redis.exceptions import RedisError

from queues import redis_client
from scheduling.status import lease_holder, statuses


def when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp)) if timestamp is not None else "never"


class Command(BaseCommand):
    help = "List the schedule: each entry's timing, queue, next run, last run and outcome, and the lease holder."

    def handle(self, *args: Any, **options: Any) -> None:
        connection = redis_client.connection()
        try:
            holder = lease_holder(connection)
            entries = statuses(connection)
        except RedisError as error:
            self.stderr.write(f"Redis is unreachable ({type(error).__name__}): the schedule's state is kept there.")
            raise SystemExit(1) from error
        now = time.time()
        if holder is None:
            self.stdout.write("Lease holder: none (no worker dyno's scheduler holds the lease: is a worker running?)")
        else:
            ticked = holder.get("ticked_at")
            ago = f", ticked {now - ticked:.0f} s ago" if ticked else ""
            self.stdout.write(f"Lease holder: {holder.get('holder')} (pid {holder.get('pid')}{ago})")
        for entry in entries:
            self.stdout.write("")
            self.stdout.write(f"{entry.name}  ({entry.func})")
            self.stdout.write(f"  timing:   {entry.timing}, on queue {entry.queue_name}")
            self.stdout.write(f"  next run: {when(entry.next_run)}")
            if entry.last_job_id:
                self.stdout.write(f"  last run: {when(entry.last_slot)} (queued {when(entry.last_enqueued_at)})")
                self.stdout.write(f"  outcome:  {entry.outcome} (job {entry.last_job_id})")
            else:
                self.stdout.write("  last run: never")
