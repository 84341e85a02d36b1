from __future__ import annotations

import os
import time

from django.db.models import F

from queues.jobs import job
from tests.workapp.models import Chore, Ping, Report
from work import durable


@durable.job(Chore)
def do_chore(chore: Chore, run: durable.Run) -> None:
    # A fault test slows the work down so it can signal or kill the worker mid-job.
    time.sleep(float(os.environ.get("CHORE_SECONDS") or 0))
    # Stored with the outcome or not at all: `runs` counts the times the work was really done.
    run.finish(runs=F("runs") + 1)


# README.md's example of a durable kind ("Adding your own job"), word for word (tests/test_durable.py).
@durable.job(Report)
def make_report(report: Report, run: durable.Run) -> None:
    lines = report.upload.read().split()  # outside any transaction: an error here is retried
    if not all(line.isdigit() for line in lines):
        raise durable.Permanent("Every line must be a whole number of cents.")
    run.delete_files_after_commit([report.upload.name])  # only once the total is stored
    run.finish(total=sum(map(int, lines)), upload="")


@job("high")
def ping(value: int) -> None:
    Ping.objects.create(value=value)
