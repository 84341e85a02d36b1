"""Durable jobs: the author writes what the job does, the template keeps the row's promises.

    @durable.job(Report)
    def make_report(report: Report, run: durable.Run) -> None:
        total = ...  # slow work, no transaction open
        with run.results(total=total):
            ...  # other writes that must commit with the outcome, or not at all

`job` turns the function into the rq job the model's `class Work:` names (called with the
row's id). Around the function it runs the claim protocol of work/claims.py, which a
job written by hand must get right line by line:

- claim the row (a run requeued by hand from the failed list resets its given-up row first);
  a row done, gone or held by another run ends the job quietly;
- give the function the row as claimed (attempts counted) and a Run;
- store the outcome in one transaction that locks the row and checks the claim still holds:
  a row deleted meanwhile, or a claim that lapsed and another run (or the sweeper, or a
  reset) took over, stores nothing and ends the job quietly; otherwise the row gets the
  kind's `done` status and the fields given, its claim cleared;
- Permanent: the row is given up with its sentence after this attempt, no retry;
- Retry: the claim is handed back with the job's own words for what went wrong (and fields),
  and the error it was raised from re-raised, so rq retries on the kind's schedule;
- any other exception, BaseException included (a worker's shutdown, a job timeout): the claim
  is handed back and the exception re-raised, so rq retries on the kind's schedule; on the
  last attempt the row is given up with the last error instead (claims.release);
- files the run stored are deleted unless its outcome commits; files to discard go only once
  it has.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import Storage, default_storage
from django.db import transaction

from queues.joblog import logged
from work import claims
from work.models import WorkItem

logger = logging.getLogger(__name__)

# Set by work/conformance.py in the worker processes it starts, and by nothing else: a JSON
# description of a fault to force in this process's runs (hold a run mid-way, fail it) and of
# the short leases and retry waits the kit's tests use. Unset, no run is touched.
CONFORMANCE_ENV = "WORK_CONFORMANCE"


class Permanent(Exception):
    """This work can never succeed: the row is given up with `reason`, a sentence a person reads.

    No retry: the row gets the kind's failed status (or `status`) and `fields`, and its job
    waits in rq's failed list, where Requeue tries it afresh.
    """

    def __init__(self, reason: str, *, status: str | None = None, **fields: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.fields = fields


class Retry(Exception):
    """This attempt failed, and the job says why in its own words: the row is handed back, rq retries.

    Raise it from the error that failed the attempt (`raise durable.Retry(...) from error`):
    the row's last_error is `reason` and it gets `fields`; that error, not this one, is re-raised
    for rq (and the log, and Sentry). On the row's last attempt it is given up instead, with
    `given_up_status` (the kind's failed status by default), "Gave up after N attempts. Last
    error: <reason>" and `fields`.
    """

    def __init__(self, reason: str, *, given_up_status: str | None = None, **fields: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.given_up_status = given_up_status
        self.fields = fields


@dataclass(frozen=True)
class Words:
    """What the log says when a run ends quietly, in the kind's own words.

    Each is a str.format template: {name} is the row ("outgoingemail 7"); `elsewhere` also gets {status}.
    gone: no such row when the job began; elsewhere: the row is done, given up or claimed by
    another run; deleted: the row was deleted during the run; taken_over: the run's claim lapsed
    and another run holds the row now.
    """

    gone: str = "{name} is done, gone or being done elsewhere"
    elsewhere: str = "{name} is done, gone or being done elsewhere"
    deleted: str = "{name} was deleted during this run; nothing of it is stored"
    taken_over: str = "{name} was taken over (this run's claim lapsed); nothing of this run is stored"


class NotHeld(BaseException):
    """The run no longer holds its row (deleted, or its claim taken over): it must store nothing.

    A BaseException, so that an `except Exception` in a job's own code does not swallow it; the
    job's wrapper catches it and ends the job quietly.
    """


class Run:
    """What a durable job's function gets besides its row: where its outcome goes, and its files."""

    def __init__(self, kind: claims.WorkKind, pk: int, token: str, *, attempt: int, words: Words | None = None) -> None:
        self.kind = kind
        self.pk = pk
        self.token = token
        # 1 on the first attempt: the claim counted this one.
        self.attempt = attempt
        self.words = words or Words()
        self._outcome: dict[str, Any] = {}
        self._results_entered = False
        self._committed = False
        self._stored: list[tuple[Storage, str]] = []
        self._discarded: list[tuple[Storage, str]] = []

    def __repr__(self) -> str:
        return f"<Run {self.kind.job_id(self.pk)} attempt={self.attempt}>"

    @property
    def name(self) -> str:
        return f"{self.kind.model._meta.model_name} {self.pk}"

    def finish(self, *, status: str | None = None, **fields: Any) -> None:
        """What the row gets when the outcome is stored: `status` (the kind's done by default) and fields.

        Callable anywhere in the run; stored when the results block ends, or, without one, when
        the function returns. Fields may be expressions (F("runs") + 1).
        """
        if self._committed:
            raise RuntimeError(f"{self.name}: the outcome is stored already")
        if status is not None:
            fields["status"] = status
        self._outcome.update(fields)

    @contextlib.contextmanager
    def results(self, **fields: Any) -> Iterator[None]:
        """The transaction the outcome is stored in, with the row locked and the claim checked.

        If the row was deleted or another run holds it now, the block does not run (NotHeld ends
        the job quietly); if the block raises, nothing of it is stored. On its normal exit the
        row is finished with `fields` (and run.finish's) in the same transaction.
        """
        if self._results_entered:
            raise RuntimeError(f"{self.name}: a run stores its results once")
        self._results_entered = True
        self.finish(**fields)
        kind = self.kind
        with transaction.atomic():
            # The lock orders this against whatever deletes, resets or takes the row over: either
            # they see this outcome committed, or this sees their change and stores nothing.
            held = (
                kind.model.objects.select_for_update().filter(pk=self.pk).values_list("claim_token", "status").first()
            )
            if held is None:
                raise NotHeld(self.words.deleted.format(name=self.name))
            if tuple(held) != (self.token, kind.in_progress):
                raise NotHeld(self.words.taken_over.format(name=self.name))
            yield
            outcome = dict(self._outcome)
            status = outcome.pop("status", kind.done)
            claims.finish(kind, self.pk, self.token, status=status, **outcome)
            if self._discarded:
                # robust: the outcome is committed whatever happens to the files; a failure is logged.
                transaction.on_commit(functools.partial(_delete, list(self._discarded)), robust=True)
        self._committed = True

    def file_stored(self, name: str, *, storage: Storage | None = None) -> None:
        """A file this run has just stored: deleted again unless the run's outcome commits.

        Storage is not transactional: a file written for rows that never commit would be an orphan.
        """
        self._stored.append((storage or default_storage, name))

    def delete_files_after_commit(self, names: Iterable[str], *, storage: Storage | None = None) -> None:
        """Files the outcome makes obsolete: deleted once it commits, kept if it never does."""
        self._discarded += [(storage or default_storage, name) for name in names if name]

    def _remove_uncommitted_files(self) -> None:
        if not self._committed and self._stored:
            _delete(self._stored)


def job[Row: WorkItem](
    model: type[Row], *, args_shown: bool = True, words: Words | None = None
) -> Callable[[Callable[[Row, Run], None]], Callable[[int], None]]:
    """Make `function(row, run)` the rq job of `model`'s durable work, called with the row's id.

    Name it in the model's `class Work:` as `job = "app.jobs.function"`, and declare `done`
    there (the status of finished work). args_shown=False keeps the id out of the log; `words`
    says the log's lines for quiet ends in the kind's own terms.
    """
    kind = claims.kind_of(model)
    if kind.done is None:
        raise TypeError(f"{model.__name__}'s `class Work:` declares no `done` status, which a durable job sets")

    def decorate(function: Callable[[Row, Run], None]) -> Callable[[int], None]:
        @functools.wraps(function)
        def run_job(pk: int) -> None:
            _run(model, function, pk, words or Words())

        return logged(run_job, args_shown=args_shown)

    return decorate


@functools.cache
def _conformance_fault() -> Callable[[claims.WorkKind], None] | None:
    """The conformance kit's fault for this process's runs, if its worker was started by the kit."""
    spec = os.environ.get("WORK_CONFORMANCE")  # CONFORMANCE_ENV
    if not spec:
        return None
    import work.conformance  # only a test's worker gets here

    return work.conformance.worker_fault(json.loads(spec))


def _run[Row: WorkItem](model: type[Row], function: Callable[[Row, Run], None], pk: int, words: Words) -> None:
    kind = claims.kind_of(model)
    fault = _conformance_fault()
    token = claims.claim(kind, pk)
    if token is None:
        status = kind.model.objects.filter(pk=pk).values_list("status", flat=True).first()
        said = words.gone if status is None else words.elsewhere
        logger.info("%s", said.format(name=f"{kind.model._meta.model_name} {pk}", status=status))
        return
    run = Run(kind, pk, token, attempt=0, words=words)
    # The error a Retry was raised from: re-raised once the row is handed back.
    failed_by: BaseException | None = None
    try:
        # Read after the claim, so the function sees the row as this attempt left it.
        row = kind.model.objects.filter(pk=pk).first()
        if row is None:
            raise NotHeld(words.deleted.format(name=run.name))
        run.attempt = row.attempts
        if fault is not None:
            fault(kind)
        function(row, run)
        if not run._results_entered:
            # A simple job stores only its row's outcome: the same locked, checked transaction.
            with run.results():
                pass
    except NotHeld as lost:
        logger.info("%s", lost)
    except Permanent as refused:
        claims.give_up(kind, pk, token, refused.reason, status=refused.status, **refused.fields)
    except claims.GaveUp:
        raise
    except Retry as retry:
        failed_by = retry.__cause__ or retry
        claims.release(
            kind, pk, token, failed_by, last_error=retry.reason, given_up_status=retry.given_up_status, **retry.fields
        )
    except BaseException as error:
        # Storage or database trouble, a bug, or the worker shutting down: rq retries the job.
        claims.release(kind, pk, token, error)
        raise
    finally:
        run._remove_uncommitted_files()
    if failed_by is not None:
        # Raised here, out of the handler, so that its chain stays as it was (no cycle through Retry).
        raise failed_by


def _delete(files: Iterable[tuple[Storage, str]]) -> None:
    for storage, name in files:
        try:
            storage.delete(name)
        except Exception:
            # The outcome stands either way; an orphan file is the lesser harm than a lost row.
            logger.exception("could not delete %s", name)
