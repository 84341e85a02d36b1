"""A tiny durable-work model, installed only while the tests run (TEST_APPS in pyproject.toml).

The core's promises (claims, leases, the sweeper, nothing lost through kills and faults) are
proved on it, so they hold without the demo.
"""

from __future__ import annotations

from django.db import models

from work.models import WorkItem


class Chore(WorkItem):
    class Work:
        job = "tests.workapp.jobs.do_chore"
        queue = "default"
        pending, in_progress, failed = "pending", "doing", "failed"
        retry_schedule_setting = "WORK_RETRY_SCHEDULE"
        max_attempts_setting = "WORK_MAX_ATTEMPTS"
        gave_up_fields = {"note": "Given up after several tries."}
        done = "done"

    name = models.CharField(max_length=100)
    status = models.CharField(max_length=16, default="pending", db_index=True)
    note = models.CharField(max_length=200, blank=True)
    # Every run that did the work, so a test can tell "done once" from "done twice".
    runs = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


# README.md's example of a durable kind ("Adding your own job"), word for word (tests/test_durable.py).
class Report(WorkItem):
    class Work:
        job, queue = "tests.workapp.jobs.make_report", "default"
        pending, in_progress, done, failed = "pending", "making", "done", "failed"

    status = models.CharField(max_length=16, default="pending")
    upload = models.FileField()  # amounts in cents, one a line
    total = models.BigIntegerField(null=True)


class Ping(models.Model):
    """Written by a plain `@job` (no durable row), to prove it ran."""

    value = models.IntegerField()

    def __str__(self) -> str:
        return str(self.value)


# --- Deliberately broken kinds, which work/conformance.py must refuse (work/tests/test_conformance.py).


class Tally(WorkItem):
    """A durable row whose job counts its runs; the concrete kinds below get it wrong, each its own way."""

    status = models.CharField(max_length=16, default="pending")
    # Every run that did the work, so the kit can tell "done once" from "done twice".
    runs = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"tally {self.pk}"


class CarelessTally(Tally):
    class Work:
        job, queue = "tests.workapp.jobs.tally_carelessly", "default"
        pending, in_progress, done, failed = "pending", "counting", "done", "failed"


class SwallowingTally(Tally):
    class Work:
        job, queue = "tests.workapp.jobs.tally_swallowing", "default"
        pending, in_progress, done, failed = "pending", "counting", "done", "failed"


class UnclaimedTally(Tally):
    class Work:
        job, queue = "tests.workapp.jobs.tally_unclaimed", "default"
        pending, in_progress, done, failed = "pending", "counting", "done", "failed"
