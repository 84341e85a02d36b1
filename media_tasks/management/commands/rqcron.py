"""django-rq's rqcron, enqueueing through the project's queues so jobs are JSON.

rq's CronJob.enqueue builds a bare Queue with the pickle serializer, which the JSON
workers would refuse; the project's queues carry the configured serializer.
"""

from __future__ import annotations

import logging
from typing import Any

from django_rq.cron import DjangoCronScheduler
from django_rq.management.commands import rqcron
from rq import cron_job_registry
from rq.cron import CronJob
from rq.utils import now

from media_tasks import queues


class JSONCronScheduler(DjangoCronScheduler):
    def enqueue_jobs(self) -> list[CronJob]:
        enqueue_time = now()
        due = [cron_job for cron_job in self._cron_jobs if cron_job.should_run()]
        for cron_job in due:
            queue = queues.get_queue(cron_job.queue_name)
            job = queue.enqueue(cron_job.func, args=cron_job.args, kwargs=cron_job.kwargs, **cron_job.job_options)
            with self.connection.pipeline() as pipeline:
                pipeline.zadd(cron_job.job_history_key, {job.id: enqueue_time.timestamp()})
                cron_job_registry.add(cron_job.name, pipeline, enqueue_timestamp=enqueue_time.timestamp())
                pipeline.execute()
            cron_job.set_enqueue_time(enqueue_time)
            self.log.info("Enqueued %s on %s as job %s", cron_job.func_name, cron_job.queue_name, job.id)
        return due


class Command(rqcron.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = JSONCronScheduler(logging_level=getattr(logging, options["logging_level"]))
        scheduler.load_config_from_file(options["config_path"])
        self.stdout.write(f"Starting cron scheduler with {len(scheduler.get_jobs())} jobs")
        try:
            scheduler.start()
        except KeyboardInterrupt:
            self.stdout.write("Cron scheduler stopped")
