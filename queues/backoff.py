"""Waiting out Redis errors: 1 s doubling to REDIS_RETRY_MAX_SECONDS, one log line per wait.

The worker runtime (workers/runtime.py) and the scheduler (scheduling/scheduler.py) both ride
out a Redis that is down, full or hung with it, instead of ending the process.
"""

from __future__ import annotations

import logging
import time

from queues import conf


class RedisBackoff:
    """Wait after a Redis error, 1 s doubling to REDIS_RETRY_MAX_SECONDS; one log line per wait.

    With `retry_seconds` every wait is that long instead, and the doubling only spaces the log
    lines: for a loop that must resume within its own period of Redis answering again.
    """

    FIRST_DELAY_SECONDS = 1.0

    def __init__(self, log: logging.Logger, who: str, *, retry_seconds: float | None = None) -> None:
        self.log = log
        self.who = who
        self.retry_seconds = retry_seconds
        self.failures = 0
        self.delay = self.FIRST_DELAY_SECONDS
        self._next_log_at = 0.0

    def failed(self, error: BaseException) -> None:
        """Log the error (when due) and sleep; a stop signal's handler may raise out of the sleep."""
        self.failures += 1
        wait = self.delay if self.retry_seconds is None else self.retry_seconds
        now = time.monotonic()
        if now >= self._next_log_at:
            message = str(error).splitlines()[0] if str(error) else ""
            self.log.warning(
                "%s: Redis error %s: %s; retrying in %.0f s", self.who, type(error).__name__, message, wait
            )
            self._next_log_at = now + self.delay
            self.delay = min(self.delay * 2, conf.REDIS_RETRY_MAX_SECONDS())
        time.sleep(wait)

    def succeeded(self) -> None:
        if self.failures:
            self.log.info("%s: Redis answers again after %d failed attempts", self.who, self.failures)
        self.failures = 0
        self.delay = self.FIRST_DELAY_SECONDS
        self._next_log_at = 0.0
