"""work.durable: a durable kind written as the docs show it keeps every promise of the protocol.

The kind is tests/workapp's Report (docs/adding-jobs.md's example, word for word). Real rq workers and
Redis, in a process of their own (run_worker) or, where a test patches a fault in, in this
process (rq's SimpleWorker); the interleavings (a row deleted, a claim taken over between the
work and its results) are forced by calling the job here.
"""

from __future__ import annotations

import inspect
import logging
import re
import textwrap
from datetime import timedelta
from pathlib import Path

import django_rq
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.db.models import F
from django.utils import timezone

from queues.config import SERIALIZER
from tests.workapp.jobs import make_report
from tests.workapp.models import Chore, Report
from work import claims, durable

pytestmark = pytest.mark.django_db(transaction=True)

ADDING_JOBS = Path(__file__).resolve().parents[2] / "docs" / "adding-jobs.md"
KIND = claims.kind_of(Report)


def queue_report(content: bytes) -> Report:
    report = Report(upload=default_storage.save("amounts.txt", ContentFile(content)))
    report.save()
    claims.enqueue_on_commit(report)
    return report


def run_here(queue: str = "default") -> None:
    """A real rq worker in this process, so the test's patches and settings reach the jobs."""
    worker = django_rq.get_worker(queue, worker_class="rq.SimpleWorker", serializer=SERIALIZER)
    worker.work(burst=True)


def storage_fails(monkeypatch, error: BaseException) -> list[str]:
    """Every read of a stored file raises `error`; the names it was asked for are returned."""
    asked: list[str] = []

    def failing_open(self, name, mode="rb"):
        asked.append(name)
        raise error

    monkeypatch.setattr(type(storages["default"]), "_open", failing_open)
    return asked


def between_work_and_results(monkeypatch, meanwhile) -> None:
    """Call meanwhile(run) once the job's function has done its work, before its results are stored."""
    results = durable.Run.results

    def late_results(self, **fields):
        meanwhile(self)
        return results(self, **fields)

    monkeypatch.setattr(durable.Run, "results", late_results)


# --- The docs' example --------------------------------------------------------------------


def readme_blocks() -> list[str]:
    section = ADDING_JOBS.read_text()
    return [textwrap.dedent(block) for block in re.findall(r"```python\n(.*?)```", section, re.S)]


def test_the_readmes_example_is_the_test_kind_word_for_word():
    model = inspect.getsource(Report)
    job = inspect.getsource(make_report)
    blocks = [block.replace('"reports.jobs.', '"tests.workapp.jobs.') for block in readme_blocks()]

    assert model in blocks
    assert job in blocks
    assert len((model + job).splitlines()) <= 15


# --- What the wrapper does -----------------------------------------------------------------


def test_a_report_queued_twice_is_made_once_and_its_upload_deleted_after_the_commit(run_worker):
    report = queue_report(b"1250\n300\n")
    upload = report.upload.name
    # A second job for the same row under another id, as a duplicate delivery would be.
    django_rq.get_queue("default", commit_mode="auto").enqueue(KIND.job, report.pk, job_id="duplicate")

    output = run_worker("default")

    report.refresh_from_db()
    assert (report.status, report.attempts, report.total, report.upload.name) == ("done", 1, 1550, "")
    assert (report.claim_token, report.last_error) == (claims.UNCLAIMED, "")
    assert not default_storage.exists(upload)
    assert f"report {report.pk} is done, gone or being done elsewhere" in output.stdout + output.stderr


def test_a_permanent_error_gives_the_row_up_with_its_sentence_after_one_attempt(run_worker):
    report = queue_report(b"1250\ntwelve euros\n")

    run_worker("default")

    report.refresh_from_db()
    queue = django_rq.get_queue("default")
    assert (report.status, report.attempts) == ("failed", 1)
    assert report.last_error == "Every line must be a whole number of cents."
    assert (report.total, report.claim_token) == (None, claims.UNCLAIMED)
    assert default_storage.exists(report.upload.name)  # nothing of a failed run is discarded
    assert queue.failed_job_registry.get_job_ids() == [KIND.job_id(report.pk)]  # where Requeue is
    assert len(queue.scheduled_job_registry) == 0  # not retried


def test_a_transient_error_is_retried_on_the_kinds_schedule(settings, monkeypatch):
    settings.WORK_RETRY_SCHEDULE = (60,)
    storage_fails(monkeypatch, ConnectionError("the bucket did not answer"))
    report = queue_report(b"1250\n")

    run_here()

    report.refresh_from_db()
    registry = django_rq.get_queue("default").scheduled_job_registry
    assert (report.status, report.attempts, report.claim_token) == ("pending", 1, claims.UNCLAIMED)
    assert report.last_error == "ConnectionError: the bucket did not answer"
    assert registry.get_job_ids() == [KIND.job_id(report.pk)]
    due = registry.get_scheduled_time(KIND.job_id(report.pk))
    assert timedelta(seconds=50) < due - timezone.now() <= timedelta(seconds=60)


def test_a_transient_error_every_time_gives_the_row_up_after_the_last_attempt(settings, monkeypatch):
    settings.WORK_RETRY_SCHEDULE = (0, 0)  # 3 attempts, each retry at once
    asked = storage_fails(monkeypatch, ConnectionError("the bucket did not answer"))
    report = queue_report(b"1250\n")

    run_here()

    report.refresh_from_db()
    queue = django_rq.get_queue("default")
    assert len(asked) == 3
    assert (report.status, report.attempts, report.total) == ("failed", 3, None)
    assert report.last_error == "Gave up after 3 attempts. Last error: ConnectionError: the bucket did not answer"
    assert queue.failed_job_registry.get_job_ids() == [KIND.job_id(report.pk)]
    assert (queue.count, len(queue.scheduled_job_registry)) == (0, 0)


