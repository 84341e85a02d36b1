"""What an autoscaler reads: queue latency in stats.json, and Judoscale's reports (a real HTTP sink here).

The Judoscale tests run the Procfile's worker and web processes with JUDOSCALE_URL pointing at
a local sink, as tests/test_sentry.py does for Sentry. judoscale reports every 10 s, its first
report 10 s after a process starts, so each waits for a report within a generous bound.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import django_rq
import pytest
from redis import Redis
from rq.job import Job
from rq.registry import StartedJobRegistry

from queues.latency import queue_waits
from tests.support.http_sink import http_sink
from tests.support.processes import ROOT, Process, procfile_command, wait_until
from tests.support.web import procfile_web

QUEUES = ("high", "default", "low")
STATS = "/admin/django_rq/dashboard/stats.json"


class _Reports:
    """The JSON reports a sink received as (path, report), read afresh each time."""

    def __init__(self, received: list[tuple[str, bytes]]) -> None:
        self.received = received

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        return iter([(path, json.loads(body)) for path, body in list(self.received)])


@pytest.fixture
def judoscale_sink() -> Iterator[tuple[str, _Reports]]:
    # The add-on's URL has a path of its own; the adapter posts to <JUDOSCALE_URL>/v3/reports.
    with http_sink() as (port, received):
        yield f"http://127.0.0.1:{port}/api/app-token", _Reports(received)


def _metrics(report: dict[str, Any]) -> dict[tuple[str, str | None], int]:
    """{(measurement, queue): value}; judoscale sends [timestamp, value, measurement, queue] rows."""
    return {(measurement, queue): value for _, value, measurement, queue in report["metrics"]}


def _redis(redis_url: str) -> Redis:
    return Redis.from_url(redis_url)


# --- Latency in stats.json ------------------------------------------------------------------------


def _backdate(redis_url: str, job: Job, seconds: float) -> None:
    """Make a waiting job look as if it had been queued `seconds` ago."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() - seconds))
    _redis(redis_url).hset(job.key, "enqueued_at", stamp)


@pytest.mark.django_db
def test_stats_json_gives_each_queue_the_age_of_its_oldest_waiting_job(client, superuser, redis_url):
    default = django_rq.get_queue("default", commit_mode="auto")
    oldest = default.enqueue("time.sleep", 0)
    default.enqueue("time.sleep", 0)
    _backdate(redis_url, oldest, 120)
    client.force_login(superuser)

    queues = {queue["name"]: queue for queue in client.get(STATS).json()["queues"]}

    assert set(queues) == set(QUEUES)
    assert queues["default"]["jobs"] == 2
    assert 119 <= queues["default"]["oldest_job_age_seconds"] <= 125
    assert queues["high"]["oldest_job_age_seconds"] is None
    assert queues["low"]["oldest_job_age_seconds"] is None
    # What django-rq's own view gives is all still there.
    assert {"oldest_job_timestamp", "workers", "failed_jobs", "scheduled_jobs"} <= set(queues["default"])


@pytest.mark.django_db
def test_a_monitor_reads_the_latency_with_the_api_token_and_nobody_else_does(client, settings, redis_url):
    settings.RQ_API_TOKEN = "monitor-token-0123456789"
    job = django_rq.get_queue("low", commit_mode="auto").enqueue("time.sleep", 0)
    _backdate(redis_url, job, 30)

    response = client.get(STATS, headers={"Authorization": "Bearer monitor-token-0123456789"})
    queues = {queue["name"]: queue for queue in response.json()["queues"]}

    assert response.status_code == 200
    assert 29 <= queues["low"]["oldest_job_age_seconds"] <= 35
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert client.get(STATS, headers={"Authorization": "Bearer wrong"}).status_code == 302
    assert client.get(STATS).status_code == 302
    assert client.get(f"{STATS}/monitor-token-0123456789/").status_code == 302


def test_a_queue_whose_oldest_job_is_gone_counts_it_as_waiting_but_gives_no_age(redis_url):
    queue = django_rq.get_queue("high", commit_mode="auto")
    gone = queue.enqueue("time.sleep", 0)
    queue.enqueue("time.sleep", 0)
    _redis(redis_url).delete(gone.key)  # rq skips such an id when it dequeues

    waits = queue_waits(_redis(redis_url))

    assert list(waits) == list(QUEUES)
    assert waits["high"].waiting == 2
    assert waits["high"].oldest_age_seconds is None
    assert waits["default"].waiting == 0
    assert waits["default"].oldest_age_seconds is None


# --- Judoscale ----------------------------------------------------------------------------------


