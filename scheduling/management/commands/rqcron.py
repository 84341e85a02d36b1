"""`python manage.py rqcron CONFIG`: not needed here (the schedule runs in the worker dynos); says so, exits 2.

Replaces django-rq's, which starts rq's CronScheduler, a clock of its own with no lock between
copies: see _schedule_runs_in_workers.py.
"""

from __future__ import annotations

from scheduling.management.commands._schedule_runs_in_workers import ScheduleRunsInWorkers


class Command(ScheduleRunsInWorkers):
    help = (
        "Not needed here: the schedule runs inside the worker dynos. Says so, points to "
        "`manage.py schedule`, and exits 2 (whatever the arguments)."
    )
    name = "rqcron"
