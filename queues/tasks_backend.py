"""Django's Tasks API (`django.tasks`) on the project's rq queues and the Procfile's worker.

A function decorated with `@task` (queue high, default or low) and called with `.enqueue(...)`
becomes an rq job once the caller's transaction commits: `run_task` with the task's dotted
path and its JSON arguments, on the named queue, through the shared Redis client and the queues'
JSON serializer (queues/redis_client.py). So the Procfile's worker runs it as it is, and it shows
in the django-rq dashboard and `manage.py rqstats` like every job.

enqueue() builds the TaskResult first, so a non-JSON argument is refused there with Django's own
error, then picks the rq job's id (a UUID, as rq's own) and returns the result, status READY;
the on_commit callback creates the job under that id. A rolled-back transaction queues
nothing, and until the commit get_result() answers TaskResultDoesNotExist. get_result() reads the
job and its rq results from Redis in any process: rq's status as Django's, the return value,
each failure's traceback, the worker of each attempt. Django's task signals are sent (enqueued
in the web process, started and finished in the worker). Results last as long as rq keeps the job
(the queue's result_ttl, 500 s unless OPTIONS' RESULT_TTL says otherwise; failed jobs a year).

Why our own backend and not django-tasks-rq (0.12.0): that one is beta, needs its own rq Job
class on the worker's command line (`--job-class`), pulls in the django-tasks backport and
rq-scheduler, and bypasses django-rq's COMMIT_MODE; this one is a page on the existing Redis
client, queue settings and worker, and needs nothing new.
https://docs.djangoproject.com/en/6.0/topics/tasks/
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from traceback import format_exception
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DEFAULT_DB_ALIAS, transaction
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, Task, TaskContext, TaskResult, TaskResultStatus, task_backends
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import TaskError
from django.tasks.exceptions import TaskResultDoesNotExist
from django.tasks.signals import task_enqueued, task_finished, task_started
from django.utils import timezone
from django.utils.json import normalize_json
from django.utils.module_loading import import_string
from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.results import Result
from rq.serializers import resolve_serializer

from queues import redis_client
from queues.config import SERIALIZER

logger = logging.getLogger(__name__)

RUN_TASK = "queues.tasks_backend.run_task"
# In the rq job's meta: which TASKS backend queued it, and the task's run_after (ISO 8601).
BACKEND_META = "task_backend"
RUN_AFTER_META = "task_run_after"

# rq's job statuses as Django's: waiting in any form is READY, and a job stopped or cancelled
# from the dashboard did not succeed.
TASK_STATUS = {
    JobStatus.CREATED: TaskResultStatus.READY,
    JobStatus.QUEUED: TaskResultStatus.READY,
    JobStatus.DEFERRED: TaskResultStatus.READY,
    JobStatus.SCHEDULED: TaskResultStatus.READY,
    JobStatus.RATE_LIMITED: TaskResultStatus.READY,
    JobStatus.READY_TO_ENQUEUE: TaskResultStatus.READY,
    JobStatus.STARTED: TaskResultStatus.RUNNING,
    JobStatus.FINISHED: TaskResultStatus.SUCCESSFUL,
    JobStatus.FAILED: TaskResultStatus.FAILED,
    JobStatus.STOPPED: TaskResultStatus.FAILED,
    JobStatus.CANCELED: TaskResultStatus.FAILED,
}


def task_status(status: JobStatus | str | None) -> TaskResultStatus:
    """Django's status for rq's; one rq may add later counts as waiting."""
    try:
        return TASK_STATUS[JobStatus(status)]
    except (KeyError, ValueError):
        return TaskResultStatus.READY


def exception_class_path(formatted: str) -> str:
    """The dotted class of the exception a formatted traceback ends with ("builtins.ValueError")."""
    for line in reversed(formatted.strip().splitlines()):
        if line and not line[0].isspace():
            name = line.split(":", 1)[0].strip()
            if name.replace(".", "").replace("_", "").isalnum():
                return name if "." in name else f"builtins.{name}"
            break
    return "builtins.Exception"


class RQBackend(BaseTaskBackend):
    """TASKS' BACKEND: each task an rq job on the queue of its name, queued after the commit.

    OPTIONS: DATABASE, the alias whose transaction's commit queues the task ("default");
    RESULT_TTL, seconds a finished task's result stays readable (the queue's, 500 s).
    """

    # rq's scheduler, which the Procfile's worker pool runs, queues a job at its run_after.
    supports_defer = True
    # The worker runs a coroutine function to completion with async_to_sync (Task.call).
    supports_async_task = True
    # Any process reads a result back from Redis.
    supports_get_result = True
    # rq takes jobs from a queue in order; the only priorities are the queues themselves.
    supports_priority = False

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.database: str = self.options.get("DATABASE", DEFAULT_DB_ALIAS)
        self.result_ttl: int | None = self.options.get("RESULT_TTL")

    def enqueue[**P, R](self, task: Task[P, R], args: list[Any], kwargs: dict[str, Any]) -> TaskResult[P, R]:
        self.validate_task(task)
        # Its __post_init__ makes the arguments JSON, raising Django's TypeError or ValueError.
        result = TaskResult(
            task=task,
            id=str(uuid.uuid4()),
            status=TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        # Robust: the commit is done whatever happens here, and an error must neither turn the
        # request into a 500 nor stop the transaction's other callbacks (the durable work's).
        transaction.on_commit(lambda: self._queue(result), using=self.database, robust=True)
        return result

    def _queue(self, result: TaskResult[..., Any]) -> None:
        task = result.task
        queue = redis_client.queue(task.queue_name)
        meta: dict[str, Any] = {BACKEND_META: self.alias}
        call = ", ".join([*map(repr, result.args), *(f"{key}={value!r}" for key, value in result.kwargs.items())])
        options: dict[str, Any] = {
            "args": (task.module_path, result.args, result.kwargs),
            "job_id": result.id,
            "description": f"{task.module_path}({call})",
            "meta": meta,
            "result_ttl": self.result_ttl,
        }
        try:
            if task.run_after is not None:
                meta[RUN_AFTER_META] = task.run_after.isoformat()
                # rq's scheduled registry counts whole seconds: round up, never run early.
                due = task.run_after + timedelta(microseconds=-task.run_after.microsecond % 1_000_000)
                job = queue.enqueue_at(due, RUN_TASK, **options)
            else:
                job = queue.enqueue(RUN_TASK, **options)
        except RedisError as error:
            # Like any fire-and-forget job's: lost. Work that must not be uses WorkItem (README).
            logger.error(
                "task id=%s path=%s not queued: Redis error %s: %s",
                result.id,
                task.module_path,
                type(error).__name__,
                error,
            )
            return
        object.__setattr__(result, "enqueued_at", job.enqueued_at or timezone.now())
        task_enqueued.send(type(self), task_result=result)

    def get_result(self, result_id: str) -> TaskResult[..., Any]:
        try:
            # Only ever JSON: nothing is unpickled from Redis, whatever job the id names.
            job = Job.fetch(result_id, connection=redis_client.connection(), serializer=resolve_serializer(SERIALIZER))
            is_ours = job.func_name == RUN_TASK and job.meta.get(BACKEND_META) == self.alias
        except (NoSuchJobError, DeserializationError, ValueError):  # ValueError: not an rq job id
            is_ours = False
        if not is_ours:
            raise TaskResultDoesNotExist(result_id)
        return self.result_of(job)

    def result_of(self, job: Job) -> TaskResult[..., Any]:
        """The TaskResult an rq job of run_task's stands for, from the job and its rq results."""
        task_path, args, kwargs = job.args
        task: Task[..., Any] = import_string(task_path)
        run_after = job.meta.get(RUN_AFTER_META)
        task = task.using(
            backend=self.alias,
            queue_name=job.origin,
            run_after=datetime.fromisoformat(run_after) if run_after else None,
        )
        status = task_status(job.get_status(refresh=False))
        attempts = list(reversed(job.results()))  # oldest first
        worker_ids = [attempt.worker_name for attempt in attempts]
        starts: list[datetime | None] = [attempt.execution_started_at for attempt in attempts]
        if status == TaskResultStatus.RUNNING:  # the attempt under way has no rq result yet
            worker_ids.append(job.worker_name or "")
            starts.append(job.started_at)
        elif not starts:
            starts.append(job.started_at)
        started = sorted(start for start in starts if start)
        ended = (attempts[-1].execution_ended_at if attempts else None) or job.ended_at
        result = TaskResult(
            task=task,
            id=job.id,
            status=status,
            enqueued_at=job.enqueued_at,
            started_at=started[0] if started else None,
            finished_at=ended if status in {TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED} else None,
            last_attempted_at=started[-1] if started else None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[
                TaskError(exception_class_path=exception_class_path(attempt.exc_string), traceback=attempt.exc_string)
                for attempt in attempts
                if attempt.exc_string
            ],
            worker_ids=[worker for worker in worker_ids if worker],
        )
        successes = [attempt for attempt in attempts if attempt.type == Result.Type.SUCCESSFUL]
        if status == TaskResultStatus.SUCCESSFUL and successes:
            object.__setattr__(result, "_return_value", successes[-1].return_value)
        return result

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        return [
            checks.Error(
                f"TASKS[{self.alias!r}] names queue {name!r}, which RQ_QUEUES does not define.",
                hint=f"Use one of {sorted(settings.RQ_QUEUES)}.",
                id="queues.E001",
            )
            for name in sorted(self.queues)
            if name not in settings.RQ_QUEUES
        ]


