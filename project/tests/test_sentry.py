"""Errors reach Sentry from the web and from workers when SENTRY_DSN is set (a real HTTP sink here)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.urls import reverse

from tests.support.http_sink import http_sink
from tests.support.processes import ROOT, Process, procfile_command, wait_until


class _Bodies:
    """The bodies a sink received, read afresh each time (the list grows while a test waits)."""

    def __init__(self, received: list[tuple[str, bytes]]) -> None:
        self.received = received

    def __iter__(self) -> Iterator[bytes]:
        return iter([body for _, body in list(self.received)])


@pytest.fixture
def sentry_sink() -> Iterator[tuple[str, _Bodies]]:
    with http_sink() as (port, received):
        yield f"http://publickey@127.0.0.1:{port}/1", _Bodies(received)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_failing_job_is_reported_from_the_procfile_worker(sentry_sink, signed_in_client, worker_env):
    dsn, received = sentry_sink
    import django_rq

    django_rq.get_queue("default", commit_mode="auto").enqueue("tests.workapp.jobs.do_chore", "not-an-id")

    # The Procfile's worker runs jobs without a work horse: Sentry must hook that class too.
    worker = Process([*procfile_command("worker"), "--burst"], {**worker_env, "SENTRY_DSN": dsn})
    assert worker.wait(60) == 0, worker.output()

    wait_until(lambda: any(b"ValueError" in body for body in received), 10, "the worker's error event")
    assert any(b"tests.workapp.jobs.do_chore" in body for body in received)


def test_a_failing_request_is_reported_from_the_web(sentry_sink):
    dsn, received = sentry_sink
    script = f"""
import django, os, sentry_sdk
django.setup()
from unittest import mock
from django.test import Client
client = Client(raise_request_exception=False, headers={{"Host": "testserver", "X-Forwarded-Proto": "https"}})
with mock.patch("web.health._database", side_effect=RuntimeError("forced fault for the test")):
    print(client.get("{reverse("healthz")}").status_code)
sentry_sdk.flush()
"""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DJANGO_SECRET_KEY": "x" * 50,
        "DJANGO_ENV_FILE": "/dev/null",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "SENTRY_DSN": dsn,
    }
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)

    assert result.stdout.strip() == "500", result.stderr
    wait_until(lambda: any(b"forced fault for the test" in body for body in received), 10, "the web's error event")


def test_without_a_dsn_sentry_is_not_loaded():
    code = "import django; django.setup(); import sys; print('sentry_sdk' in sys.modules)"
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "project.settings", "DJANGO_SECRET_KEY": "x" * 50}
    env["DJANGO_ENV_FILE"] = "/dev/null"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)

    assert result.stdout.strip() == "False", result.stderr
