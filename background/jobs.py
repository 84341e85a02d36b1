"""The background app's rq jobs, and `logged`, which every app's jobs wear.

Each job takes ids, re-reads its rows and calls one service.

Workers import these by dotted path and pass JSON arguments, so nothing else belongs here.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction
from redis.exceptions import RedisError
from rq import get_current_job

from background import queues, services
from background.models import OutgoingEmail

logger = logging.getLogger(__name__)

Job = TypeVar("Job", bound=Callable[..., Any])

# When the last sweep finished (Unix time), for /healthz: proof that the schedule
# reaches a worker. Kept a day, so a long-stopped sweeper shows as missing, not as old.
LAST_SWEEP_KEY = "background:last_sweep"
LAST_SWEEP_TTL_SECONDS = 24 * 3600


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


def job(queue: str = "default", **options: Any) -> Callable[[Job], Job]:
    """django-rq's `@job(queue)` for this project: `f.delay(some_id)` queues f once the transaction commits.

    django-rq's own decorator picks its queue (and makes a Redis client) when the module is
    imported; this one does at each `.delay()`, through the shared client (background/queues.py)
    and the queues' JSON serializer, and defers it with transaction.on_commit. Outside a
    transaction it queues at once. Arguments must be JSON: ids, not objects. For work that
    must never be lost, use a WorkItem model instead (background/work.py).
    """

    def decorate(func: Job) -> Job:
        def delay(*args: Any, **kwargs: Any) -> None:
            def enqueue() -> None:
                queues.get_queue(queue).enqueue(func, args=args, kwargs=kwargs, **options)

            transaction.on_commit(enqueue)

        func.delay = delay  # type: ignore[attr-defined]
        return func

    return decorate


@logged
def send_email(email_id: int) -> None:
    email = OutgoingEmail.objects.filter(pk=email_id).first()
    if email is None:
        logger.info("email %s is gone; nothing to send", email_id)
        return
    services.email_send(email=email)


@logged
def sweep_stuck_work() -> dict[str, int]:
    report = services.work_sweep()
    try:
        queues.connection().set(LAST_SWEEP_KEY, f"{time.time():.3f}", ex=LAST_SWEEP_TTL_SECONDS)
    except RedisError as error:
        # The sweep itself is done; only the health page's record of it is missing.
        logger.warning("could not record the sweep's time: %s", error)
    return report
