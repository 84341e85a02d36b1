"""Jobs that do (almost) nothing, to measure what a worker costs around a job.

Workers import them by dotted path (`bench.jobs.noop`) from the project's root, where
manage.py runs; they take and return JSON values like the project's own jobs.
"""

from __future__ import annotations

import time


def noop() -> None:
    """The job a worker class's own overhead is measured with: dequeue, run, record, repeat."""


def started_at() -> float:
    """When the job's code began, on the clock every process of this machine shares.

    CLOCK_MONOTONIC is system-wide on Linux, so the benchmark can subtract its own reading
    taken just before enqueueing; it is immune to wall-clock steps, which time.time() is not.
    """
    return time.clock_gettime(time.CLOCK_MONOTONIC)
