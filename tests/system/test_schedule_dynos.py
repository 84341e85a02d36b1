"""The schedule run by the Procfile's worker dynos themselves: each slot queued exactly once through
kills, pauses and restarts.

Each dyno is the Procfile's `worker:` line in its own process tree (its pool parent runs the
scheduler). A test-only entry (tests/workapp/schedule.py) fires every 2 s on `high` and its
job records each run in Redis; each dyno's log has one `schedule: queued <job id> ... (<n> s
after its time) by <holder>` line per firing. The schedule's lease is 5 s instead of 30 s.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

import pytest

from scheduling.scheduler import LEASE_KEY
from tests.support.backend import COMPRESSED_ENV
from tests.support.processes import Process, procfile_command, wait_until
from tests.support.redis_server import ThrowawayRedis
from tests.workapp.schedule import RUNS_KEY

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EVERY_SECONDS = 2
LEASE_SECONDS = 5
TICK_SECONDS = 1
# A slot due while a dead or paused holder's lease runs out waits for it to expire, then for
# another dyno's next tick; the rest is room for a busy 2-core machine.
BOUND_SECONDS = LEASE_SECONDS + TICK_SECONDS + 3
CHAOS_SECONDS = 120

QUEUED = re.compile(r"schedule: queued schedule-test_tick-(\d+) on high for \S+ \(([\d.]+) s after its time\) by (.*)$")


@pytest.fixture
def dyno_env(worker_env, own_redis) -> dict[str, str]:
    return {
        **worker_env,
        **COMPRESSED_ENV,
        "REDIS_URL": own_redis.url,
        "SCHEDULE_LEASE_SECONDS": str(LEASE_SECONDS),
        "SCHEDULE_TICK_SECONDS": str(TICK_SECONDS),
        "TEST_SCHEDULE_EVERY_SECONDS": str(EVERY_SECONDS),
        "SWEEP_INTERVAL_SECONDS": "3600",  # the sweeper once; the test's entry is what is counted
        # Each process gets DYNO, which asks PostgreSQL for TLS as Heroku's does; the test's has none.
        "DATABASE_SSL_REQUIRE": "0",
    }


@dataclass
class Formation:
    env: dict[str, str]
    redis: ThrowawayRedis
    dynos: dict[str, Process] = field(default_factory=dict)
    retired: list[Process] = field(default_factory=list)
    started: int = 0

    def start(self) -> Process:
        self.started += 1
        name = f"worker.{self.started}"
        self.dynos[name] = Process(procfile_command("worker"), {**self.env, "DYNO": name})
        return self.dynos[name]

    def holder(self) -> str | None:
        lease = self.redis.client.get(LEASE_KEY)
        return json.loads(lease)["holder"] if lease else None

    def wait_for_holder(self, other_than: str | None, timeout: float) -> tuple[str, float]:
        began = time.monotonic()
        name = wait_until(
            lambda: (lambda h: h if h and h != other_than else None)(self.holder()),
            timeout,
            "a lease holder",
            every=0.05,
        )
        return name, time.monotonic() - began

    def every_process(self) -> list[Process]:
        return [*self.retired, *self.dynos.values()]

    def close(self) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        for dyno in self.every_process():
            dyno.signal_dyno(signal.SIGCONT)
            dyno.stop(grace=15)


def firings(processes: list[Process]) -> list[tuple[int, float, str]]:
    """(slot, seconds after its time, holder) for every `queued` line in these dynos' logs."""
    found = []
    for process in processes:
        for line in process.output().splitlines():
            match = QUEUED.search(line)
            if match:
                found.append((int(match.group(1)), float(match.group(2)), match.group(3)))
    return found


def _status(redis: ThrowawayRedis, slot: int) -> str | None:
    status = redis.client.hget(f"rq:job:schedule-test_tick-{slot}", "status")
    return status.decode() if status else None


