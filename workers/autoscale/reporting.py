"""The queue metrics Judoscale scales worker dynos on, and the start of judoscale's reporter thread."""

from __future__ import annotations

import logging
import signal
import time
from importlib import metadata
from typing import Any

from django.conf import settings

# judoscale ships no type information.
from judoscale.core.adapter import Adapter, AdapterInfo  # type: ignore[import-untyped]
from judoscale.core.config import Config  # type: ignore[import-untyped]
from judoscale.core.config import config as judoscale_config
from judoscale.core.metric import Metric  # type: ignore[import-untyped]
from judoscale.core.metrics_collectors import JobMetricsCollector  # type: ignore[import-untyped]
from judoscale.core.reporter import reporter  # type: ignore[import-untyped]
from judoscale.rq.collector import DEFAULTS as RQ_DEFAULTS  # type: ignore[import-untyped]
from redis.exceptions import RedisError
from rq.registry import StartedJobRegistry

from queues import redis_client
from queues.config import QUEUE_NAMES
from queues.latency import queue_waits
from workers.runtime import STOP_SIGNALS

logger = logging.getLogger(__name__)

# What judoscale's RQ integration calls itself in a report; Judoscale shows it by this name.
ADAPTER = "judoscale-rq"


class QueueMetricsCollector(JobMetricsCollector):  # type: ignore[misc]  # untyped base class
    """Latency and depth of each queue, read without deserialising any job (see the package docstring).

    judoscale's RQ options apply as documented (ENABLED, QUEUES, MAX_QUEUES, TRACK_BUSY_JOBS);
    with no QUEUES configured it reports the project's three instead of every queue Redis knows.
    """

    def __init__(self, config: Config) -> None:
        super().__init__(config=config)
        self.config["RQ"] = {**RQ_DEFAULTS, **self.config.get("RQ", {})}

    @property
    def adapter_config(self) -> dict[str, Any]:
        rq_config: dict[str, Any] = self.config["RQ"]
        return rq_config

    @property
    def _queues(self) -> list[str]:
        return list(QUEUE_NAMES)

    def collect(self) -> list[Metric]:
        if not self.should_collect:
            return []
        names = sorted(self.queues)
        redis = redis_client.connection()
        try:
            waits = queue_waits(redis, names)
            busy = {name: self._busy(redis, name) for name in names} if self.adapter_config["TRACK_BUSY_JOBS"] else {}
        except RedisError as error:
            # One line per report while Redis is away, not judoscale's traceback every 10 s.
            logger.warning("judoscale: queue metrics skipped, Redis unreachable: %s", error)
            return []
        now = time.time()
        metrics = []
        for name, wait in waits.items():
            if wait.waiting == 0:
                metrics.append(Metric.for_queue(queue_name=name, oldest_job_ts=now))
            elif wait.oldest_age_seconds is not None:
                metrics.append(Metric.for_queue(queue_name=name, oldest_job_ts=now - wait.oldest_age_seconds))
            metrics.append(Metric.for_queue_depth(queue_name=name, depth=wait.waiting))
            if name in busy:
                metrics.append(Metric.for_busy_queue(queue_name=name, busy_jobs=busy[name]))
        return metrics

    @staticmethod
    def _busy(redis: Any, name: str) -> int:
        # Without the registry's clean-up, which would write and deserialise jobs from the reporter thread.
        return StartedJobRegistry(name, connection=redis).get_job_count(cleanup=False)


def start() -> None:
    """Register the queue metrics with judoscale's reporter and start its thread; once per process."""
    judoscale_config.update({**getattr(settings, "JUDOSCALE", {}), "API_BASE_URL": settings.JUDOSCALE_URL})
    if not judoscale_config.is_enabled or any(adapter.identifier == ADAPTER for adapter in reporter.adapters):
        return
    reporter.add_adapter(
        Adapter(
            identifier=ADAPTER,
            adapter_info=AdapterInfo(runtime_version=metadata.version("rq")),
            metrics_collector=QueueMetricsCollector(judoscale_config),
        )
    )
    # The thread inherits this mask, so a dyno's SIGTERM reaches the main thread and its handler
    # at once instead of landing in a thread that sleeps (workers/runtime.py says why).
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        reporter.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
