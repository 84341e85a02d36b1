"""django-rq's rqworker-pool, defaulting to the queues' JSON serializer (see rqworker.py)."""

from __future__ import annotations

import importlib
from argparse import ArgumentParser

from project.redis_config import SERIALIZER

rqworker_pool = importlib.import_module("django_rq.management.commands.rqworker-pool")


class Command(rqworker_pool.Command):
    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(serializer=SERIALIZER)
