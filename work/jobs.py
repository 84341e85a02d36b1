"""The durable-work app's job: the sweep that re-queues work whose job was lost."""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from queues import redis_client
from queues.joblog import logged
from work import services

logger = logging.getLogger(__name__)

# When the last sweep finished (Unix time), for /healthz: proof that the schedule
# reaches a worker. Kept a day, so a long-stopped sweeper shows as missing, not as old.
LAST_SWEEP_KEY = "background:last_sweep"
LAST_SWEEP_TTL_SECONDS = 24 * 3600


@logged
def sweep_stuck_work() -> dict[str, int]:
    report = services.work_sweep()
    try:
        redis_client.connection().set(LAST_SWEEP_KEY, f"{time.time():.3f}", ex=LAST_SWEEP_TTL_SECONDS)
    except RedisError as error:
        # The sweep itself is done; only the health page's record of it is missing.
        logger.warning("could not record the sweep's time: %s", error)
    return report