def runs(redis: ThrowawayRedis) -> Counter[str]:
    return Counter(entry.decode().split()[0] for entry in redis.client.lrange(RUNS_KEY, 0, -1))


def assert_each_slot_queued_and_run_exactly_once(
    redis: ThrowawayRedis, fired: list[tuple[int, float, str]], *, dynos_killed: int = 0, frozen_at: float = 0.0
) -> None:
    slots = Counter(slot for slot, _, _ in fired)
    duplicates = {slot: n for slot, n in slots.items() if n > 1}
    assert not duplicates, duplicates
    expected = list(range(min(slots), max(slots) + 1, EVERY_SECONDS))
    assert sorted(slots) == expected, sorted(set(expected) - set(slots))
    # Every firing's job ran, once; the last few may still be on their way.
    wait_until(
        lambda: len(runs(redis)) >= len(expected) - dynos_killed, 30, "every queued slot's job to run", every=0.5
    )
    ran = runs(redis)
    assert {job_id: n for job_id, n in ran.items() if n > 1} == {}
    assert all(job_id.startswith("schedule-test_tick-") for job_id in ran), ran
    ran_slots = {int(job_id.removeprefix("schedule-test_tick-")) for job_id in ran}
    # A job taken or running in a dyno when it is SIGKILLed dies with it, left queued or started
    # (rq later calls it abandoned); a scheduled entry is not durable work, its next slot comes anyway.
    died_with_a_dyno = {slot for slot in set(expected) - ran_slots if _status(redis, slot) in ("queued", "started")}
    # So may the one job a worker held when Redis froze (its result could not be written), if it
    # was queued before the freeze.
    queued_at = {slot: slot + late for slot, late, _ in fired}
    held_at_the_freeze = {slot for slot in died_with_a_dyno if queued_at[slot] < frozen_at}
    assert len(held_at_the_freeze) <= 1, sorted(held_at_the_freeze)
    assert len(died_with_a_dyno - held_at_the_freeze) <= dynos_killed, sorted(died_with_a_dyno)
    assert ran_slots | died_with_a_dyno >= set(expected), sorted(set(expected) - ran_slots - died_with_a_dyno)
    if died_with_a_dyno:
        print(f"jobs that died with a SIGKILLed dyno: {sorted(died_with_a_dyno)}")
    # The dynos still run while this waits: a slot queued after `fired` was read may have run too.
    assert all(slot > expected[-1] for slot in ran_slots - set(expected)), sorted(ran_slots - set(expected))


