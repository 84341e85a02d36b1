"""rq job functions: each takes ids, re-reads its rows and calls one service.

Workers import these by dotted path and pass JSON arguments, so nothing else belongs here.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from redis.exceptions import RedisError
from rq import get_current_job

from media_tasks import queues, services
from media_tasks.models import Image, OutgoingEmail

logger = logging.getLogger(__name__)

Job = TypeVar("Job", bound=Callable[..., Any])

# When the last sweep finished (Unix time), for /healthz: proof that the clock's schedule
# reaches a worker. Kept a day, so a long-stopped sweeper shows as missing, not as old.
LAST_SWEEP_KEY = "media_tasks:last_sweep"
LAST_SWEEP_TTL_SECONDS = 24 * 3600


def logged(job: Job) -> Job:
    """One log line when a job starts and one when it ends, for Heroku's log router (stdout)."""

    @functools.wraps(job)
    def run(*args: Any) -> Any:
        current = get_current_job()
        where = f"job={current.id if current else '-'} queue={current.origin if current else '-'} func={job.__name__}"
        logger.info("job started %s args=%s", where, list(args))
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


@logged
def send_email(email_id: int) -> None:
    email = OutgoingEmail.objects.filter(pk=email_id).first()
    if email is None:
        logger.info("email %s is gone; nothing to send", email_id)
        return
    services.email_send(email=email)


@logged
def make_thumbnails(image_id: int) -> None:
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        logger.info("image %s is gone; no thumbnails to make", image_id)
        return
    services.image_make_thumbnails(image=image)


@logged
def sweep_stuck_work() -> dict[str, int]:
    report = services.work_sweep()
    try:
        queues.connection().set(LAST_SWEEP_KEY, f"{time.time():.3f}", ex=LAST_SWEEP_TTL_SECONDS)
    except RedisError as error:
        # The sweep itself is done; only the health page's record of it is missing.
        logger.warning("could not record the sweep's time: %s", error)
    return report


@logged
def delete_unconfirmed_accounts() -> int:
    return services.user_delete_unconfirmed(older_than=timedelta(days=settings.UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS))
