"""/healthz, as an uptime monitor sees it."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.support.processes import Process, procfile_command, wait_until

pytestmark = pytest.mark.django_db


def health(client) -> tuple[int, dict]:
    response = client.get(reverse("healthz"))
    return response.status_code, json.loads(response.content)


def test_without_a_worker_the_site_reports_degraded(client):
    status, body = health(client)

    assert status == 503
    assert body["status"] == "degraded"
    assert body["database"] == {"ok": True}
    assert body["redis"] == {"ok": True}
    assert body["workers"]["count"] == 0
    assert body["queues"] == {"high": 0, "default": 0, "low": 0}


@pytest.mark.slow
def test_with_a_worker_running_the_site_is_healthy_and_shows_queue_depths(client, worker_env):
    worker = Process(procfile_command("worker"), worker_env)
    try:
        wait_until(lambda: health(client)[0] == 200, 30, "the worker's first heartbeat")
    finally:
        worker.stop()
    status, body = health(client)  # the worker said goodbye: its heartbeat is gone

    assert status == 503
    assert body["workers"]["count"] == 0


def test_health_reports_an_unreachable_redis_without_secrets(client, settings):
    from project.redis_config import rq_queues

    settings.RQ_QUEUES = rq_queues("redis://:supersecret@127.0.0.1:9/0")

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert json.loads(response.content)["redis"] == {"ok": False, "error": "ConnectionError"}
    assert b"supersecret" not in response.content
    assert response["Cache-Control"].startswith("max-age=0")