def run_task(task_path: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """The rq job of every task: run it in the worker, with Django's signals around it.

    Django's own receivers log each task's start and end (logger django.tasks): the line the
    project's other jobs get from queues.joblog.logged, which this module does not import, so
    that an app's models may import its tasks.
    """
    job = get_current_job()
    if job is None:
        raise RuntimeError("run_task runs in an rq worker; call the task itself with task.call()")
    backend = task_backends[job.meta.get(BACKEND_META, DEFAULT_TASK_BACKEND_ALIAS)]
    if not isinstance(backend, RQBackend):
        raise TypeError(f"task backend {backend.alias!r} is not an RQBackend")
    result = backend.result_of(job)  # RUNNING: the worker marked the job started
    task = result.task
    sender = type(backend)
    task_started.send(sender, task_result=result)
    call: Callable[..., Any] = task.call
    try:
        if task.takes_context:
            value = normalize_json(call(TaskContext(task_result=result), *args, **kwargs))
        else:
            value = normalize_json(call(*args, **kwargs))
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        kind = type(error)
        path = f"{kind.__module__}.{kind.__qualname__}"
        result.errors.append(TaskError(exception_class_path=path, traceback="".join(format_exception(error))))
        object.__setattr__(result, "status", TaskResultStatus.FAILED)
        object.__setattr__(result, "finished_at", timezone.now())
        task_finished.send(sender, task_result=result)
        raise
    object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
    object.__setattr__(result, "finished_at", timezone.now())
    object.__setattr__(result, "_return_value", value)
    task_finished.send(sender, task_result=result)
    return value
