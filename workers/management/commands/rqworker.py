"""django-rq's rqworker, but defaulting to the queues' JSON serializer and a 60 s worker TTL.

django-rq's own command defaults to pickle and overrides the queue setting, so a plain
`python manage.py rqworker high default` could not read this project's jobs. Its TTL default
(420 s) has an idle worker renew its heartbeat only every 405 s, which /healthz would take for
a dead worker; WORKER_TTL_SECONDS (60) gives one every 45 s (workers/conf.py).
"""

from __future__ import annotations

from argparse import ArgumentParser

from django_rq.management.commands import rqworker

from queues.config import SERIALIZER
from workers import conf


class Command(rqworker.Command):
    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)  # type: ignore[no-untyped-call]  # unannotated in django-rq
        parser.set_defaults(serializer=SERIALIZER, worker_ttl=conf.WORKER_TTL_SECONDS())