def test_without_a_judoscale_url_nothing_of_judoscale_is_loaded():
    code = """
import django, sys, threading
django.setup()
from django.conf import settings
print(sorted(name for name in sys.modules if name.startswith(("judoscale", "workers.autoscale"))))
print([name for name in settings.MIDDLEWARE if "judoscale" in name], threading.active_count())
"""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DJANGO_SECRET_KEY": "x" * 50,
        "DJANGO_ENV_FILE": "/dev/null",
    }
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)

    assert result.stdout.split("\n")[:2] == ["[]", "[] 1"], result.stderr


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_procfile_worker_reports_latency_and_depth_of_high_default_and_low_to_judoscale(
    judoscale_sink, worker_env, redis_url
):
    url, received = judoscale_sink
    queue = {name: django_rq.get_queue(name, commit_mode="auto") for name in QUEUES}
    # Two jobs that keep both of the pool's workers busy for 20 s (inside the 25 s job timeout),
    # so the jobs queued after them wait and each queue has a latency to report.
    started = time.time()
    for _ in range(2):
        queue["high"].enqueue("time.sleep", 20)
    env = {**worker_env, "JUDOSCALE_URL": url, "JUDOSCALE_CONTAINER": "worker.1", "WORKER_CONCURRENCY": "2"}

    with Process(procfile_command("worker"), env) as worker:
        busy = StartedJobRegistry("high", connection=_redis(redis_url))
        wait_until(lambda: busy.get_job_count(cleanup=False) == 2, 30, "both workers to be busy")
        queued_at = time.time()
        for name in QUEUES:
            queue[name].enqueue("time.sleep", 0)

        def report_with_every_queue_waiting() -> dict[str, Any] | None:
            for _, report in received:
                metrics = _metrics(report)
                if all(metrics.get(("qd", name), 0) >= 1 for name in QUEUES):
                    return report
            return None

        report = wait_until(report_with_every_queue_waiting, 60, "a report with high, default and low waiting", 0.5)
        seen_by = time.time()
        # judoscale's SIGTERM handler, installed when it is imported, leaves the pool's own in charge.
        stopping = time.monotonic()
        assert worker.stop() == 0, worker.output()
        print(f"worker stopped in {time.monotonic() - stopping:.1f} s")

    paths = {path for path, _ in received}
    metrics = _metrics(report)
    assert paths == {"/api/app-token/v3/reports"}
    assert report["container"] == "worker.1"
    # One reporter per dyno, in the pool's parent: its workers are forked after it started.
    assert {body["pid"] for _, body in received} == {worker.popen.pid}
    assert report["adapters"]["judoscale-rq"]["adapter_version"] == "1.14.0"
    for name in QUEUES:
        waited_ms = metrics[("qt", name)]
        # At least as long as our job had waited when the report was made (its timestamps are
        # whole seconds); at most as long as the worker has run (the schedule may have queued
        # an older job on low).
        assert (report["metrics"][0][0] - 1 - queued_at) * 1000 <= waited_ms <= (seen_by - started) * 1000
        assert waited_ms >= 1000, (name, waited_ms)
    assert metrics[("qd", "high")] == 1
    assert metrics[("qd", "default")] == 1
    print("judoscale report:", json.dumps({key: report[key] for key in ("container", "adapters", "metrics")}))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_procfile_web_reports_how_long_requests_waited_in_the_router_to_judoscale(judoscale_sink, worker_env):
    url, received = judoscale_sink
    env = {**worker_env, "JUDOSCALE_URL": url, "JUDOSCALE_CONTAINER": "web.1"}

    with procfile_web(env) as web:
        # Heroku's router stamps each request with when it arrived, in milliseconds.
        arrived = int((time.time() - 1.5) * 1000)
        for _ in range(4):  # so each of gunicorn's two workers is likely to see one
            connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
            connection.request("GET", "/login/", headers={"X-Request-Start": str(arrived)})
            assert connection.getresponse().status == 200
            connection.close()

        def web_report() -> dict[str, Any] | None:
            for _, report in received:
                if ("qt", None) in _metrics(report):
                    return report
            return None

        report = wait_until(web_report, 60, "a report of request queue time", 0.5)
        # judoscale's SIGTERM handler, installed in each gunicorn worker, hands on to gunicorn's.
        assert web.process.stop(grace=25) == 0, web.process.output()

    metrics = _metrics(report)
    assert report["container"] == "web.1"
    assert "judoscale-django" in report["adapters"]
    assert 1500 <= metrics[("qt", None)] < 60_000
    # The web reports the queues too, so their latency arrives while no worker dyno runs.
    assert {("qd", name) for name in QUEUES} <= set(metrics)
