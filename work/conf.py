"""The durable-work app's settings (work/claims.py, the sweep): each default once, read as `conf.NAME()`.

How they are read, and why not django-appconf: queues/conf.py.
"""

from __future__ import annotations

from queues.conf import Setting

# A job's claim on its row lapses after this long: longer than any job may run (rq kills it
# at the job timeout), so a lapsed claim means the worker died and the row may be taken again.
WORK_CLAIM_LEASE_SECONDS = Setting("WORK_CLAIM_LEASE_SECONDS", 60)
# A row still pending this long with no live job (e.g. queued while Redis was down) is re-queued.
WORK_STALE_SECONDS = Setting("WORK_STALE_SECONDS", 30)
# After this many attempts a row whose kind names this setting is marked failed
# instead of tried again; without one, a kind gets one attempt more than its schedule has waits.
WORK_MAX_ATTEMPTS = Setting("WORK_MAX_ATTEMPTS", 5)
# Seconds before each retry, for a kind that names no schedule of its own: storage or database
# hiccups pass in seconds to minutes, and the owner of an upload is watching.
# https://python-rq.org/docs/exceptions/#retrying-failed-jobs
WORK_RETRY_SCHEDULE = Setting("WORK_RETRY_SCHEDULE", (5, 20, 60, 180))
# Unset (0), the sweep runs every minute; a number of seconds runs it that often instead (the
# fault tests use a few).
SWEEP_INTERVAL_SECONDS = Setting("SWEEP_INTERVAL_SECONDS", 0)
