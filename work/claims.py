"""Durable work rows and their rq jobs: claim a row, queue it after commit, find what was lost.

Every kind of background work is a row with a status: a model that inherits
work.models.WorkItem and declares its job in a nested `class Work:` (WorkDeclaration
below lists what it says). rq is the fast path that runs it; the rows are the record. A job
that dies (SIGKILL, Redis outage, a dyno restart) leaves its row pending or claimed, and the
sweeper queues it again. A job written with work.durable.job gets this module's claim
protocol around it; the functions below are also for jobs that run it by hand.

A row given up for good (out of attempts, or refused for good) ends its rq job in rq's failed
registry, marked as parked there. That is what the dashboard's Requeue and Requeue All act on,
and a run of a parked job that was requeued from there resets its row and tries it afresh
(see _requeued_by_hand for the rule).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NoReturn, Protocol

from django.apps import apps
from django.db import transaction
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from redis.exceptions import RedisError
from rq import Queue, Retry, get_current_job
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from queues import redis_client
from queues.conf import declared
from work import conf
from work.models import WorkItem

logger = logging.getLogger(__name__)

# A row no run holds: its claim token once released, given up or reset.
UNCLAIMED = ""

# Failed jobs stay in the dashboard, requeueable, for a week, then Redis forgets them: longer
# than any retry schedule (emails' spans about 10 h), so a weekend's outage can still be
# requeued on Monday. A scheduled retry is a job hash (584 bytes measured for an email) and a
# sorted-set entry, kept without expiry while it waits: 10,000 emails waiting out an outage take
# about 7 MB of Heroku Redis mini's 25 MB.
# https://python-rq.org/docs/exceptions/#retrying-failed-jobs
FAILURE_TTL = 7 * 24 * 3600
RESULT_TTL = 3600
# A retry this late past its time has no scheduler to move it (see _unstick_registries).
SCHEDULER_GRACE_SECONDS = 30
# In a parked job's meta: its row was given up for good while the job sat in the failed registry.
PARKED = "parked_when_given_up"
# Retries brought forward (retry_waiting_now) fill the kind's queue up to this many jobs, no
# more: a worker dyno's 2 workers send that many emails in a second or two, and work queued
# meanwhile waits behind at most these, not behind the whole backlog.
RETRY_NOW_BATCH = 10


class GaveUp(Exception):
    """Raised by a run that gave its row up for good, so rq files the job as failed, where Requeue is."""


@dataclass(frozen=True, eq=False)
class WorkKind:
    # A concrete WorkItem subclass: Any, as the abstract model has neither `objects` nor the
    # `status` field its queries filter on.
    model: type[Any]
    job: str
    queue: str
    pending: str
    in_progress: str
    failed: str
    # Setting naming the seconds to wait before each retry; read at every use, so a test may
    # shorten it.
    schedule_setting: str
    # Setting naming the attempts before the row is given up; None: one more than the waits.
    attempts_setting: str | None = None
    # Statuses besides `failed` that mean given up for good.
    also_given_up: tuple[str, ...] = ()
    # Fields a reset (Requeue, the admin's actions) sets besides status, attempts and claim.
    reset_fields: Mapping[str, Any] = field(default_factory=dict)
    # Fields the sweeper sets besides status when it gives a row up (e.g. what a person reads).
    gave_up_fields: Mapping[str, Any] = field(default_factory=dict)
    # Dotted path of a function (no arguments, returns bool) the sweeper calls while rows wait
    # on a retry: True (what failed them answers again) brings their retries forward.
    resume_check: str | None = None
    # The status of a row whose work is done; jobs written with work.durable need it.
    done: str | None = None

    def job_id(self, pk: int) -> str:
        # One rq job id per row: the sweeper can see whether the row's job is still alive.
        return f"{self.model._meta.model_name}-{pk}"

    @property
    def given_up(self) -> tuple[str, ...]:
        return (self.failed, *self.also_given_up)

    def max_attempts(self) -> int:
        if self.attempts_setting is not None:
            return int(declared(self.attempts_setting)())
        return len(declared(self.schedule_setting)()) + 1

    def retry_waits(self) -> list[int]:
        """The wait before each retry: one fewer than the attempts, the schedule's last repeated if short."""
        schedule = [int(seconds) for seconds in declared(self.schedule_setting)()] or [0]
        retries = max(self.max_attempts() - 1, 0)
        return (schedule + schedule[-1:] * retries)[:retries]

    def retry(self, attempts_done: int = 0) -> Retry | None:
        """rq's Retry for a job whose row has had `attempts_done` attempts: the rest of the schedule."""
        waits = self.retry_waits()[attempts_done:]
        # rq takes the wait for a retry from the end of the list by the retries left, so the
        # first retry of this job waits waits[0].
        return Retry(max=len(waits), interval=waits) if waits else None


