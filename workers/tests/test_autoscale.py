"""What an autoscaler reads: each queue's latency in stats.json, and no Judoscale unless configured.

Judoscale's reports from the Procfile's running processes are tests/system/test_autoscale.py's.
"""

from __future__ import annotations

import subprocess
import sys
import time

import django_rq
import pytest
from redis import Redis
from rq.job import Job

from queues.latency import queue_waits
from tests.support.processes import ROOT

QUEUES = ("high", "default", "low")
STATS = "/admin/django_rq/dashboard/stats.json"


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
