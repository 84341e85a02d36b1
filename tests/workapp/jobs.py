from __future__ import annotations

import logging
import os
import time

from django.db.models import F

from queues.jobs import job
from tests.workapp.models import CarelessTally, Chore, Ping, Report, SwallowingTally, UnclaimedTally
from work import durable

logger = logging.getLogger(__name__)


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


# --- Deliberately broken jobs, which work/conformance.py must refuse (work/tests/test_conformance.py).


@durable.job(CarelessTally)
def tally_carelessly(tally: CarelessTally, run: durable.Run) -> None:
    # Wrong: a plain UPDATE instead of run.finish takes no lock and checks no claim, so a run whose
    # claim lapsed writes over the outcome of the run that took the row over.
    CarelessTally.objects.filter(pk=tally.pk).update(runs=F("runs") + 1)


def count(tally: SwallowingTally) -> int:
    """The work of a SwallowingTally; the kit forces its faults in here (fault_at)."""
    return tally.runs + 1


@durable.job(SwallowingTally)
def tally_swallowing(tally: SwallowingTally, run: durable.Run) -> None:
    try:
        count(tally)
    except BaseException:
        # Wrong: BaseException takes in rq's ShutDownImminentException too, so a worker's shutdown
        # is swallowed here and the row ends done without its work.
        logger.exception("could not count %s", tally)
    run.finish(runs=F("runs") + 1)


def tally_unclaimed(pk: int) -> None:
    # Wrong: no claim (not a durable.job), so every delivery of the job does the work again.
    UnclaimedTally.objects.filter(pk=pk).update(runs=F("runs") + 1, status="done")