class WorkDeclaration(Protocol):
    """What a durable-work model says in its nested `class Work:`; only the first four are required.

    job: the dotted path of the rq job, called with the row's id; queue: its queue; pending,
    in_progress, failed: the status values. Optional: retry_schedule_setting (the setting, declared
    in an app's conf.py, with the seconds before each retry; default WORK_RETRY_SCHEDULE),
    max_attempts_setting (default: one more than the schedule's waits), also_given_up (other
    statuses that mean given up), reset_fields, gave_up_fields, resume_check (the dotted path of
    a function the sweeper calls while rows wait on a retry; if it returns True their retries are brought forward, see
    retry_waiting_now), done (the status of finished work: a job written with
    work.durable.job finishes its row with it).
    """

    job: str
    queue: str
    pending: str
    in_progress: str
    failed: str


def kind_of(model: type[Model]) -> WorkKind:
    """The work kind a model declares (its nested `class Work:`)."""
    return _kind_of(model._meta.concrete_model or model)


@functools.cache
def _kind_of(model: type[Model]) -> WorkKind:
    if not issubclass(model, WorkItem) or model._meta.abstract:
        raise TypeError(f"{model.__name__} is not durable work: it must inherit work.models.WorkItem")
    declared: Any = getattr(model, "Work", None)
    if declared is None:
        raise TypeError(f"{model.__name__} inherits WorkItem but declares no `class Work:`")
    return WorkKind(
        model=model,
        job=declared.job,
        queue=declared.queue,
        pending=declared.pending,
        in_progress=declared.in_progress,
        failed=declared.failed,
        schedule_setting=getattr(declared, "retry_schedule_setting", "WORK_RETRY_SCHEDULE"),
        attempts_setting=getattr(declared, "max_attempts_setting", None),
        also_given_up=tuple(getattr(declared, "also_given_up", ())),
        reset_fields=dict(getattr(declared, "reset_fields", {})),
        gave_up_fields=dict(getattr(declared, "gave_up_fields", {})),
        resume_check=getattr(declared, "resume_check", None),
        done=getattr(declared, "done", None),
    )


def kinds() -> list[WorkKind]:
    """Every installed model that is durable work: what the sweeper looks through."""
    return [kind_of(model) for model in apps.get_models() if issubclass(model, WorkItem)]


def enqueue_on_commit(row: WorkItem) -> None:
    """The one way to queue a row's job: once the transaction that wrote the row commits.

    Outside a transaction it queues at once. If Redis is unreachable then, the row waits for
    the sweeper.
    """
    transaction.on_commit(functools.partial(enqueue, kind_of(type(row)), row.pk))


def lease() -> timedelta:
    return timedelta(seconds=conf.WORK_CLAIM_LEASE_SECONDS())


def enqueue(kind: WorkKind, pk: int, *, attempts_done: int = 0) -> bool:
    """Queue the row's job now; if Redis is unreachable the row waits for the sweeper.

    Called once the row is committed (from transaction.on_commit, or by the sweeper), so it
    enqueues at once: django-rq's own on-commit deferral must not postpone it a second time.
    The job gets the retries the row has left (the sweeper queues rows part-way through).
    """
    job_id = kind.job_id(pk)
    try:
        queue = redis_client.queue(kind.queue)
        # A row queued afresh (reset in the admin) no longer belongs in the dashboard's failed list.
        queue.failed_job_registry.remove(job_id)
        queue.enqueue(
            kind.job,
            pk,
            job_id=job_id,
            retry=kind.retry(attempts_done),
            failure_ttl=FAILURE_TTL,
            result_ttl=RESULT_TTL,
        )
    except RedisError as error:
        logger.warning("could not queue %s; the sweeper will queue it later: %s", job_id, error)
        return False
    return True


def claim(kind: WorkKind, pk: int) -> str | None:
    """Take the row for this run, or return None if it is done or another run holds it.

    A run requeued by hand from rq's failed registry first resets its given-up row.
    """
    token = _claim(kind, pk)
    if token is None and _requeued_by_hand(kind, pk):
        token = _claim(kind, pk)
    return token


