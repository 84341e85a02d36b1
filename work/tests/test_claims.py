"""The core on its own model (tests/workapp): durable work declared, swept, and plain @job after commit."""

from __future__ import annotations

import json
import zlib
from datetime import timedelta

import django_rq
import pytest
from django.db import transaction
from django.utils import timezone

from tests.support.chores import queue_chore, status_of
from tests.workapp.jobs import ping
from tests.workapp.models import Chore, Ping
from work import claims

pytestmark = pytest.mark.django_db(transaction=True)

CHORE_JOB_ID = claims.kind_of(Chore).job_id


def test_a_model_that_inherits_workitem_is_found_by_the_sweeper_by_itself():
    assert claims.kind_of(Chore) in claims.kinds()
    assert claims.kind_of(Chore).job == "tests.workapp.jobs.do_chore"


def test_durable_work_is_queued_after_the_commit_and_done_once(run_worker):
    with transaction.atomic():
        chore = Chore.objects.create(name="dishes")
        claims.enqueue_on_commit(chore)
        assert django_rq.get_queue("default").count == 0  # nothing before the commit
    assert django_rq.get_queue("default").get_job_ids() == [claims.kind_of(Chore).job_id(chore.pk)]

    run_worker("default")
    run_worker("default")

    chore.refresh_from_db()
    assert (chore.status, chore.runs, chore.attempts) == ("done", 1, 1)


def test_the_sweeper_queues_a_lost_row_and_gives_up_one_out_of_attempts(settings, run_worker):
    settings.WORK_STALE_SECONDS = 0
    lost = Chore.objects.create(name="lost")  # queued while Redis was away: no job
    spent = Chore.objects.create(name="spent", status="doing", attempts=settings.WORK_MAX_ATTEMPTS)
    Chore.objects.filter(pk=spent.pk).update(claimed_at=timezone.now() - timedelta(hours=1))

    report = claims.sweep()

    assert (report.requeued, report.failed) == (1, 1)
    run_worker("default")
    lost.refresh_from_db()
    spent.refresh_from_db()
    assert (lost.status, lost.runs) == ("done", 1)
    assert (spent.status, spent.note) == ("failed", "Given up after several tries.")


def test_job_delay_inside_atomic_runs_after_the_commit_on_json(run_worker):
    queue = django_rq.get_queue("high")
    with transaction.atomic():
        ping.delay(42)
        assert queue.count == 0
    [job_id] = queue.get_job_ids()
    raw = queue.connection.hget(f"rq:job:{job_id}", "data")
    assert json.loads(zlib.decompress(raw))[0] == "tests.workapp.jobs.ping"  # JSON, not pickle

    run_worker("high")

    assert list(Ping.objects.values_list("value", flat=True)) == [42]


def test_job_delay_in_a_rolled_back_transaction_queues_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        ping.delay(7)
        raise RuntimeError("rolled back")
    assert django_rq.get_queue("high").count == 0


def test_a_job_whose_row_is_gone_ends_quietly_in_the_worker(run_worker):
    chore = Chore.objects.create(name="gone")
    claims.enqueue_on_commit(chore)
    Chore.objects.all().delete()

    output = run_worker("default")

    assert f"chore {chore.pk} is done, gone or being done elsewhere" in output.stdout + output.stderr
    assert "Traceback" not in output.stdout + output.stderr


# --- The sweeper, called directly (the schedule runs it every minute) ----------------------------


def test_the_sweeper_never_queues_a_row_whose_job_is_still_waiting(short_lease):
    chore = queue_chore("waiting")
    queue = django_rq.get_queue("default")
    assert queue.count == 1

    report = claims.sweep()

    assert (report.alive, report.requeued) == (1, 0)
    assert queue.count == 1
    assert status_of(chore) == "pending"


def test_a_job_lost_between_queue_and_worker_is_queued_again(short_lease):
    chore = queue_chore("dropped")
    queue = django_rq.get_queue("default")
    # What a worker killed mid-dequeue leaves: the job says "queued" but sits in no queue.
    queue.connection.lrem(queue.key, 0, CHORE_JOB_ID(chore.pk))
    assert queue.count == 0

    report = claims.sweep()

    assert report.requeued == 1
    assert queue.get_job_ids() == [CHORE_JOB_ID(chore.pk)]


def test_a_retry_left_behind_by_a_dead_scheduler_is_queued_by_the_sweeper(short_lease):
    chore = queue_chore("retry")
    queue = django_rq.get_queue("default")
    queue.empty()
    # As a retry looks once its worker (and that worker's scheduler) died: due long ago.
    queue.enqueue_at(
        timezone.now() - timedelta(minutes=5), claims.kind_of(Chore).job, chore.pk, job_id=CHORE_JOB_ID(chore.pk)
    )
    assert queue.count == 0

    claims.sweep()

    assert queue.get_job_ids() == [CHORE_JOB_ID(chore.pk)]
    assert len(queue.scheduled_job_registry) == 0


def test_a_row_out_of_attempts_is_failed_with_its_last_error_and_parked_for_requeue(settings, short_lease):
    chore = queue_chore("spent")
    Chore.objects.filter(pk=chore.pk).update(attempts=settings.WORK_MAX_ATTEMPTS, last_error="OSError: disk on fire")
    queue = django_rq.get_queue("default")
    queue.empty()

    claims.sweep()

    chore.refresh_from_db()
    assert chore.status == "failed"
    assert f"after {settings.WORK_MAX_ATTEMPTS} attempts" in chore.last_error
    assert "disk on fire" in chore.last_error
    assert chore.note == "Given up after several tries."
    assert queue.failed_job_registry.get_job_ids() == [CHORE_JOB_ID(chore.pk)]  # where Requeue is