@pytest.mark.soak
def test_three_worker_dynos_under_kills_and_pauses_queue_every_slot_exactly_once(dyno_env, own_redis):
    formation = Formation(dyno_env, own_redis)
    for _ in range(3):
        formation.start()
    kills: list[float] = []
    pauses: list[float] = []
    stale_checks = 0
    try:
        holder, _ = formation.wait_for_holder(None, 60)
        wait_until(lambda: firings(formation.every_process()), 30, "the first firing")
        # Its job too, before the first kill: the holder's own pool may be running it.
        wait_until(lambda: runs(own_redis), 30, "the first firing's job to run")
        began = time.monotonic()
        while time.monotonic() - began < CHAOS_SECONDS:
            # A crash: the holder's whole dyno SIGKILLed, no goodbye; Heroku starts another.
            holder = formation.holder() or holder
            killed = formation.dynos.pop(holder)
            killed.signal_dyno(signal.SIGKILL)
            formation.retired.append(killed)
            holder, moved = formation.wait_for_holder(holder, 3 * LEASE_SECONDS)
            kills.append(moved)
            formation.start()
            time.sleep(4)

            # A pause past the lease (a stalled machine, a network split): SIGSTOP the new holder.
            paused_name = formation.holder() or holder
            paused = formation.dynos[paused_name]
            paused_at = time.time()
            paused.signal_dyno(signal.SIGSTOP)
            log_before = len(paused.output())
            holder, moved = formation.wait_for_holder(paused_name, 3 * LEASE_SECONDS)
            pauses.append(moved)
            time.sleep(LEASE_SECONDS - moved + 3)  # paused past its lease by several seconds
            paused.signal_dyno(signal.SIGCONT)
            time.sleep(4)
            # Awake: it learns the lease moved before it queues anything.
            woke = paused.output()[log_before:]
            for line in woke.splitlines():
                match = QUEUED.search(line)
                # A firing queued just before the pause may be logged only after it: stopped
                # between its Redis transaction and its log line. Its time says which it was.
                if match and int(match.group(1)) + float(match.group(2)) > paused_at + 1:
                    assert -1 < woke.find("schedule: lease taken") < woke.find(line), woke
            assert "lease lost" in woke or "no longer holds the lease" in woke, woke
            stale_checks += 1

        time.sleep(2 * EVERY_SECONDS)
        fired = firings(formation.every_process())
        lateness = [late for _, late, _ in fired]
        print(
            f"\n{len(fired)} slots queued by {len({who for *_, who in fired})} holders over {CHAOS_SECONDS} s; "
            f"{len(kills)} holders SIGKILLed, lease moved after {', '.join(f'{s:.1f}' for s in kills)} s; "
            f"{len(pauses)} holders SIGSTOPped {LEASE_SECONDS + 3} s, lease moved after "
            f"{', '.join(f'{s:.1f}' for s in pauses)} s; latest slot {max(lateness):.1f} s after its time "
            f"(p50 {sorted(lateness)[len(lateness) // 2]:.1f} s); woken holders queueing nothing stale: {stale_checks}"
        )

        assert_each_slot_queued_and_run_exactly_once(own_redis, fired, dynos_killed=len(kills))
        assert len(fired) >= CHAOS_SECONDS // EVERY_SECONDS
        assert max(kills + pauses) <= LEASE_SECONDS + TICK_SECONDS + 2, (kills, pauses)
        assert max(lateness) <= BOUND_SECONDS, sorted(fired, key=lambda f: -f[1])[:5]
        assert kills and pauses and stale_checks == len(pauses)
    finally:
        formation.stop_all()


def test_sigterm_to_every_dyno_and_a_restart_fire_no_interval_job_twice(dyno_env, own_redis):
    formation = Formation(dyno_env, own_redis)
    for _ in range(2):
        formation.start()
    try:
        formation.wait_for_holder(None, 60)
        wait_until(lambda: len(firings(formation.every_process())) >= 4, 30, "a few firings")

        # A restart: SIGTERM to every process of every dyno; each exits cleanly and the
        # holder hands the lease back.
        for dyno in formation.dynos.values():
            dyno.signal_dyno(signal.SIGTERM)
        codes = [dyno.wait(30) for dyno in formation.dynos.values()]
        assert codes == [0, 0]
        assert own_redis.client.get(LEASE_KEY) is None
        assert any("schedule: lease released" in dyno.output() for dyno in formation.dynos.values())
        before = firings(formation.every_process())
        formation.retired += formation.dynos.values()
        formation.dynos.clear()

        time.sleep(3 * EVERY_SECONDS)  # down across a few slots, as a deploy may be
        restarted = time.time()
        for _ in range(2):
            formation.start()
        formation.wait_for_holder(None, 60)
        wait_until(lambda: len(firings(formation.every_process())) >= len(before) + 6, 30, "firings after the restart")

        fired = firings(formation.every_process())
        after = [firing for firing in fired if firing not in before]
        missed = [slot for slot, _, _ in after if slot <= restarted]
        print(
            f"\n{len(before)} slots before the restart, {len(after)} after; the {len(missed)} slots due while "
            f"down queued once on return, at most {max(late for _, late, _ in after):.1f} s after their time"
        )
        assert_each_slot_queued_and_run_exactly_once(own_redis, fired)
        assert min(slot for slot, _, _ in after) > max(slot for slot, _, _ in before)
    finally:
        formation.stop_all()


