"""Judoscale's reports from the Procfile's worker and web processes (a real HTTP sink here).

The processes run with JUDOSCALE_URL pointing at a local sink, as project/tests/test_sentry.py
does for Sentry. judoscale reports every 10 s, its first report 10 s after a process starts, so
each waits for a report within a generous bound.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import django_rq
import pytest
from redis import Redis
from rq.registry import StartedJobRegistry

from tests.support.http_sink import http_sink
from tests.support.processes import Process, procfile_command, wait_until
from tests.support.web import procfile_web

QUEUES = ("high", "default", "low")


def _redis(redis_url: str) -> Redis:
    return Redis.from_url(redis_url)


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
