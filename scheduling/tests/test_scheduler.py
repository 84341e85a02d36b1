"""The schedule's engine against a real Redis: the lease, fencing, one job per slot, restarts, catch-up, UTC.

Several Scheduler objects in one process stand for several worker dynos: each has its own token,
as each dyno's scheduler does. Time is passed to tick() so the tests need not wait for slots.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command, get_commands
from django.utils import timezone
from rq.job import Job

from queues import redis_client
from scheduling import schedule
from scheduling.schedule import Entry
from scheduling.scheduler import LEASE_KEY, Scheduler, last_key
from scheduling.status import lease_holder, statuses
from work import jobs

# 2026-01-01 00:00:00 UTC, a multiple of every interval used here.
T0 = 1767225600


def entry(interval: int | None = 10, cron: str | None = None, name: str = "every") -> Entry:
    return Entry(name, jobs.sweep_stuck_work, "low", cron, None if cron else interval, 600, 600, None)


@pytest.fixture
def redis():
    return redis_client.connection()


def engines(redis, *entries: Entry, n: int = 2, lease: float = 30, catchup: float = 3600) -> list[Scheduler]:
    return [
        Scheduler(redis, name=f"worker.{i + 1}", lease=lease, catchup=catchup, entries=list(entries)) for i in range(n)
    ]


def queued_ids(redis) -> list[str]:
    return [job_id.decode() for job_id in redis.lrange("rq:queue:low", 0, -1)]


def test_two_schedulers_one_lease_each_slot_queued_once(redis):
    a, b = engines(redis, entry(10))

    fired = []
    for now in range(T0, T0 + 60, 1):
        fired += a.tick(now + 0.3) + b.tick(now + 0.6)

    assert a.holding and not b.holding
    assert fired == [f"schedule-every-{slot}" for slot in range(T0, T0 + 60, 10)]
    assert queued_ids(redis) == fired
    job = Job.fetch(fired[0], connection=redis, serializer=redis_client.queue("low").serializer)
    assert job.func_name == "work.jobs.sweep_stuck_work"
    assert lease_holder(redis)["holder"] == "worker.1"


def test_the_lease_moves_when_its_holder_stops_renewing_it(redis):
    a, b = engines(redis, entry(10), lease=1)
    assert a.tick(T0)
    assert b.tick(T0 + 1) == []

    time.sleep(1.2)  # a stops ticking (SIGKILL, SIGSTOP): its lease expires

    assert b.tick(T0 + 10) == [f"schedule-every-{T0 + 10}"]
    assert b.holding
    assert lease_holder(redis)["holder"] == "worker.2"


def test_a_paused_holder_that_wakes_after_its_lease_moved_queues_nothing(redis, caplog):
    a, b = engines(redis, entry(10), lease=1)
    a.tick(T0)
    time.sleep(1.2)
    b.tick(T0 + 10)

    # a wakes believing it holds the lease, with slots due by its clock.
    assert a.holding
    with caplog.at_level(logging.WARNING, logger="scheduling.scheduler"):
        assert a.tick(T0 + 30) == []
    assert not a.holding
    assert "lease lost" in caplog.text
    assert queued_ids(redis) == [f"schedule-every-{T0}", f"schedule-every-{T0 + 10}"]


def test_a_stale_holder_fenced_between_its_check_and_its_firing(redis):
    # The narrowest window: renewed, then paused before the firing's transaction.
    a, b = engines(redis, entry(10), lease=30)
    a.tick(T0)
    redis.delete(LEASE_KEY)  # its lease lapses while it is paused ...
    b.tick(T0 + 5)  # ... and b takes it

    assert a._fire_due(entry(10), T0 + 20) == []
    assert not a.holding
    assert b.tick(T0 + 20) == [f"schedule-every-{T0 + 10}", f"schedule-every-{T0 + 20}"]


def test_two_holders_at_once_still_queue_a_slot_once(redis):
    # A network split: both believe they hold it, and the record of the last slot is lost.
    a, b = engines(redis, entry(10))
    assert a.tick(T0) == [f"schedule-every-{T0}"]
    redis.delete(last_key(entry(10)))
    b.holding = True
    redis.set(LEASE_KEY, b.value)

    assert b.tick(T0 + 1) == []  # the job id exists: the slot is recorded, not queued again
    assert queued_ids(redis) == [f"schedule-every-{T0}"]


def test_a_restart_fires_no_interval_job_again(redis):
    [first] = engines(redis, entry(10), n=1)
    assert first.tick(T0 + 3) == [f"schedule-every-{T0}"]
    first.release()

    [restarted] = engines(redis, entry(10), n=1)  # a new process: new token, same Redis
    assert restarted.tick(T0 + 4) == []
    assert restarted.tick(T0 + 9.9) == []
    assert restarted.tick(T0 + 10) == [f"schedule-every-{T0 + 10}"]


def test_missed_slots_within_the_catchup_bound_run_once_and_older_ones_are_skipped(redis, caplog):
    [scheduler] = engines(redis, entry(10), n=1, catchup=35)
    scheduler.tick(T0)
    with caplog.at_level(logging.INFO, logger="scheduling.scheduler"):
        fired = scheduler.tick(T0 + 100)  # no worker up from T0 + 1 to T0 + 100

    assert fired == [f"schedule-every-{slot}" for slot in (T0 + 70, T0 + 80, T0 + 90, T0 + 100)]
    skipped = [record.getMessage() for record in caplog.records if "skipped" in record.getMessage()]
    assert len(skipped) == 1
    assert "skipped 6 runs from 2026-01-01T00:00:10Z to 2026-01-01T00:01:00Z" in skipped[0]
    assert scheduler.tick(T0 + 101) == []


def test_a_missed_daily_run_older_than_the_bound_is_skipped_not_run(redis, caplog):
    daily = entry(cron="17 3 * * *", name="daily")
    [scheduler] = engines(redis, daily, n=1, catchup=3600)
    redis.hset(last_key(daily), "slot", T0 - 86400 + 3 * 3600 + 17 * 60)  # yesterday's 03:17 ran

    assert scheduler.tick(T0 + 3 * 3600 + 17 * 60 + 1800) == [
        f"schedule-daily-{T0 + 3 * 3600 + 17 * 60}"
    ]  # 30 min late
    redis.hset(last_key(daily), "slot", T0 + 3 * 3600 + 17 * 60)
    with caplog.at_level(logging.WARNING, logger="scheduling.scheduler"):
        assert scheduler.tick(T0 + 86400 + 3 * 3600 + 17 * 60 + 7200) == []  # the next one: 2 h late
    assert "daily skipped 1 runs" in caplog.text
    assert int(redis.hget(last_key(daily), "slot")) == T0 + 86400 + 3 * 3600 + 17 * 60


def test_cron_strings_are_read_in_utc_whatever_the_local_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        daily = entry(cron="17 3 * * *", name="daily")
        assert datetime.fromtimestamp(daily.next_slot(T0), tz=UTC) == datetime(2026, 1, 1, 3, 17, tzinfo=UTC)
        assert datetime.fromtimestamp(daily.latest_slot(T0), tz=UTC) == datetime(2025, 12, 31, 3, 17, tzinfo=UTC)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_with_no_record_a_cron_entry_starts_from_now_and_an_interval_entry_fires_its_slot(redis):
    minutely, every = entry(cron="* * * * *", name="minutely"), entry(10)
    [scheduler] = engines(redis, minutely, every, n=1)

    assert scheduler.tick(T0 + 30) == [f"schedule-every-{T0 + 30}"]  # a fresh (or flushed) Redis
    assert scheduler.tick(T0 + 59) == [f"schedule-every-{T0 + 40}", f"schedule-every-{T0 + 50}"]
    assert scheduler.tick(T0 + 60) == [f"schedule-minutely-{T0 + 60}", f"schedule-every-{T0 + 60}"]


def test_registering_checks_names_and_timings():
    with pytest.raises(ValueError, match="not both"):
        schedule.register(jobs.sweep_stuck_work, name="x", queue_name="low", cron="* * * * *", interval_seconds=5)
    with pytest.raises(ValueError, match="letters"):
        schedule.register(jobs.sweep_stuck_work, name="a.b", queue_name="low", interval_seconds=5)
    with pytest.raises(ValueError, match="cron string"):
        schedule.register(jobs.sweep_stuck_work, name="x", queue_name="low", cron="every day")
    names = [e.name for e in schedule.entries()]
    assert "sweep_stuck_work" in names and "delete_unconfirmed_accounts" in names


@pytest.mark.django_db(transaction=True)
def test_the_scheduled_cleanup_is_run_by_a_json_worker_and_its_outcome_shown(django_user_model, run_worker, redis):
    stale = django_user_model.objects.create_user(email="stale@example.com", password="p-long-passphrase-1")
    django_user_model.objects.filter(pk=stale.pk).update(date_joined=timezone.now() - timedelta(days=30))
    [cleanup] = [e for e in schedule.entries() if e.name == "delete_unconfirmed_accounts"]
    now = time.time()
    redis.hset(last_key(cleanup), "slot", cleanup.latest_slot(now) - 1)  # its time just came
    [scheduler] = engines(redis, cleanup, n=1, catchup=2 * 86400)

    [job_id] = scheduler.tick(now)
    run_worker("low")

    assert not django_user_model.objects.filter(pk=stale.pk).exists()
    [shown] = [s for s in statuses(redis) if s.name == "delete_unconfirmed_accounts"]
    assert (shown.last_job_id, shown.outcome) == (job_id, "finished")
    assert shown.next_run == cleanup.next_slot(cleanup.latest_slot(now))


@pytest.mark.django_db
def test_the_schedule_command_lists_entries_next_and_last_runs_and_the_holder(redis, capsys):
    [scheduler] = engines(redis, *schedule.entries(), n=1)
    # The daily entry: an app's hourly one would be caught up on this tick and its old job replaced.
    [cleanup] = [e for e in schedule.entries() if e.name == "delete_unconfirmed_accounts"]
    redis.hset(last_key(cleanup), mapping={"slot": T0, "job_id": f"schedule-x-{T0}", "enqueued_at": T0})
    scheduler.tick()

    call_command("schedule")

    out = capsys.readouterr().out
    assert "Lease holder: worker.1" in out
    assert "delete_unconfirmed_accounts" in out and "cron 17 3 * * * (UTC)" in out
    assert "sweep_stuck_work" in out
    assert "expired" in out  # the cleanup's recorded job is long gone


def test_the_project_commands_override_django_rq():
    # background comes first in INSTALLED_APPS so its JSON-defaulting commands win.
    commands = get_commands()
    assert commands["rqworker"] == "workers"
    assert commands["rqworker-pool"] == "workers"
    assert commands["schedule"] == "scheduling"


@pytest.mark.django_db
def test_the_admin_shows_the_schedule_and_its_holder_to_staff_only(client, redis, django_user_model):
    [sweep] = [e for e in schedule.entries() if e.name == "sweep_stuck_work"]
    redis.hset(last_key(sweep), "slot", sweep.latest_slot(time.time()) - 60)  # a minute's slot is due
    [scheduler] = engines(redis, *schedule.entries(), n=1)
    scheduler.tick()
    staff = django_user_model.objects.create_user(email="staff@example.com", password="s-long-passphrase-1")
    staff.is_staff = True
    staff.save()

    assert client.get("/admin/scheduling/schedule/").status_code == 302  # to the admin's login
    client.force_login(staff)
    index = client.get("/admin/").content.decode()
    page = client.get("/admin/scheduling/schedule/")

    assert 'href="/admin/scheduling/schedule/"' in index
    assert page.status_code == 200
    text = page.content.decode()
    assert "Lease holder: <strong>worker.1</strong>" in text
    assert "delete_unconfirmed_accounts" in text and "cron 17 3 * * * (UTC)" in text
    assert "schedule-sweep_stuck_work-" in text  # its last run's job, and its outcome: queued
    assert "queued<br>" in text


@pytest.mark.django_db(transaction=True)
def test_a_bare_rqworker_typed_by_hand_runs_jobs_but_not_the_schedule(run_worker, redis):
    redis_client.queue("low").enqueue(jobs.sweep_stuck_work)

    result = run_worker("high", "default", "low")

    assert "job ended" in result.stdout + result.stderr
    assert redis.get(LEASE_KEY) is None
    assert not any(key.startswith(b"background:schedule:") for key in redis.keys("*"))
