"""A PostgreSQL restart under the Procfile's running worker, on a throwaway server of the test's own.

The worker's connection dies with the server; the next job must get a fresh one (connections are
checked between jobs) instead of failing on the dead one, and the worker must live on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support import postgres_server
from tests.support.processes import ROOT, Process, procfile_command, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        postgres_server.unavailable_reason() is not None, reason=str(postgres_server.unavailable_reason())
    ),
]

# Runs in `manage.py shell` against the throwaway database: a chore written and queued after its
# commit, as a product's view would queue its durable work.
QUEUE_CHORE = """
from tests.support.chores import queue_chore
queue_chore({name!r})
"""


@pytest.fixture
def throwaway_postgres() -> Iterator[postgres_server.ThrowawayPostgres]:
    with postgres_server.ThrowawayPostgres() as server:
        yield server


@pytest.fixture
def app_env(throwaway_postgres, redis_url: str, tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": throwaway_postgres.url,
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PYTHONUNBUFFERED": "1",
    }
    manage(env, "migrate", "--noinput")
    return env


def manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def queue_chore(env: dict[str, str], name: str) -> None:
    manage(env, "shell", "-c", QUEUE_CHORE.format(name=name))


def status_of(url: str, name: str) -> str | None:
    try:
        with psycopg.connect(url, connect_timeout=5) as connection:
            row = connection.execute("SELECT status FROM workapp_chore WHERE name = %s", (name,)).fetchone()
    except psycopg.OperationalError:
        return None  # the server is restarting
    return row[0] if row else None


def test_jobs_succeed_after_postgres_restarts_under_a_running_worker(throwaway_postgres, app_env):
    worker = Process(procfile_command("worker"), app_env)
    try:
        queue_chore(app_env, "before")
        wait_until(lambda: status_of(throwaway_postgres.url, "before") == "done", 60, "the first chore")

        throwaway_postgres.restart()
        queue_chore(app_env, "after")

        wait_until(lambda: status_of(throwaway_postgres.url, "after") == "done", 60, "the chore after the restart")
        assert worker.poll() is None, worker.output()
    finally:
        worker.stop()
