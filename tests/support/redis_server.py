"""The Redis the tests use: a server of their own, or a REDIS_URL database they claim.

Their own server is the one `python3 dev.py run` would start on this machine (dev.py's
find_redis_server): the embedded Valkey where its wheel fits, else valkey-server or
redis-server on PATH. Starting it is devtools/redis_server.py's, which bench/ shares.

A database named by REDIS_URL is only used if it is empty or was claimed by an earlier
run of this suite, so the tests never flush data that is not theirs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

import dev
from devtools.redis_server import free_port, redis_server
from devtools.redis_server import redis_server_binary as redis_server_binary

CLAIM_KEY = "django-rq-template:test-suite-owns-this-db"


@contextmanager
def redis_for_tests(redis_url: str | None) -> Iterator[str]:
    if redis_url:
        redis_url = for_this_xdist_worker(redis_url)
        claim(redis_url)
        yield redis_url
        empty(redis_url)
        return
    try:
        redis_server_binary()  # says what to install before anything starts
    except dev.RedisServerMissing as error:
        pytest.exit(str(error), returncode=2)
    with tempfile.TemporaryDirectory(prefix="tests-redis-") as data_dir, redis_server(Path(data_dir)) as url:
        claim(url)
        yield url


def for_this_xdist_worker(url: str) -> str:
    """Under pytest-xdist, worker gwN takes database N places after REDIS_URL's, so workers never share one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    database = int(parts.path.lstrip("/") or 0) + int(worker[2:])
    return urlunsplit(parts._replace(path=f"/{database}"))


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


class ThrowawayRedis:
    """A Redis server of a test's own on a free port, for a test that fills, freezes, flushes or stops it.

    Never the machine's Redis (6379) or the suite's shared one: what these tests do to it would
    break every other test using it. The same server binary `dev.py run` would use (the embedded
    Valkey, or a redis-server/valkey-server on PATH). Nothing is written to disk.
    """

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or redis_server_binary()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.client = redis.Redis.from_url(self.url, socket_timeout=5)
        self._filler_keys: list[str] = []
        self.start()

    def start(self) -> None:
        """Start the server (again, after stop(): same port, empty, like a Redis restarted by its host)."""
        self._process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.05)

    def fill(self, headroom_bytes: int = 1024 * 1024, chunk_bytes: int = 64 * 1024, *, hold: bool = True) -> int:
        """Cap memory just above what is in use, with Heroku's noeviction, and write until refused.

        With `hold`, the cap then goes a margin below what is used, so that the small deletions a
        running system makes (a job taken, a key expiring) cannot bring it back under and let
        writes through now and then: it stays full until free(). Without, it stays at its
        maxmemory as a Redis filled by its own traffic does, taking a write whenever something
        has just been freed. Returns the bytes of filler written.
        """
        used = int(self.client.info("memory")["used_memory"])
        self.client.config_set("maxmemory-policy", "noeviction")
        self.client.config_set("maxmemory", str(used + headroom_bytes))
        written = 0
        chunk = b"x" * chunk_bytes
        while True:
            key = f"filler:{len(self._filler_keys)}"
            try:
                self.client.set(key, chunk)
            except redis.exceptions.OutOfMemoryError:
                break
            self._filler_keys.append(key)
            written += chunk_bytes
        if hold:
            used = int(self.client.info("memory")["used_memory"])
            self.client.config_set("maxmemory", str(used - headroom_bytes // 2))
        return written

    def free(self) -> None:
        """Delete the filler (DEL is allowed on a full Redis) and lift the cap."""
        for start in range(0, len(self._filler_keys), 500):
            self.client.delete(*self._filler_keys[start : start + 500])
        self._filler_keys.clear()
        self.client.config_set("maxmemory", "0")

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers, as on a hung host."""
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._process.poll() is None:
            self.thaw()  # a stopped process would not act on SIGTERM
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self.client.close()

    def __enter__(self) -> ThrowawayRedis:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
