from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support import redis_server, smtp

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database that belongs to this test run alone (see tests/support/redis_server.py)."""
    with redis_server.redis_for_tests(os.environ.get("REDIS_URL")) as url:
        yield url


@pytest.fixture(autouse=True)
def _queues_on_test_redis(redis_url: str, settings) -> Iterator[None]:
    from queues.config import rq_queues

    settings.RQ_QUEUES = rq_queues(redis_url)
    yield
    redis_server.empty(redis_url)


@pytest.fixture(autouse=True)
def _health_remembers_nothing_of_earlier_tests(monkeypatch) -> None:
    # /healthz keeps what it saw of the workers across a FLUSHALL, in the process; each test
    # starts with a process that has seen nothing, as a new web dyno does.
    from web import health

    monkeypatch.setattr(health, "_seen", health._Seen())


@pytest.fixture
def own_redis(settings) -> Iterator[redis_server.ThrowawayRedis]:
    """A Redis server of the test's own, which it may fill, freeze, flush or restart."""
    from queues import redis_client
    from queues.config import rq_queues

    with redis_server.ThrowawayRedis() as server:
        settings.RQ_QUEUES = rq_queues(server.url)
        redis_client._client.cache_clear()
        yield server
    redis_client._client.cache_clear()


@pytest.fixture(autouse=True)
def _outbox_delivers_to_locmem(settings) -> None:
    # Django's test setup makes every mailer locmem, which would skip the outbox: keep the outbox
    # and let its job deliver into django.core.mail.outbox instead.
    from project.settings import MAILERS

    settings.MAILERS = {**MAILERS, "delivery": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


@pytest.fixture(autouse=True)
def _media_in_tmp(tmp_path: Path, settings) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _static_files_without_collectstatic(settings) -> None:
    # The manifest exists only after collectstatic; test_settings.py checks that step itself.
    settings.STATIC_ROOT = None
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def client():
    """Django's test client, arriving over HTTPS as Heroku's router says it does."""
    from django.test import Client

    return Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})


@pytest.fixture
def user(django_user_model):
    """A person who has confirmed their address, so may upload; tests of unconfirmed ones make their own."""
    from django.utils import timezone

    return django_user_model.objects.create_user(
        email="ada@example.com", password="a-long-passphrase-42", email_confirmed_at=timezone.now()
    )


@pytest.fixture
def signed_in_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(email="root@example.com", password="root-long-passphrase-1")


@pytest.fixture
def smtp_server() -> Iterator[smtp.CapturingSMTPServer]:
    with smtp.CapturingSMTPServer() as server:
        yield server


@pytest.fixture
def worker_env(redis_url: str, settings, _media_in_tmp: Path) -> dict[str, str]:
    """Environment for a worker process that sees the test database, Redis and media."""
    from django.db import connection

    return {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(_media_in_tmp),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def run_worker(worker_env: dict[str, str]):
    """Run `manage.py rqworker <queues> --burst` as its own process until the queues are empty."""

    def run(
        *queues: str, extra_env: dict[str, str] | None = None, cwd: Path = ROOT
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "rqworker", *queues, "--burst"],
            cwd=cwd,
            env={**worker_env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    return run


def database_url(settings_dict: dict) -> str:
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{settings_dict['NAME']}"
    auth = quote(settings_dict["USER"] or "")
    if settings_dict["PASSWORD"]:
        auth += ":" + quote(settings_dict["PASSWORD"])
    host = settings_dict["HOST"] or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{settings_dict['NAME']}"
