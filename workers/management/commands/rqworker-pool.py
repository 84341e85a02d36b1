"""django-rq's rqworker-pool, defaulting to the queues' JSON serializer (see rqworker.py), and running the schedule.

It is the Procfile's worker: one parent that starts WORKER_CONCURRENCY workers (2 unless set),
starts a new one whenever one exits (crashed, or retired for memory), and on SIGTERM stops them
all. Each is a workers.runtime.InProcessWorker, and runs rq's scheduler, which moves retries
to their queues when due (rq's pool always does; one worker holds its lock). Two suit a
standard-1X dyno: a CPU-bound job keeps one core busy, so one worker leaves the second idle, and
two workers with a large job each still fit its 512 MB (docs/performance.md has the figures).

The parent also runs the project's schedule (scheduling/scheduler.py) in a thread: every worker
dyno competes for its lease and the holder queues the recurring jobs, so the schedule needs no
process type of its own. On SIGTERM or SIGINT the thread stops and hands the lease back before
the workers have finished. `python manage.py rqworker` (one bare worker) does not run it.

Redis errors do not end its workers: each waits and carries on in its own process, so the
pool does not replace them in a loop while Redis is full or away (workers/runtime.py).
"""

from __future__ import annotations

import importlib
import os
from argparse import ArgumentParser
from typing import Any

from django_rq.jobs import get_job_class
from django_rq.queues import get_queues
from django_rq.utils import reset_db_connections
from django_rq.workers import get_worker_class
from rq.logutils import setup_loghandlers
from rq.serializers import resolve_serializer
from rq.worker_pool import WorkerPool

from queues import redis_client
from queues.config import SERIALIZER
from scheduling.scheduler import Scheduler, SchedulerThread
from workers import conf

rqworker_pool = importlib.import_module("django_rq.management.commands.rqworker-pool")


class ScheduledWorkerPool(WorkerPool):
    """rq's pool, whose stop signal also stops the dyno's scheduler."""

    def __init__(self, *args: Any, scheduler: SchedulerThread, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scheduler = scheduler

    def request_stop(self, signum: int | None = None, frame: Any = None) -> None:
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]  # unannotated in rq
        # After the workers were told: they have the most to finish.
        self.scheduler.stop()


# Imported by name (it has a hyphen), so the type checker cannot see this base class.
class Command(rqworker_pool.Command):  # type: ignore[name-defined,misc]
    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(serializer=SERIALIZER, num_workers=conf.WORKER_CONCURRENCY())

    def handle(self, *args: str, **options: Any) -> None:
        """django-rq 4.2's handle, with the scheduler started beside the pool and stopped with it."""
        pid = options.get("pid")
        if pid:
            with open(os.path.expanduser(pid), "w") as pid_file:
                pid_file.write(str(os.getpid()))
        verbosity: int = options["verbosity"]
        logging_level = "DEBUG" if verbosity >= 2 else "WARNING" if verbosity == 0 else "INFO"
        setup_loghandlers(logging_level)

        job_class = get_job_class(options["job_class"])
        worker_queues = get_queues(*args, job_class=job_class, queue_class=options["queue_class"])
        # The project's fail-fast client: a hung Redis costs a tick half a second, and the
        # thread's backoff does the waiting (queues/redis_client.py).
        scheduler = SchedulerThread(Scheduler(redis_client.connection()))
        pool = ScheduledWorkerPool(
            queues=worker_queues,
            connection=worker_queues[0].connection,
            num_workers=options["num_workers"],
            serializer=resolve_serializer(options["serializer"]),
            worker_class=get_worker_class(options.get("worker_class")),
            job_class=job_class,
            scheduler=scheduler,
        )
        # Close any database connection before the pool forks its workers.
        reset_db_connections()
        scheduler.start()
        try:
            pool.start(burst=options.get("burst", False), logging_level=logging_level)
        finally:
            scheduler.stop()
