"""`logged`, which every app's jobs wear: one log line when a job starts and one when it ends.

Every app's jobs import it from here, durable ones through work/durable.py.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from rq import get_current_job

logger = logging.getLogger(__name__)


def logged[Job: Callable[..., Any]](job: Job, *, args_shown: bool = True) -> Job:
    """One log line when a job starts and one when it ends, for Heroku's log router (stdout)."""

    @functools.wraps(job)
    def run(*args: Any) -> Any:
        current = get_current_job()
        where = f"job={current.id if current else '-'} queue={current.origin if current else '-'} func={job.__name__}"
        logger.info("job started %s args=%s", where, list(args) if args_shown else "(not shown)")
        started = time.monotonic()
        outcome = "ok"
        try:
            return job(*args)
        except BaseException as error:
            outcome = f"error:{type(error).__name__}"
            raise
        finally:
            logger.info("job ended %s duration_ms=%d outcome=%s", where, (time.monotonic() - started) * 1000, outcome)

    return run  # type: ignore[return-value]


def logged_privately[Job: Callable[..., Any]](job: Job) -> Job:
    """`logged`, but its arguments stay out of the log: for a job given what a person typed (an address)."""
    return logged(job, args_shown=False)
