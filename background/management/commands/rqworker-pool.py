"""django-rq's rqworker-pool, defaulting to the queues' JSON serializer (see rqworker.py).

It is the Procfile's worker: one parent that starts WORKER_CONCURRENCY workers (2 unless set),
starts a new one whenever one exits (crashed, or retired for memory), and on SIGTERM stops them
all. Each is a background.workers.InProcessWorker, and runs the scheduler (rq's pool always
does; one worker holds the lock). Two suit a standard-1X dyno: thumbnails are CPU-bound, so one
worker leaves a second core idle, and two 50 MP jobs at once fit its 512 MB (docs/performance.md
has the figures).

Redis errors do not end its workers: each waits and carries on in its own process, so the
pool does not replace them in a loop while Redis is full or away (background/workers.py).
"""

from __future__ import annotations

import importlib
import os
from argparse import ArgumentParser

from background.redis_config import SERIALIZER

rqworker_pool = importlib.import_module("django_rq.management.commands.rqworker-pool")

DEFAULT_WORKERS = 2


# Imported by name (it has a hyphen), so the type checker cannot see this base class.
class Command(rqworker_pool.Command):  # type: ignore[name-defined,misc]
    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        # Like gunicorn's WEB_CONCURRENCY: sized per dyno by a config var, not by editing the Procfile.
        parser.set_defaults(
            serializer=SERIALIZER, num_workers=int(os.environ.get("WORKER_CONCURRENCY") or DEFAULT_WORKERS)
        )
