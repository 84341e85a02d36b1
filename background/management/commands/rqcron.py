"""django-rq's rqcron, enqueueing through the project's queues so jobs are JSON, and outliving Redis errors.

rq's CronJob.enqueue builds a bare Queue with the pickle serializer, which the JSON
workers would refuse; the project's queues carry the configured serializer.

rq's CronScheduler.start lets any Redis error end the process: a full Redis (OutOfMemoryError
at the minute's enqueue) or a frozen one (TimeoutError) stopped the clock for good, and with it
the sweeper that queues what the outage left behind. Here a Redis error is logged in one line,
the clock waits (1 s doubling to REDIS_RETRY_MAX_SECONDS) and tries again; a job that could not
be queued stays due, so the sweep runs at the first tick Redis takes, and the clock's
heartbeat puts it back in rq's registry if a flush or restart removed it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django_rq.cron import DjangoCronScheduler
from django_rq.management.commands import rqcron
from redis.exceptions import RedisError
from rq import cron_job_registry
from rq.cron import CronJob
from rq.exceptions import SchedulerNotFound, StopRequested
from rq.utils import now

from background import queues
from background.workers import RedisBackoff

# The clock's heartbeat comes at least this often, so /healthz can tell a stopped clock within
# a minute (rq's own clock sleeps up to 60 s between heartbeats).
TICK_SECONDS = 15


class JSONCronScheduler(DjangoCronScheduler):
    def enqueue_jobs(self) -> list[CronJob]:
        enqueue_time = now()
        due = [cron_job for cron_job in self._cron_jobs if cron_job.should_run()]
        for cron_job in due:
            queue = queues.get_queue(cron_job.queue_name)
            # rq types a cron job's func as optional; a registered job always has one.
            job = queue.enqueue(
                cron_job.func,  # type: ignore[type-var]
                args=cron_job.args,
                kwargs=cron_job.kwargs,
                **cron_job.job_options,
            )
            # Queued: not due again even if the bookkeeping below fails, so no second copy.
            cron_job.set_enqueue_time(enqueue_time)
            self.log.info("Enqueued %s on %s as job %s", cron_job.func_name, cron_job.queue_name, job.id)
            with self.connection.pipeline() as pipeline:
                pipeline.zadd(cron_job.job_history_key, {job.id: enqueue_time.timestamp()})
                cron_job_registry.add(cron_job.name, pipeline, enqueue_timestamp=enqueue_time.timestamp())
                pipeline.execute()
        return due

    def start(self) -> None:
        """rq's CronScheduler.start, waiting out Redis errors instead of exiting on them."""
        self.log.info("CronScheduler %s: starting...", self.name)
        self._install_signal_handlers()  # type: ignore[no-untyped-call]  # unannotated in rq
        backoff = RedisBackoff(self.log, f"CronScheduler {self.name}")
        born = False
        try:
            while True:
                try:
                    if not born:
                        self.register_birth()
                        born = True
                    if self.enqueue_jobs():
                        self.save()
                    self.heartbeat()
                except RedisError as error:
                    backoff.failed(error)
                    continue
                backoff.succeeded()
                time.sleep(min(self.calculate_sleep_interval(), TICK_SECONDS))
        except (KeyboardInterrupt, StopRequested):
            self.log.info("CronScheduler %s: stop requested", self.name)
        finally:
            try:
                self.register_death()
            except (RedisError, SchedulerNotFound) as error:
                # Its registry entry ages out on its own (rq drops it after 120 s).
                self.log.warning("CronScheduler %s: could not record its stop: %s", self.name, error)
            self.log.info("CronScheduler %s: shutdown complete", self.name)


class Command(rqcron.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = JSONCronScheduler(logging_level=getattr(logging, options["logging_level"]))
        scheduler.load_config_from_file(options["config_path"])
        # The project's client, which fails within half a second instead of redis-py's 5 s and
        # three retries: the loop above does the waiting, and the heartbeat stays on time.
        scheduler.connection = queues.connection()
        self.stdout.write(f"Starting cron scheduler with {len(scheduler.get_jobs())} jobs")
        try:
            scheduler.start()
        except KeyboardInterrupt:
            self.stdout.write("Cron scheduler stopped")