def test_with_only_web_and_one_worker_from_the_procfile_the_cleanup_and_the_sweeper_run(
    dyno_env, own_redis, django_user_model
):
    from datetime import timedelta

    from django.utils import timezone

    from tests.support.web import procfile_web
    from tests.workapp.models import Chore

    env = {
        **dyno_env,
        "UNCONFIRMED_CLEANUP_CRON": "* * * * * */4",  # every 4 s (a sixth cron field counts seconds)
        "UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS": "1",
        "SWEEP_INTERVAL_SECONDS": "3",
    }
    stale = django_user_model.objects.create_user(email="never@example.com", password="a-long-passphrase-42")
    django_user_model.objects.filter(pk=stale.pk).update(date_joined=timezone.now() - timedelta(days=2))
    fresh = django_user_model.objects.create_user(email="new@example.com", password="a-long-passphrase-42")
    # A row whose job never reached Redis (queued while it was down): only the sweeper runs it.
    orphan = Chore.objects.create(name="orphan")

    with procfile_web(env) as web, contextlib.closing(Formation(env, own_redis)) as formation:
        formation.start()
        started = time.monotonic()
        wait_until(lambda: not django_user_model.objects.filter(pk=stale.pk).exists(), 60, "the cleanup to run")
        cleaned = time.monotonic() - started
        wait_until(lambda: Chore.objects.get(pk=orphan.pk).status == "done", 60, "the sweeper to queue the orphan")
        swept = time.monotonic() - started
        with urllib.request.urlopen(f"http://127.0.0.1:{web.port}/healthz", timeout=5) as response:
            body = json.loads(response.read())
        print(f"\nweb + 1 worker: cleanup ran {cleaned:.1f} s and the sweeper {swept:.1f} s after the worker started")

        assert body["schedule"]["ok"] is True and body["schedule"]["lease_holder"] == "worker.1"
        assert django_user_model.objects.filter(pk=fresh.pk).exists()
        output = formation.dynos["worker.1"].output()
        assert "schedule: queued schedule-delete_unconfirmed_accounts-" in output
        assert "schedule: queued schedule-sweep_stuck_work-" in output


@pytest.mark.soak
def test_a_redis_frozen_across_the_lease_expiry_leaves_no_lease_held_by_nobody(dyno_env, own_redis):
    # Each scheduler's calls time out while Redis is stopped, and a lease request sent before its
    # timeout still goes through when Redis wakes: the key then names a dyno that never saw the
    # reply. It must take the lease as its own at its next tick, not leave it to expire. A lease
    # of 20 s here tells the two apart: waiting for the expiry would queue nothing for 20 s.
    lease_seconds = 20
    formation = Formation({**dyno_env, "SCHEDULE_LEASE_SECONDS": str(lease_seconds)}, own_redis)
    for _ in range(2):
        formation.start()
    try:
        formation.wait_for_holder(None, 60)
        wait_until(lambda: len(firings(formation.every_process())) >= 2, 30, "a few firings")

        frozen_at = time.time()
        own_redis.freeze()
        time.sleep(lease_seconds + 2)  # the lease expires while Redis is stopped
        own_redis.thaw()
        thawed = time.time()
        wait_until(
            lambda: [late for slot, late, _ in firings(formation.every_process()) if slot + late > thawed],
            2 * lease_seconds,
            "a firing after the thaw",
            every=0.1,
        )
        time.sleep(3 * EVERY_SECONDS)
        fired = firings(formation.every_process())
        first_after = min(slot + late for slot, late, _ in fired if slot + late > thawed) - thawed
        print(f"\nRedis stopped {lease_seconds + 2} s; first slot queued {first_after:.1f} s after it woke")

        # The bound is a lease and a tick; a tick and room for a busy machine is what holds.
        assert first_after <= TICK_SECONDS + 5, fired
        assert_each_slot_queued_and_run_exactly_once(own_redis, fired, frozen_at=frozen_at)
    finally:
        formation.stop_all()