def _claim(kind: WorkKind, pk: int) -> str | None:
    token = secrets.token_hex(16)
    now = timezone.now()
    claimable = Q(status=kind.pending) | Q(status=kind.in_progress, claimed_at__lt=now - lease())
    claimed = (
        kind.model.objects.filter(claimable, pk=pk)
        .exclude(attempts__gte=kind.max_attempts())
        .update(status=kind.in_progress, claim_token=token, claimed_at=now, attempts=F("attempts") + 1, updated_at=now)
    )
    return token if claimed else None


def _requeued_by_hand(kind: WorkKind, pk: int) -> bool:
    """Whether this run is an operator's requeue of a given-up row; if so the row is reset.

    The rule: the row is given up, the running job is the row's own (not a copy under another
    id), it was parked in rq's failed registry when the row was given up (PARKED in its meta),
    and it is no longer there. Giving up parks the job with no retries left and nothing else
    queues a given-up row (the sweeper takes pending and claimed rows only), so the only way
    out of the failed registry into a worker is a requeue: the dashboard's Requeue or Requeue
    All, or `rq requeue`. A stale duplicate finds the row given up and either no PARKED mark (a
    job that finished, or a copy under another id) or its job still parked, and does nothing.
    """
    job = get_current_job()
    if job is None or job.id != kind.job_id(pk) or not job.meta.get(PARKED):
        return False
    if not kind.model.objects.filter(pk=pk, status__in=kind.given_up).exists():
        return False
    try:
        if job.id in job.failed_job_registry:
            return False
    except RedisError:
        return False
    if not reset(kind, pk):
        return False
    job.meta.pop(PARKED, None)
    with contextlib.suppress(RedisError):
        job.save_meta()
    # rq keeps the exhausted retry count through a requeue: give the job the whole schedule
    # again, which rq reads from this object if the run fails.
    retry = kind.retry()
    job.retries_left = retry.max if retry else None
    job.retry_intervals = retry.intervals if retry else None
    logger.info("%s was requeued by hand; its row is reset and tried afresh", job.id)
    return True


def reset(kind: WorkKind, pk: int, *, statuses: tuple[str, ...] | None = None) -> bool:
    """Put a given-up row (or one in `statuses`) back to pending with fresh attempts; the caller queues it."""
    return bool(
        kind.model.objects.filter(pk=pk, status__in=statuses or kind.given_up).update(
            status=kind.pending,
            attempts=0,
            last_error="",
            claim_token=UNCLAIMED,
            claimed_at=None,
            updated_at=timezone.now(),
            **kind.reset_fields,
        )
    )


def release(
    kind: WorkKind,
    pk: int,
    token: str,
    error: BaseException,
    *,
    last_error: str | None = None,
    given_up_status: str | None = None,
    **fields: Any,
) -> None:
    """Give the row back after a transient failure or a shutdown, so the retry can claim it.

    On the row's last attempt it is given up instead (status `given_up_status`, by default
    failed), and GaveUp is raised.
    """
    reason = last_error or _describe(error)
    try:
        held = kind.model.objects.filter(pk=pk, claim_token=token, status=kind.in_progress)
        attempts = held.values_list("attempts", flat=True).first()
        last_attempt = attempts is not None and attempts >= kind.max_attempts()
        if not last_attempt:
            held.update(
                status=kind.pending,
                claim_token=UNCLAIMED,
                claimed_at=None,
                last_error=reason[:2000],
                updated_at=timezone.now(),
                **fields,
            )
    except Exception:
        # The database itself may be what failed; the lease expires and the sweeper takes over.
        logger.exception("could not release %s", kind.job_id(pk))
        return
    if last_attempt:
        reason = f"Gave up after {attempts} attempts. Last error: {reason}"
        give_up(kind, pk, token, reason, status=given_up_status, **fields)


def give_up(kind: WorkKind, pk: int, token: str, reason: str, *, status: str | None = None, **fields: Any) -> NoReturn:
    """Record that the row is given up for good and park its job in rq's failed registry (raises GaveUp)."""
    if finish(kind, pk, token, status=status or kind.failed, last_error=reason[:2000], **fields):
        logger.warning("%s failed for good: %s", kind.job_id(pk), reason)
        job = get_current_job()
        if job is not None and job.id == kind.job_id(pk):
            # No rq retry: a retry of a given-up row would look like a requeue by hand. rq reads
            # the count from this object when GaveUp reaches it, and files the job as failed.
            job.retries_left = 0
            job.meta[PARKED] = True
            with contextlib.suppress(RedisError):
                job.save_meta()
    raise GaveUp(reason)


