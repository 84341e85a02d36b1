"""The schedule's settings (scheduling/scheduler.py): each default once, read as `conf.NAME()`.

How they are read, and why not django-appconf: queues/conf.py.
"""

from __future__ import annotations

from queues.conf import Setting

# Every worker dyno runs a scheduler and the one holding this lease in Redis queues the
# recurring jobs: a holder that dies without a goodbye leaves the schedule waiting this long
# (a clean stop hands it over at once), and a Redis hiccup or a slow tick shorter than this
# (thirty of its one-second renewals) does not move it.
SCHEDULE_LEASE_SECONDS = Setting("SCHEDULE_LEASE_SECONDS", 30.0)
# How often each scheduler renews or tries for the lease and looks for due slots: a run is
# queued at most this much after its time while a holder is up.
SCHEDULE_TICK_SECONDS = Setting("SCHEDULE_TICK_SECONDS", 1.0)
# A run missed while no worker was up is still queued when one is back if it is at most this
# old (a daily clean-up after an hour's outage); older ones (a week-old one) are skipped with a
# log line.
SCHEDULE_CATCHUP_SECONDS = Setting("SCHEDULE_CATCHUP_SECONDS", 3600.0)
