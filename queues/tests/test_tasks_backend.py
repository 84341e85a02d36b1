"""Django's Tasks API (`@task`) on rq (queues/tasks_backend.py), run by the Procfile's worker."""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterator
from datetime import timedelta

import django_rq
import pytest
from django.db import transaction
from django.tasks import TaskResultStatus, default_task_backend, task_backends
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone
from django_rq.settings import get_queues_map
from rq.job import JobStatus

from queues import redis_client
from queues.tasks_backend import RQBackend, exception_class_path, task_status
from tests.support.processes import Process, procfile_command, wait_until
from tests.workapp.jobs import ping
from tests.workapp.models import Ping
from tests.workapp.tasks import add, ping_value

DASHBOARD = "/admin/django_rq/dashboard/"
# Starting the pool and running a job on a busy 2-core machine.
RUN_SECONDS = 90


@pytest.fixture
def start_worker(worker_env) -> Iterator:
    """The Procfile's worker command as it stands, with --burst if asked."""
    started: list[Process] = []

    def start(*, burst: bool = False) -> Process:
        process = Process(procfile_command("worker") + (["--burst"] if burst else []), worker_env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def finished(task, result_id: str, worker: Process):
    def done():
        try:
            result = task.get_result(result_id)
        except TaskResultDoesNotExist:
            return None
        return result if result.is_finished else None

    try:
        return wait_until(done, RUN_SECONDS, f"task {result_id} to finish", every=0.3)
    except AssertionError:
        print(worker.output())
        raise


def redis_job_keys() -> list[bytes]:
    return redis_client.connection().keys("rq:job:*")


@pytest.mark.slow
@pytest.mark.urls("tests.workapp.urls")
@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_in_a_view_runs_on_the_procfile_worker_after_the_commit_and_get_result_reads_it_back(
    client, superuser, start_worker
):
    worker = start_worker()

    response = client.post("/test/ping/", {"value": "42"})

    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "READY"
    # The task reads the row the view wrote: it would fail had it run before the commit.
    result = finished(ping_value, answer["result_id"], worker)
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert result.return_value == 42
    assert result.args == [answer["ping_id"]]
    assert result.errors == []
    assert result.attempts == 1 and result.worker_ids[0]
    assert result.enqueued_at <= result.started_at == result.last_attempted_at <= result.finished_at
    assert result.task.queue_name == "high"

    client.force_login(superuser)
    registry = client.get(f"{DASHBOARD}queues/{get_queues_map()['high']}/finished/")
    assert registry.status_code == 200
    assert result.id in registry.content.decode()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_get_result_reports_a_failed_task_with_its_error_and_an_async_tasks_return_value(start_worker):
    missing = ping_value.enqueue(424242)
    async_sum = add.enqueue(2, 3)

    worker = start_worker(burst=True)
    failed = finished(ping_value, missing.id, worker)
    summed = finished(add, async_sum.id, worker)

    assert failed.status == TaskResultStatus.FAILED
    [error] = failed.errors
    assert error.exception_class_path == "tests.workapp.models.Ping.DoesNotExist"
    assert "Ping matching query does not exist" in error.traceback
    with pytest.raises(ValueError, match="Task failed"):
        _ = failed.return_value
    assert failed.attempts == 1
    assert (summed.status, summed.return_value) == (TaskResultStatus.SUCCESSFUL, 5)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_deferred_task_is_scheduled_at_the_commit_and_run_after_its_time(start_worker):
    row = Ping.objects.create(value=7)
    run_after = timezone.now() + timedelta(seconds=3)

    with transaction.atomic():
        result = ping_value.using(run_after=run_after).enqueue(row.pk)
        assert redis_job_keys() == []
    assert django_rq.get_queue("high").scheduled_job_registry.get_job_ids() == [result.id]
    assert ping_value.get_result(result.id).status == TaskResultStatus.READY

    worker = start_worker()
    done = finished(ping_value, result.id, worker)

    assert (done.status, done.return_value) == (TaskResultStatus.SUCCESSFUL, 7)
    assert done.started_at >= run_after
    assert done.task.run_after == run_after


@pytest.mark.urls("tests.workapp.urls")
@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_in_a_rolled_back_view_is_never_queued(client):
    with pytest.raises(RuntimeError, match="rolls back"):
        client.post("/test/ping/", {"value": "1", "fail": "1"})

    assert not Ping.objects.exists()
    assert redis_job_keys() == []
    assert all(django_rq.get_queue(name).count == 0 for name in ("high", "default", "low"))


@pytest.mark.django_db(transaction=True)
def test_a_task_reaches_redis_only_when_its_transaction_commits_as_a_json_rq_job():
    with transaction.atomic():
        row = Ping.objects.create(value=3)
        result = ping_value.enqueue(row.pk)
        assert (result.status, result.enqueued_at) == (TaskResultStatus.READY, None)
        with pytest.raises(TaskResultDoesNotExist):
            ping_value.get_result(result.id)
        assert redis_job_keys() == []

    queue = django_rq.get_queue("high")
    assert queue.get_job_ids() == [result.id]
    assert result.enqueued_at is not None
    raw = queue.connection.hget(f"rq:job:{result.id}", "data")
    assert json.loads(zlib.decompress(raw)) == [
        "queues.tasks_backend.run_task",
        None,
        ["tests.workapp.tasks.ping_value", [row.pk], {}],
        {},
    ]
    job = queue.fetch_job(result.id)
    assert job.description == f"tests.workapp.tasks.ping_value({row.pk})"
    again = ping_value.get_result(result.id)
    assert (again.status, again.args, again.worker_ids) == (TaskResultStatus.READY, [row.pk], [])


@pytest.mark.django_db(transaction=True)
def test_a_task_redis_refuses_at_the_commit_is_logged_and_the_commit_and_its_other_callbacks_stand(settings, caplog):
    from queues.config import rq_queues

    settings.RQ_QUEUES = rq_queues("redis://127.0.0.1:1/0")  # nothing listens there
    redis_client._client.cache_clear()
    after_it = []
    try:
        with caplog.at_level(logging.ERROR, logger="queues.tasks_backend"), transaction.atomic():
            row = Ping.objects.create(value=9)
            result = ping_value.enqueue(row.pk)
            transaction.on_commit(lambda: after_it.append("ran"))
    finally:
        redis_client._client.cache_clear()

    assert Ping.objects.filter(pk=row.pk).exists()
    assert after_it == ["ran"]
    assert f"task id={result.id} path=tests.workapp.tasks.ping_value not queued: Redis error" in caplog.text


@pytest.mark.django_db
def test_a_non_json_argument_is_refused_at_enqueue_with_djangos_own_error(django_capture_on_commit_callbacks):
    row = Ping.objects.create(value=5)

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(TypeError, match="Unsupported type"):
        ping_value.enqueue(row)

    assert callbacks == []


@pytest.mark.parametrize(
    ("rq_status", "expected"),
    [
        (JobStatus.CREATED, TaskResultStatus.READY),
        (JobStatus.QUEUED, TaskResultStatus.READY),
        (JobStatus.DEFERRED, TaskResultStatus.READY),
        (JobStatus.SCHEDULED, TaskResultStatus.READY),
        (JobStatus.RATE_LIMITED, TaskResultStatus.READY),
        (JobStatus.READY_TO_ENQUEUE, TaskResultStatus.READY),
        (JobStatus.STARTED, TaskResultStatus.RUNNING),
        (JobStatus.FINISHED, TaskResultStatus.SUCCESSFUL),
        (JobStatus.FAILED, TaskResultStatus.FAILED),
        (JobStatus.STOPPED, TaskResultStatus.FAILED),
        (JobStatus.CANCELED, TaskResultStatus.FAILED),
        ("a-status-rq-adds-later", TaskResultStatus.READY),
    ],
)
def test_each_rq_job_status_reads_as_a_task_status(rq_status, expected):
    assert task_status(rq_status) == expected


def test_every_rq_job_status_has_a_task_status():
    from queues.tasks_backend import TASK_STATUS

    assert set(TASK_STATUS) == set(JobStatus)


def test_a_failures_exception_class_is_read_from_its_traceback():
    dotted = 'Traceback (most recent call last):\n  File "x.py", line 1\n    f()\nbilling.errors.Declined: card 42\n'
    builtin = "Traceback (most recent call last):\n  ...\nValueError: bad\n"

    assert exception_class_path(dotted) == "billing.errors.Declined"
    assert exception_class_path(builtin) == "builtins.ValueError"
    assert exception_class_path("rq.exceptions.AbandonedJobError") == "rq.exceptions.AbandonedJobError"


@pytest.mark.django_db
def test_get_result_knows_only_this_backends_tasks():
    plain_job = redis_client.queue("high").enqueue(ping, args=(1,))

    for result_id in (plain_job.id, "no-such-job", "not:a job id"):
        with pytest.raises(TaskResultDoesNotExist):
            default_task_backend.get_result(result_id)


def test_the_settings_backend_says_what_it_supports():
    backend = task_backends["default"]

    assert isinstance(backend, RQBackend)
    assert (backend.supports_get_result, backend.supports_defer, backend.supports_async_task) == (True, True, True)
    assert backend.supports_priority is False
    assert backend.queues == {"high", "default", "low"}
    assert backend.check() == []


def test_the_system_check_names_a_queue_rq_does_not_define():
    backend = RQBackend("other", {"QUEUES": ["default", "urgent"]})

    [error] = backend.check()

    assert error.id == "queues.E001"
    assert "'urgent'" in error.msg
