"""How many Redis connections a worker dyno and a web dyno hold, counted by Redis itself.

The Procfile's `worker:` and `web:` lines run as on a dyno, against a Redis of the test's own;
a sampler reads `CLIENT LIST` every 0.1 s and attributes each connection to the process that
holds its local port. The worker dyno is counted idle, and while both of its workers run jobs
that use Redis (a plain call, a WATCH transaction, an enqueue; a job that calls the client while
its own WATCH holds a connection takes a second one, as it always did); the web dyno while 16 clients at
once ask /healthz, which uses Redis on every request. Connection pools never shrink, so the
peak stays in the count.

The figures go to artifacts/redis_connections.json, are printed, and feed README's Scaling.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import sys
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
import pytest
import redis

from tests.support.backend import COMPRESSED_ENV
from tests.support.processes import ROOT, Process, procfile_command, procfile_line, wait_until
from tests.support.redis_server import ThrowawayRedis

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MONITOR = "connections-monitor"
ARTIFACT = ROOT / "artifacts" / "redis_connections.json"
JOB_SECONDS = 4.0
RUNS_KEY = "test:connections:runs"
# Heroku Redis plans' connection limits that the facts note sources (shared notes, Dev Center):
# https://devcenter.heroku.com/articles/heroku-redis#available-plans
PLAN_LIMITS = {"heroku-redis:mini": 20, "heroku-redis:premium-0": 40}
# Before this change: the README's "about 8" per worker dyno.
WORKER_DYNO_BEFORE = 8


def redis_using_job(seconds: float) -> int:
    """A job that keeps using Redis the ways jobs here do, for `seconds`."""
    from queues import redis_client

    client = redis_client.connection()
    counter = f"test:connections:counter:{os.getpid()}"  # its own: the two jobs' WATCHes never clash
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        client.incr(counter)
        with client.pipeline() as pipe:
            pipe.watch(counter)
            pipe.get(counter)
            pipe.multi()
            pipe.set(f"{counter}:seen", 1)
            pipe.execute()
        redis_client.queue("low").enqueue(noop)
        time.sleep(0.05)
    client.rpush(RUNS_KEY, os.getpid())
    return os.getpid()


def noop() -> None:
    pass


class Sampler:
    """CLIENT LIST every 0.1 s; each connection named by the process of `tree` that holds it."""

    def __init__(self, server: ThrowawayRedis, tree: Process) -> None:
        self.server = server
        self.tree = tree
        self.peak: Counter[str] = Counter()
        self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def snapshot(self, client: redis.Redis) -> Counter[str]:
        roles: dict[int, str] = {}
        processes = self.tree.processes()
        root = processes[0].pid if processes else -1
        for process in processes:
            with contextlib.suppress(psutil.Error):
                role = self._role(process, root)
                for conn in process.net_connections(kind="tcp"):
                    if conn.raddr and conn.raddr.port == self.server.port:
                        roles.setdefault(conn.laddr.port, role)
        counts: Counter[str] = Counter()
        for entry in client.client_list():
            port = int(entry["addr"].rsplit(":", 1)[1])
            if entry.get("name") != MONITOR and port in roles:
                counts[roles[port]] += 1
        return counts

    @staticmethod
    def _role(process: psutil.Process, root: int) -> str:
        if process.pid == root:
            return "parent"
        if process.ppid() == root:
            return f"child {process.pid}"
        return f"grandchild {process.pid}"

    def _run(self) -> None:
        client = redis.Redis.from_url(self.server.url, client_name=MONITOR, socket_timeout=5)
        try:
            while not self._stop.wait(0.1):
                with contextlib.suppress(redis.RedisError):
                    counts = self.snapshot(client)
                    if sum(counts.values()) > self.peak_total:
                        self.peak_total, self.peak = sum(counts.values()), counts
        finally:
            client.close()

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def env(worker_env: dict[str, str], own_redis: ThrowawayRedis) -> dict[str, str]:
    return {
        **worker_env,
        **COMPRESSED_ENV,
        "REDIS_URL": own_redis.url,
        "DATABASE_SSL_REQUIRE": "0",
        "DJANGO_ENV_FILE": os.devnull,
    }


def worker_dyno_peak(server: ThrowawayRedis, env: dict[str, str]) -> dict[str, Any]:
    import django_rq

    dyno = Process(procfile_command("worker"), {**env, "DYNO": "worker.1"})
    try:
        client = server.client
        wait_until(lambda: len(client.smembers("rq:workers")) == 2, 60, "both workers to register")
        wait_until(lambda: client.get("background:schedule:lease"), 30, "the schedule's lease")
        with Sampler(server, dyno) as idle:
            time.sleep(3)
        from queues.config import SERIALIZER

        queue = django_rq.get_queue("default", connection=client, serializer=SERIALIZER)
        with Sampler(server, dyno) as busy:
            for _ in range(2):
                queue.enqueue(redis_using_job, JOB_SECONDS)
            try:
                wait_until(lambda: client.llen(RUNS_KEY) == 2, 60, "both jobs to finish", every=0.5)
            except AssertionError as error:
                raise AssertionError(f"{error}\n{dyno.output()[-6000:]}") from None
            time.sleep(1)
        pids = {int(pid) for pid in client.lrange(RUNS_KEY, 0, -1)}
        assert len(pids) == 2, f"one worker ran both jobs: {pids}\n{dyno.output()[-3000:]}"
        return {
            "idle": idle.peak_total,
            "idle_by_process": dict(idle.peak),
            "peak": busy.peak_total,
            "peak_by_process": dict(busy.peak),
        }
    finally:
        assert dyno.stop() == 0, dyno.output()[-3000:]


def web_dyno_peak(server: ThrowawayRedis, env: dict[str, str]) -> dict[str, Any]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = shlex.split(procfile_line("web"))
    argv[0] = os.path.join(os.path.dirname(sys.executable), argv[0])
    web_env = {**env, "PORT": str(port), "DYNO": "web.1", "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}"}
    web_env.pop("WEB_CONCURRENCY", None)
    web_env.pop("GUNICORN_THREADS", None)
    dyno = Process(argv, web_env)
    url = f"http://127.0.0.1:{port}/healthz"

    def get(_: int) -> int:
        request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # http://127.0.0.1 only
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    try:
        wait_until(lambda: dyno.output().count("Worker ready") >= 2, 60, "gunicorn's two workers")
        with Sampler(server, dyno) as busy, ThreadPoolExecutor(16) as pool:
            statuses = Counter(pool.map(get, range(800)))
            time.sleep(0.5)
        assert set(statuses) <= {200, 503}, (statuses, dyno.output()[-3000:])
        return {"peak": busy.peak_total, "peak_by_process": dict(busy.peak), "responses": dict(statuses)}
    finally:
        dyno.stop()


def test_a_worker_dyno_holds_fewer_redis_connections_and_the_plans_fit_more_of_them(
    env: dict[str, str], own_redis: ThrowawayRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = worker_dyno_peak(own_redis, env)
    web = web_dyno_peak(own_redis, env)
    # Web's worst case: every thread of every gunicorn process in a Redis call at once.
    web_worst = 2 * 4
    fits = {
        plan: {
            "worker_dynos_with_web_measured": (limit - web["peak"]) // worker["peak"],
            "worker_dynos_with_web_worst_case": (limit - web_worst) // worker["peak"],
        }
        for plan, limit in PLAN_LIMITS.items()
    }
    report = {"worker_dyno": worker, "web_dyno": {**web, "worst_case": web_worst}, "plans": fits}
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(report, indent=2) + "\n")
    with capsys.disabled():
        print(f"\nRedis connections: {json.dumps(report, indent=2)}")

    assert worker["peak"] < WORKER_DYNO_BEFORE, worker
    # Each worker: its own connection (lent to its jobs) and its pub/sub listener; the parent's
    # schedule; rq's scheduler process.
    assert worker["idle"] <= worker["peak"] <= 2 * 2 + 1 + 1, worker
    assert web["peak"] <= web_worst, web
