"""Turn one REDIS_URL into django-rq's queue settings, so every Redis client agrees."""

from __future__ import annotations

from typing import Any

QUEUE_NAMES = ("high", "default", "low")

# Job ids only: JSON means nothing is ever unpickled from Redis.
# https://python-rq.org/docs/jobs/#serializers
SERIALIZER = "rq.serializers.JSONSerializer"

# Heroku sends SIGTERM and kills 30 s later; a job must fit inside that window.
# https://devcenter.heroku.com/articles/dynos#graceful-shutdown-with-sigterm
JOB_TIMEOUT_SECONDS = 25


def queue_config(redis_url: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "URL": redis_url,
        "DEFAULT_TIMEOUT": JOB_TIMEOUT_SECONDS,
        "SERIALIZER": SERIALIZER,
    }
    if redis_url.startswith("rediss://"):
        # Heroku Redis presents a self-signed certificate; django-rq ignores
        # REDIS_CLIENT_KWARGS for URL configs, so SSL_CERT_REQS is the only switch.
        # https://devcenter.heroku.com/articles/connecting-heroku-redis#connecting-in-python
        config["SSL_CERT_REQS"] = None
    return config


def rq_queues(redis_url: str) -> dict[str, dict[str, Any]]:
    return {name: queue_config(redis_url) for name in QUEUE_NAMES}
