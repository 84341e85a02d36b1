"""The fixtures every test may use, wherever it lives (<app>/tests/ or tests/)."""

from __future__ import annotations

import os
import runpy
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from tests.support import redis_server, smtp

ROOT = Path(__file__).resolve().parent


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
def _fast_password_hashing(request: pytest.FixtureRequest, settings) -> None:
    # PBKDF2's million rounds are the point in production and half a second per sign-up or
    # login here, where rate-limit tests log in twenty times; a test that times the hashing
    # itself asks for the real one with @pytest.mark.real_password_hashing. One round of the
    # same hasher, not MD5: a web process a test starts must check the passwords it made.
    # https://docs.djangoproject.com/en/6.0/topics/testing/overview/#password-hashing
    if request.node.get_closest_marker("real_password_hashing") is None:
        settings.PASSWORD_HASHERS = ["tests.support.hashers.OneRoundPBKDF2PasswordHasher"]


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

    from work.conformance import database_url

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


@pytest.fixture
def fast_schedule(settings) -> dict[str, str]:
    """Email retries after seconds instead of hours (tests/support/outbox.py), here and in a worker's environment."""
    from tests.support.outbox import FAST_SCHEDULE, schedule_env

    # The process that queues an email builds its rq Retry; the worker counts the attempts.
    settings.EMAIL_RETRY_SCHEDULE = FAST_SCHEDULE
    return schedule_env(FAST_SCHEDULE)


@pytest.fixture
def start_worker(worker_env: dict[str, str], fast_schedule: dict[str, str]) -> Iterator:
    """Start the Procfile's worker (with the fast email schedule); each is stopped after the test."""
    from tests.support.processes import Process, procfile_command

    started: list[Process] = []

    def start(*, extra_env: dict[str, str] | None = None, burst: bool = False) -> Process:
        argv = procfile_command("worker") + (["--burst"] if burst else [])
        process = Process(argv, {**worker_env, **fast_schedule, **(extra_env or {})})
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def short_lease(settings) -> dict[str, str]:
    """Claims that lapse after seconds (tests/support/leases.py), here and in a worker's environment."""
    from tests.support.leases import LEASE_SECONDS

    settings.WORK_CLAIM_LEASE_SECONDS = LEASE_SECONDS
    settings.WORK_STALE_SECONDS = 0
    return {"WORK_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS)}


@pytest.fixture
def backend_env(worker_env: dict[str, str], own_redis, smtp_server, settings) -> dict[str, str]:
    """A worker's environment on the test's own Redis, with time compressed (tests/support/backend.py)."""
    from tests.support.backend import COMPRESSED_ENV, compress_health

    compress_health(settings)
    # The test signs up far more than people would in a minute, and times requests, not PBKDF2.
    settings.RATE_LIMITS = {scope: (10_000, 60) for scope in settings.RATE_LIMITS}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return {**worker_env, **COMPRESSED_ENV, **smtp_server.env, "REDIS_URL": own_redis.url}


@pytest.fixture
def hung_redis(settings) -> Iterator[str]:
    """A server that accepts connections and never answers, like a Redis frozen by SIGSTOP."""
    from queues import redis_client
    from queues.config import rq_queues

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    settings.RQ_QUEUES = rq_queues(url)
    redis_client._client.cache_clear()
    try:
        yield url
    finally:
        stop.set()
        thread.join()
        for sock in accepted:
            sock.close()
        listener.close()
        redis_client._client.cache_clear()


@pytest.fixture(params=["person", "superuser"])
def visitor(request, django_user_model):
    """A signed-in person, then a superuser (past the admin's and the dashboard's login), with a job queued."""
    import django_rq
    from django.test import Client

    client = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"}, raise_request_exception=False)
    if request.param == "superuser":
        person = django_user_model.objects.create_superuser(email="root@example.com", password="root-passphrase-1")
    else:
        person = django_user_model.objects.create_user(email="ada@example.com", password="ada-passphrase-12")
    client.force_login(person)
    # Something in the queues, so the dashboard's lookups have data to miss.
    django_rq.get_queue("default", commit_mode="auto").enqueue("tests.workapp.jobs.do_chore", 1)
    return client


# --- An S3-protocol server (tests/support/s3.py: which one, its bucket and credentials) ----------


@pytest.fixture(scope="session")
def localstack_endpoint() -> Iterator[str]:
    """LocalStack's S3 as its own process, one per pytest process (each xdist worker has its own)."""
    from tests.support import localstack

    with localstack.localstack_s3() as endpoint:
        yield endpoint


@pytest.fixture
def s3_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """The S3 server's endpoint, with no bucket at the start and end of each test.

    moto: a server on a free port of 127.0.0.1 (port 0: the OS picks one) for each test.
    LocalStack: this pytest process's server, emptied (it has no reset).
    """
    from moto.server import ThreadedMotoServer

    from tests.support import localstack
    from tests.support.s3 import ON_LOCALSTACK, reset_moto

    if ON_LOCALSTACK:
        endpoint = request.getfixturevalue("localstack_endpoint")
        localstack.empty(endpoint)
        try:
            yield endpoint
        finally:
            localstack.empty(endpoint)
        return
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its buckets per process, not per server: start and leave every test with none.
    reset_moto(endpoint)
    try:
        yield endpoint
    finally:
        reset_moto(endpoint)
        server.stop()


@pytest.fixture
def s3_client(s3_endpoint: str):
    import boto3

    from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY

    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


@pytest.fixture
def bucket(s3_client) -> str:
    from tests.support.s3 import BUCKET

    s3_client.create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def s3_env(s3_endpoint: str, bucket: str) -> dict[str, str]:
    """The config vars a deploy would set to store media in this bucket."""
    from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY

    return {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
    }


@pytest.fixture
def s3_media(settings, s3_env: dict[str, str], s3_endpoint: str):
    """This process stores media in the bucket, with the storage project/settings.py builds from s3_env."""
    from django.core.files.storage import default_storage
    from storages.backends.s3 import S3Storage

    from tests.support.s3 import BUCKET

    # Run the real settings module with those variables (os.environ is restored afterwards),
    # so the OPTIONS used here are exactly the ones a deploy gets.
    with mock.patch.dict(os.environ, {**s3_env, "DJANGO_ENV_FILE": os.devnull}):
        built = runpy.run_path(str(ROOT / "project" / "settings.py"))["STORAGES"]["default"]
    assert built["BACKEND"] == "storages.backends.s3.S3Storage"
    settings.STORAGES = {**settings.STORAGES, "default": built}
    # setting_changed resets the cached storages, so default_storage is now the S3 one.
    default_storage.bucket_name  # noqa: B018 - evaluates the lazy object
    storage = default_storage._wrapped
    assert type(storage) is S3Storage
    assert (storage.bucket_name, storage.endpoint_url) == (BUCKET, s3_endpoint)
    return storage


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The longest tests first, so that in a parallel run they start at once and the short ones
    # fill the gaps beside them, instead of one starting last and running alone for minutes.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
