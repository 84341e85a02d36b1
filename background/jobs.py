"""The background app's rq jobs; `logged`, which every app's jobs wear, is background/joblog.py's.

Each job takes ids, re-reads its rows and calls one service; a durable one (send_email) gets
its row, claimed, from background.durable and hands it to one service.

Workers import these by dotted path and pass JSON arguments, so nothing else belongs here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction
from redis.exceptions import RedisError

from background import durable, queues, services
from background.joblog import logged as logged
from background.joblog import logged_privately as logged_privately
from background.models import OutgoingEmail

logger = logging.getLogger(__name__)

Job = TypeVar("Job", bound=Callable[..., Any])

# When the last sweep finished (Unix time), for /healthz: proof that the schedule
# reaches a worker. Kept a day, so a long-stopped sweeper shows as missing, not as old.
LAST_SWEEP_KEY = "background:last_sweep"
LAST_SWEEP_TTL_SECONDS = 24 * 3600


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


@durable.job(
    OutgoingEmail,
    words=durable.Words(
        gone="{name} is gone; nothing to send",
        elsewhere="{name} is {status} or being sent elsewhere; not sent again",
    ),
)
def send_email(email: OutgoingEmail, run: durable.Run) -> None:
    services.email_send(email=email, run=run)


@logged
def sweep_stuck_work() -> dict[str, int]:
    report = services.work_sweep()
    try:
        queues.connection().set(LAST_SWEEP_KEY, f"{time.time():.3f}", ex=LAST_SWEEP_TTL_SECONDS)
    except RedisError as error:
        # The sweep itself is done; only the health page's record of it is missing.
        logger.warning("could not record the sweep's time: %s", error)
    return report
