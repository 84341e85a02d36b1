"""What `rqscheduler` and `rqcron` do here: say where the schedule runs instead of starting a clock.

Older tutorials start one of them as a process of its own (a clock dyno). Here the schedule
runs inside the worker dynos (the Procfile's `worker:`, scheduling/scheduler.py), so a second
clock would only queue every job twice. These commands replace django-rq's of the same names
(`background` is before `django_rq` in INSTALLED_APPS, and the first app's command wins): they
accept any arguments, print one line, and exit with status 2. Django lists no module whose name
starts with `_`, so this one is not a command itself.
"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError

EXIT_STATUS = 2


class ScheduleRunsInWorkers(BaseCommand):
    """A command that is not needed here; `name` is what it was typed as."""

    name = ""

    def message(self) -> str:
        return (
            f"{self.name} is not needed here: the schedule runs inside the worker dynos (the Procfile's worker); "
            "see it with `python manage.py schedule`."
        )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("ignored", nargs="*", help="ignored")

    def run_from_argv(self, argv: list[str]) -> NoReturn:
        # Before any parsing: whatever options a tutorial gives (--interval, a config path, -l DEBUG).
        sys.stderr.write(self.message() + "\n")
        sys.exit(EXIT_STATUS)

    def handle(self, *args: Any, **options: Any) -> None:  # call_command()
        raise CommandError(self.message(), returncode=EXIT_STATUS)