def finish(kind: WorkKind, pk: int, token: str, **fields: object) -> bool:
    """Record the outcome, but only if this run still holds the claim."""
    updated = kind.model.objects.filter(pk=pk, claim_token=token, status=kind.in_progress).update(
        claim_token=UNCLAIMED, claimed_at=None, updated_at=timezone.now(), **fields
    )
    return bool(updated)


def is_job_alive(kind: WorkKind, pk: int) -> bool:
    queue = redis_client.queue(kind.queue)
    try:
        job = Job.fetch(kind.job_id(pk), connection=queue.connection, serializer=queue.serializer)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status == JobStatus.QUEUED:
        # A worker killed while taking the job leaves it "queued" but in no queue (only in
        # rq's intermediate list, which rq tidies every 10 minutes): check the queue itself.
        return queue.connection.lpos(queue.key, job.id) is not None
    if status == JobStatus.SCHEDULED:
        return job.id in queue.scheduled_job_registry
    if status == JobStatus.STARTED:
        # A killed worker leaves its job "started"; only a recent heartbeat means it runs.
        return job.last_heartbeat is not None and job.last_heartbeat > timezone.now() - lease()
    return False


def waiting_on_retry(kind: WorkKind) -> QuerySet[Any]:
    """Rows handed back after a failed attempt, whose next attempt has yet to come (or be queued)."""
    waiting: QuerySet[Any] = kind.model.objects.filter(status=kind.pending, attempts__gt=0)
    return waiting


def retry_waiting_now(kind: WorkKind, *, batch: int = RETRY_NOW_BATCH) -> int:
    """Bring forward the retries of rows waiting out their schedule, oldest row first; how many.

    For when whatever failed them works again (an email's run sent its message; the sweeper's
    resume_check found the SMTP server answering): waiting out the schedule would leave an
    outage's backlog idle for up to its longest wait (10 min, then 30 min... for emails).

    A row's retry is its rq job waiting in the queue's scheduled registry; it is moved into the
    queue (the ZREM there lets one process move it, so a job is not queued twice, and the row's
    claim makes any duplicate run harmless anyway). Only enough to fill the queue to `batch`
    jobs are moved at once, never a whole backlog: each success of the jobs moved moves the
    next few, so the backlog goes as fast as the workers send it, oldest first, and fresh work
    interleaves with it. A row whose last attempt was less than the schedule's first wait ago
    is left to its schedule: should the success have been a fluke, bringing rows forward
    spends their attempts no faster than that wait. Nothing else changes: each run still
    claims the row, counts an attempt, and gives up after the last.
    """
    queue = redis_client.queue(kind.queue)
    room = batch - queue.count
    if room <= 0:
        return 0
    registry = queue.scheduled_job_registry
    now = timezone.now()
    rested = now - timedelta(seconds=(kind.retry_waits() or [0])[0])
    waiting = (
        waiting_on_retry(kind)
        .filter(updated_at__lte=rested)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
        .iterator(chunk_size=100)
    )
    moved = 0
    for chunk in itertools.batched(waiting, 100):
        job_ids = [kind.job_id(pk) for pk in chunk]
        with queue.connection.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.zscore(registry.key, job_id)
            due_at = pipe.execute()
        for job_id, score in zip(job_ids, due_at, strict=True):
            # Not in the registry: queued or running already, or lost (the sweeper's business).
            # Due already: the scheduler is about to queue it.
            if score is None or score <= now.timestamp():
                continue
            with contextlib.suppress(NoSuchJobError, InvalidJobOperation):
                registry.requeue(job_id)
                moved += 1
            if moved >= room:
                break
        if moved >= room:
            break
    if moved:
        logger.info("brought %d retries of %s forward", moved, kind.model._meta.model_name)
    return moved


def _resumed(kind: WorkKind) -> bool:
    """Whether the kind's resume_check says what failed its waiting rows works again."""
    if kind.resume_check is None or not waiting_on_retry(kind).exists():
        return False
    try:
        return bool(import_string(kind.resume_check)())
    except Exception:
        logger.exception("%s failed", kind.resume_check)
        return False


