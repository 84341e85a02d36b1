"""One Redis client per process for everything the web and the jobs ask of Redis.

django-rq builds a new client (and so a new TLS connection to Heroku Redis) on every
get_queue() call; with gunicorn threads that alone could exhaust Heroku Redis mini's 20
connections. redis-py clients are thread-safe and reconnect after a fork.

Every call made through it fails fast: Redis answers in a millisecond or two when it is well,
and a request must not wait out a hung or unreachable Redis (redis-py's defaults retry three
times with backoff, which made an upload wait 28 s). Queueing that fails leaves its row for the
sweeper, a rate limit is skipped, /healthz reports it. rq's workers make their own connections,
with the long read timeout their blocking dequeue needs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import django_rq
from django.conf import settings
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue

# Seconds to connect, and to wait for any one reply; two calls in a request then cost at most a
# second when Redis hangs.
TIMEOUT_SECONDS = 0.5


def connection(queue_name: str = "default") -> Redis:
    config = settings.RQ_QUEUES[queue_name]
    return _client(config["URL"], config.get("SSL_CERT_REQS", "required"))


def get_queue(name: str) -> Queue:
    """The named queue, enqueueing at once (callers only enqueue after their commit)."""
    return django_rq.get_queue(name, connection=connection(name), commit_mode="auto")


@lru_cache(maxsize=8)
def _client(url: str, ssl_cert_reqs: str | None) -> Redis:
    options: dict[str, Any] = {
        "socket_timeout": TIMEOUT_SECONDS,
        "socket_connect_timeout": TIMEOUT_SECONDS,
        "retry": Retry(NoBackoff(), 0),
    }
    if url.startswith("rediss://"):
        options["ssl_cert_reqs"] = ssl_cert_reqs
    return Redis.from_url(url, **options)
