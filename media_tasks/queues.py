"""One Redis client per process for everything the web and the jobs ask of Redis.

django-rq builds a new client (and so a new TLS connection to Heroku Redis) on every
get_queue() call; with gunicorn threads that alone could exhaust Heroku Redis mini's 20
connections. redis-py clients are thread-safe and reconnect after a fork.
"""

from __future__ import annotations

from functools import lru_cache

import django_rq
from django.conf import settings
from django_rq.connection_utils import get_redis_connection
from redis import Redis
from rq import Queue


def connection(queue_name: str = "default") -> Redis:
    config = settings.RQ_QUEUES[queue_name]
    return _client(config["URL"], config.get("SSL_CERT_REQS", "required"))


def get_queue(name: str) -> Queue:
    """The named queue, enqueueing at once (callers only enqueue after their commit)."""
    return django_rq.get_queue(name, connection=connection(name), commit_mode="auto")


@lru_cache(maxsize=8)
def _client(url: str, ssl_cert_reqs: str | None) -> Redis:
    config = {"URL": url}
    if url.startswith("rediss://"):
        config["SSL_CERT_REQS"] = ssl_cert_reqs
    return get_redis_connection(config)