@dataclass
class SweepReport:
    requeued: int = 0
    failed: int = 0
    alive: int = 0
    # Retries brought forward because the kind's resume_check said it works again.
    retried_now: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"requeued": self.requeued, "failed": self.failed, "alive": self.alive, "retried_now": self.retried_now}


def sweep(*, limit: int = 500) -> SweepReport:
    """Queue again every row left pending or claimed too long, or fail it after its last attempt.

    Then, for each kind that declares a resume_check, with rows waiting on a retry: if the
    check passes, bring the first of those retries forward (retry_waiting_now); their
    successes bring the rest. A backlog does not wait for a retry the schedule put far off
    when no new work arrives to succeed first.
    """
    report = SweepReport()
    now = timezone.now()
    every_kind = kinds()
    for queue_name in sorted({kind.queue for kind in every_kind}):
        _unstick_registries(redis_client.queue(queue_name))
    for kind in every_kind:
        stuck = kind.model.objects.filter(
            Q(status=kind.pending, updated_at__lt=now - timedelta(seconds=conf.WORK_STALE_SECONDS()))
            | Q(status=kind.in_progress, claimed_at__lt=now - lease())
        ).order_by("updated_at")[:limit]
        for row in stuck:
            if row.attempts >= kind.max_attempts():
                _give_up(kind, row)
                report.failed += 1
            elif is_job_alive(kind, row.pk):
                report.alive += 1
            elif enqueue(kind, row.pk, attempts_done=row.attempts):
                report.requeued += 1
        if _resumed(kind):
            report.retried_now += retry_waiting_now(kind)
    if report.requeued or report.failed or report.retried_now:
        logger.info("sweep: %s", report.as_dict())
    return report


def _unstick_registries(queue: Queue) -> None:
    # Jobs of killed workers leave "started" (rq itself does this only every 10 minutes).
    StartedJobRegistry(queue=queue).cleanup()
    # Retries wait in "scheduled" for a worker's scheduler. If the worker holding the scheduler
    # lock was killed, no other worker takes over for up to 10 minutes, and a worker started
    # without --with-scheduler never moves them: queue the overdue ones directly.
    registry = queue.scheduled_job_registry
    overdue_before = int((timezone.now() - timedelta(seconds=SCHEDULER_GRACE_SECONDS)).timestamp())
    for job_id in registry.get_jobs_to_schedule(overdue_before):
        with contextlib.suppress(NoSuchJobError, InvalidJobOperation):
            registry.requeue(job_id)
            logger.info("queued overdue retry %s; no scheduler moved it", job_id)


def _give_up(kind: WorkKind, row: WorkItem) -> None:
    """Give up a row its runs left out of attempts (a worker killed on the last one) and park its job."""
    reason = f"Gave up after {row.attempts} attempts. Last error: {row.last_error or 'none recorded'}"
    fields: dict[str, object] = {
        "status": kind.failed,
        "claim_token": UNCLAIMED,
        "claimed_at": None,
        **kind.gave_up_fields,
    }
    given_up = kind.model.objects.filter(pk=row.pk, status=row.status, updated_at=row.updated_at).update(
        last_error=reason[:2000], updated_at=timezone.now(), **fields
    )
    if given_up:
        logger.warning("%s failed for good: %s", kind.job_id(row.pk), reason)
        _park(kind, row.pk, reason)


def _park(kind: WorkKind, pk: int, reason: str) -> None:
    """Put the row's job in rq's failed registry with no retries left, making one if it is gone."""
    queue = redis_client.queue(kind.queue)
    job_id = kind.job_id(pk)
    try:
        try:
            job = Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer)
        except NoSuchJobError:
            job = queue.create_job(kind.job, args=[pk], job_id=job_id, failure_ttl=FAILURE_TTL, result_ttl=RESULT_TTL)
        job.retries_left = 0
        job.meta[PARKED] = True
        with queue.connection.pipeline() as pipe:
            # Out of every place a worker could take it from: a retry left scheduled must not run.
            queue.remove(job_id, pipeline=pipe)
            queue.scheduled_job_registry.remove(job_id, pipeline=pipe)
            job.set_status(JobStatus.FAILED, pipeline=pipe)
            job.save(pipeline=pipe)
            queue.failed_job_registry.add(job, ttl=FAILURE_TTL, exc_string=f"GaveUp: {reason}", pipeline=pipe)
            pipe.execute()
    except RedisError as error:
        # The row is failed all the same; the admin's actions can still reset it.
        logger.warning("could not park %s in the failed registry: %s", job_id, error)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]
