"""django-rq's rqworker, but defaulting to the queues' JSON serializer.

django-rq's own command defaults to pickle and overrides the queue setting, so a plain
`python manage.py rqworker high default` could not read this project's jobs.
"""

from __future__ import annotations

from argparse import ArgumentParser

from django_rq.management.commands import rqworker

from project.redis_config import SERIALIZER


class Command(rqworker.Command):
    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(serializer=SERIALIZER)
