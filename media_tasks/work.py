"""Durable work rows and their rq jobs: claim a row, queue it after commit, find what was lost.

Every kind of background work is a row with a status (media_tasks.models.WorkItem). rq is the
fast path that runs it; the rows are the record. A job that dies (SIGKILL, Redis outage, a
dyno restart) leaves its row pending or claimed, and the sweeper queues it again.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from media_tasks import queues
from media_tasks.models import Image, OutgoingEmail, WorkItem

logger = logging.getLogger(__name__)

# Transient failures are retried by rq with backoff (the worker runs the scheduler that
# delays them); a row whose attempts run out is marked failed by the sweeper.
# https://python-rq.org/docs/exceptions/#retrying-failed-jobs
RETRY = Retry(max=4, interval=[5, 20, 60, 180])
# Failed jobs stay inspectable in the dashboard for a week, then Redis forgets them.
FAILURE_TTL = 7 * 24 * 3600
RESULT_TTL = 3600
# A retry this late past its time has no scheduler to move it (see _unstick_registries).
SCHEDULER_GRACE_SECONDS = 30


@dataclass(frozen=True)
class WorkKind:
    model: type[WorkItem]
    job: str
    queue: str
    pending: str
    in_progress: str
    failed: str

    def job_id(self, pk: int) -> str:
        # One rq job id per row: the sweeper can see whether the row's job is still alive.
        return f"{self.model._meta.model_name}-{pk}"


THUMBNAILS = WorkKind(Image, "media_tasks.jobs.make_thumbnails", "default", "pending", "processing", "failed")
EMAILS = WorkKind(OutgoingEmail, "media_tasks.jobs.send_email", "high", "pending", "sending", "failed")
KINDS = (EMAILS, THUMBNAILS)


def lease() -> timedelta:
    return timedelta(seconds=settings.WORK_CLAIM_LEASE_SECONDS)


def enqueue(kind: WorkKind, pk: int) -> bool:
    """Queue the row's job now; if Redis is unreachable the row waits for the sweeper.

    Called once the row is committed (from transaction.on_commit, or by the sweeper), so it
    enqueues at once: django-rq's own on-commit deferral must not postpone it a second time.
    """
    try:
        queues.get_queue(kind.queue).enqueue(
            kind.job, pk, job_id=kind.job_id(pk), retry=RETRY, failure_ttl=FAILURE_TTL, result_ttl=RESULT_TTL
        )
    except RedisError as error:
        logger.warning("could not queue %s; the sweeper will queue it later: %s", kind.job_id(pk), error)
        return False
    return True


def claim(kind: WorkKind, pk: int) -> str | None:
    """Take the row for this run, or return None if it is done or another run holds it."""
    token = secrets.token_hex(16)
    now = timezone.now()
    claimable = Q(status=kind.pending) | Q(status=kind.in_progress, claimed_at__lt=now - lease())
    claimed = (
        kind.model.objects.filter(claimable, pk=pk)
        .exclude(attempts__gte=settings.WORK_MAX_ATTEMPTS)
        .update(status=kind.in_progress, claim_token=token, claimed_at=now, attempts=F("attempts") + 1, updated_at=now)
    )
    return token if claimed else None


def release(kind: WorkKind, pk: int, token: str, error: BaseException) -> None:
    """Give the row back after a transient failure or a shutdown, so the retry can claim it."""
    try:
        kind.model.objects.filter(pk=pk, claim_token=token, status=kind.in_progress).update(
            status=kind.pending,
            claim_token="",
            claimed_at=None,
            last_error=_describe(error),
            updated_at=timezone.now(),
        )
    except Exception:
        # The database itself may be what failed; the lease expires and the sweeper takes over.
        logger.exception("could not release %s", kind.job_id(pk))


def finish(kind: WorkKind, pk: int, token: str, **fields: object) -> bool:
    """Record the outcome, but only if this run still holds the claim."""
    updated = kind.model.objects.filter(pk=pk, claim_token=token, status=kind.in_progress).update(
        claim_token="", claimed_at=None, updated_at=timezone.now(), **fields
    )
    return bool(updated)


def is_job_alive(kind: WorkKind, pk: int) -> bool:
    queue = queues.get_queue(kind.queue)
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


@dataclass
class SweepReport:
    requeued: int = 0
    failed: int = 0
    alive: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"requeued": self.requeued, "failed": self.failed, "alive": self.alive}


def sweep(*, limit: int = 500) -> SweepReport:
    """Queue again every row left pending or claimed too long, or fail it after its last attempt."""
    report = SweepReport()
    now = timezone.now()
    for queue_name in {kind.queue for kind in KINDS}:
        _unstick_registries(queues.get_queue(queue_name))
    for kind in KINDS:
        stuck = kind.model.objects.filter(
            Q(status=kind.pending, updated_at__lt=now - timedelta(seconds=settings.WORK_STALE_SECONDS))
            | Q(status=kind.in_progress, claimed_at__lt=now - lease())
        ).order_by("updated_at")[:limit]
        for row in stuck:
            if row.attempts >= settings.WORK_MAX_ATTEMPTS:
                _give_up(kind, row)
                report.failed += 1
            elif is_job_alive(kind, row.pk):
                report.alive += 1
            elif enqueue(kind, row.pk):
                report.requeued += 1
    if report.requeued or report.failed:
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
    reason = f"Gave up after {row.attempts} attempts. Last error: {row.last_error or 'none recorded'}"
    fields: dict[str, object] = {"status": kind.failed, "claim_token": "", "claimed_at": None}
    if kind is THUMBNAILS:
        fields["failure_reason"] = "Thumbnails could not be made after several tries; please upload it again."
    kind.model.objects.filter(pk=row.pk, status=row.status, updated_at=row.updated_at).update(
        last_error=reason[:2000], updated_at=timezone.now(), **fields
    )
    logger.warning("%s failed for good: %s", kind.job_id(row.pk), reason)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]