def test_a_row_deleted_during_the_run_stores_nothing_and_ends_quietly(monkeypatch, caplog):
    report = queue_report(b"1250\n")
    upload = report.upload.name
    between_work_and_results(monkeypatch, lambda run: Report.objects.filter(pk=run.pk).delete())

    with caplog.at_level(logging.INFO, logger="work.durable"):
        make_report(report.pk)  # no exception

    assert not Report.objects.exists()
    assert default_storage.exists(upload)  # its deletion did not commit here: the deleter's files
    assert f"report {report.pk} was deleted during this run; nothing of it is stored" in caplog.text


def test_a_run_whose_lapsed_claim_another_run_took_over_stores_nothing(monkeypatch, caplog):
    report = queue_report(b"1250\n")
    upload = report.upload.name
    taken: list[str | None] = []

    def another_run_takes_over(run: durable.Run) -> None:
        # The lease ran out while this run worked; the sweeper's job claimed the row again.
        Report.objects.filter(pk=run.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
        taken.append(claims.claim(KIND, run.pk))

    between_work_and_results(monkeypatch, another_run_takes_over)

    with caplog.at_level(logging.INFO, logger="work.durable"):
        make_report(report.pk)  # no exception

    report.refresh_from_db()
    assert taken[0] is not None
    assert (report.status, report.claim_token, report.attempts) == ("making", taken[0], 2)
    assert (report.total, report.upload.name) == (None, upload)  # the stale run wrote nothing
    assert default_storage.exists(upload)  # and deleted nothing
    assert "was taken over (this run's claim lapsed); nothing of this run is stored" in caplog.text


def test_a_shutdown_mid_run_hands_the_row_back_and_re_raises(monkeypatch):
    class ShutDown(BaseException):  # as rq's ShutDownImminentException is for an Exception-only except
        pass

    storage_fails(monkeypatch, ShutDown())
    report = queue_report(b"1250\n")

    with pytest.raises(ShutDown):
        make_report(report.pk)

    report.refresh_from_db()
    assert (report.status, report.attempts, report.claim_token) == ("pending", 1, claims.UNCLAIMED)
    assert report.last_error.startswith("ShutDown")


# --- Files --------------------------------------------------------------------------------


@durable.job(Report)
def store_a_summary(report: Report, run: durable.Run) -> None:
    """Stores a file and discards the upload, as a kind that makes files would; `report.total` picks the ending."""
    name = default_storage.save(f"summary-{report.pk}.txt", ContentFile(b"summary"))
    run.file_stored(name)
    run.delete_files_after_commit([report.upload.name])
    with run.results(upload=name, total=F("attempts")):
        if report.total == -1:
            raise durable.Permanent("The summary cannot be made.")
        if report.total == -2:
            raise OSError("the disk is full")


def test_files_stored_by_a_run_stay_and_discarded_ones_go_once_its_outcome_commits():
    report = queue_report(b"1\n")
    upload = report.upload.name

    store_a_summary(report.pk)

    report.refresh_from_db()
    assert (report.status, report.total) == ("done", 1)
    assert default_storage.exists(report.upload.name)
    assert not default_storage.exists(upload)


@pytest.mark.parametrize(("ending", "status"), [(-1, "failed"), (-2, "pending")])
def test_a_run_whose_outcome_is_rolled_back_removes_its_files_and_discards_nothing(ending, status):
    report = queue_report(b"1\n")
    Report.objects.filter(pk=report.pk).update(total=ending)

    with pytest.raises((claims.GaveUp, OSError)):
        store_a_summary(report.pk)

    report.refresh_from_db()
    assert (report.status, report.total) == (status, ending)
    assert not default_storage.exists(f"summary-{report.pk}.txt")
    assert default_storage.exists(report.upload.name)


def test_a_kind_without_a_done_status_is_refused_when_its_job_is_declared(monkeypatch):
    # Every installed kind declares one: take the test kind's away for this test.
    monkeypatch.delattr(Chore.Work, "done")
    claims._kind_of.cache_clear()
    try:
        with pytest.raises(TypeError, match="declares no `done` status"):
            durable.job(Chore)
    finally:
        monkeypatch.undo()
        claims._kind_of.cache_clear()


@durable.job(Report)
def retry_in_its_own_words(report: Report, run: durable.Run) -> None:
    try:
        raise OSError("the disk is full")
    except OSError as error:
        raise durable.Retry("No room to write the total.", total=-3) from error


def test_retry_hands_the_row_back_in_the_jobs_words_and_re_raises_the_error_it_came_from(settings):
    settings.WORK_RETRY_SCHEDULE = (60,)  # 2 attempts
    report = queue_report(b"1\n")

    with pytest.raises(OSError, match="the disk is full"):
        retry_in_its_own_words(report.pk)

    report.refresh_from_db()
    assert (report.status, report.attempts, report.claim_token, report.total) == ("pending", 1, claims.UNCLAIMED, -3)
    assert report.last_error == "No room to write the total."

    with pytest.raises(claims.GaveUp):
        retry_in_its_own_words(report.pk)

    report.refresh_from_db()
    assert (report.status, report.attempts, report.total) == ("failed", 2, -3)
    assert report.last_error == "Gave up after 2 attempts. Last error: No room to write the total."
