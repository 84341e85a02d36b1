"""The Procfile's worker (which runs the schedule too) against a Redis of the test's own, with time compressed.

Production waits are minutes (a sweep a minute, an idle worker's heartbeat every 45 s, backoff
up to 30 s); these settings shrink them so a fault test sees several cycles in under a minute.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.urls import reverse

from tests.support.processes import Process, procfile_command, wait_until

# What the worker process reads from its environment.
COMPRESSED_ENV = {
    "WORKER_TTL_SECONDS": "20",  # an idle worker's heartbeat every 5 s (production: 45 s)
    "REDIS_RETRY_MAX_SECONDS": "4",  # (production: 30 s)
    "SWEEP_INTERVAL_SECONDS": "5",  # (production: every minute)
    "WORK_STALE_SECONDS": "2",
    "WORK_CLAIM_LEASE_SECONDS": "8",
    "SCHEDULE_LEASE_SECONDS": "5",  # a dead holder's lease moves after 5 s (production: 30 s)
}
SWEEP_SECONDS = int(COMPRESSED_ENV["SWEEP_INTERVAL_SECONDS"])
# Doing the work and sending the mail of everything queued up, on a busy 2-core machine.
PROCESSING_ALLOWANCE_SECONDS = 30
HEARTBEAT_SECONDS = int(COMPRESSED_ENV["WORKER_TTL_SECONDS"]) - 15

# What /healthz (in the test's process) reads from settings, scaled the same way.
COMPRESSED_HEALTH = {
    "HEALTH_WORKER_MAX_AGE_SECONDS": 3 * HEARTBEAT_SECONDS,
    "HEALTH_SCHEDULE_MAX_AGE_SECONDS": 15,
}


def compress_health(settings) -> None:
    for name, value in COMPRESSED_HEALTH.items():
        setattr(settings, name, value)


@contextmanager
def worker_dyno(env: dict[str, str]) -> Iterator[Process]:
    """The Procfile's worker process (its pool and its scheduler), stopped as Heroku stops a dyno."""
    worker = Process(procfile_command("worker"), env)
    try:
        yield worker
    finally:
        worker.stop()


def health(client) -> tuple[int, dict]:
    response = client.get(reverse("healthz"))
    return response.status_code, json.loads(response.content)


def wait_for_all_done_then_healthy(
    client, unfinished: Callable[[], int], *, since: float, what: str, slack_seconds: float = 0
) -> tuple[float, float]:
    """Seconds from `since` until nothing is unfinished (within two sweeps and the processing),
    then until /healthz answers 200 again."""
    bound = 2 * SWEEP_SECONDS + PROCESSING_ALLOWANCE_SECONDS + slack_seconds
    wait_until(lambda: unfinished() == 0, bound, what, every=0.5)
    done = time.monotonic() - since
    wait_until(lambda: health(client)[0] == 200, 30, "/healthz to answer 200 again", every=0.5)
    return done, time.monotonic() - since


def visitor():
    """A browser of the site's own, arriving over HTTPS."""
    from django.test import Client

    return Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})


def assert_no_process_exited(worker: Process) -> None:
    assert worker.poll() is None, worker.output()[-3000:]
    # The pool's workers rode it out in their own processes: none quit, none was replaced.
    assert "unhandled exception" not in worker.output(), worker.output()[-3000:]
    assert " is dead" not in worker.output(), worker.output()[-3000:]


def schedule_entry(name: str):
    """The schedule's registered entry of that name."""
    from scheduling import schedule

    [entry] = [entry for entry in schedule.entries() if entry.name == name]
    return entry
