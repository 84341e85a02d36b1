"""The scheduler: every worker dyno runs one; the one holding a lease in Redis queues the schedule's jobs.

Why not one clock process: it was a third of the dyno bill and a single point of failure, and
`heroku ps:scale worker=1` alone left the schedule silently unrun. Any number of these run at
once, one in each Procfile worker's parent process (rqworker-pool), and at most one acts:

- The lease is one Redis key, set only if absent and with an expiry (`SET NX PX`), whose value
  names its holder (dyno, pid) and carries a random token. The holder renews it each tick with
  a script that checks the token first; a clean stop deletes it the same way. A holder that dies
  loses it when it expires (SCHEDULE_LEASE_SECONDS), and another dyno takes it at its next tick.
  A holder believes it holds the lease only after a reply it saw; an acquire whose reply timed
  out may still have gone through (Redis runs it when it wakes), so the next attempt, a tick
  later, finds the key naming this holder and takes it as its own.
- Each firing is fenced: one transaction WATCHes the lease, the entry's record and the job's key,
  checks the lease still holds this token, then queues the job and records the slot. A holder
  that was paused past its lease (SIGSTOP, a stalled VM) and wakes up finds another token, or
  sees the transaction fail because the lease moved under it, and queues nothing.
- A firing's job id names the entry and its slot, and the transaction refuses a job id that
  exists, so even two processes that both believe they hold the lease queue a slot once.
- The record of each entry's last fired slot, and when its next is due (for /healthz, which
  need not know the schedule's timing), outlives restarts, so a restart fires nothing
  again; slots missed while no worker ran fire when one is back if they are at most
  SCHEDULE_CATCHUP_SECONDS old, and older ones are skipped with a log line. With no record (a
  new or flushed Redis) an interval entry fires its current slot and a cron entry waits for
  its next time.

Redis errors never end the process: the scheduler tries again every tick, logging at 1 s
doubling to REDIS_RETRY_MAX_SECONDS (queues/backoff.RedisBackoff), so the schedule resumes
within a tick of Redis answering again.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError, WatchError
from rq.job import Job
from rq.utils import get_version

from queues import redis_client
from queues.backoff import RedisBackoff
from scheduling import conf, schedule
from scheduling.schedule import Entry

logger = logging.getLogger(__name__)

LEASE_KEY = "background:schedule:lease"
# The holder's last tick (Unix time), for /healthz and the schedule pages.
TICK_KEY = "background:schedule:ticked"
LAST_KEY_PREFIX = "background:schedule:last:"

# Renew only our own lease: after a pause past its expiry the key may be someone else's.
RENEW_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  redis.call('set', KEYS[2], ARGV[3])
  return 1
end
return 0
"""
# Ours already, it is renewed: an earlier acquire whose reply timed out (a frozen Redis that ran
# it on waking) took it, and believing only a reply seen would leave it held by nobody.
ACQUIRE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] or redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('pexpire', KEYS[1], ARGV[2])
  redis.call('set', KEYS[2], ARGV[3])
  return 1
end
return 0
"""
RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


# The pool's parent forks a worker (at start, and whenever one dies) while the scheduler's
# thread runs. A fork copies the locks that thread holds at that instant, such as redis-py's
# connection pool lock in mid-call, and the child then deadlocks on its first Redis call (seen:
# a worker's first job hung until its shutdown interrupted it). So a fork waits for the tick in
# progress to end, and a tick waits for a fork.
_TICKING = threading.Lock()
os.register_at_fork(before=_TICKING.acquire, after_in_parent=_TICKING.release, after_in_child=_TICKING.release)


def last_key(entry: Entry) -> str:
    return LAST_KEY_PREFIX + entry.name


def holder_name() -> str:
    """Which dyno this is: Heroku's DYNO (worker.1), else the host name."""
    return os.environ.get("DYNO") or socket.gethostname()


class Scheduler:
    def __init__(
        self,
        connection: Redis,
        *,
        name: str | None = None,
        lease: float | None = None,
        catchup: float | None = None,
        entries: list[Entry] | None = None,
    ) -> None:
        self.connection = connection
        self.token = uuid.uuid4().hex
        self.lease_ms = int(1000 * (lease if lease is not None else conf.SCHEDULE_LEASE_SECONDS()))
        self.catchup = catchup if catchup is not None else conf.SCHEDULE_CATCHUP_SECONDS()
        self._entries = entries
        self.value = json.dumps({"holder": name or holder_name(), "pid": os.getpid(), "token": self.token})
        self.holding = False
        self._renew = connection.register_script(RENEW_SCRIPT)
        self._acquire = connection.register_script(ACQUIRE_SCRIPT)
        self._release = connection.register_script(RELEASE_SCRIPT)

    @property
    def entries(self) -> list[Entry]:
        return self._entries if self._entries is not None else schedule.entries()

    def tick(self, now: float | None = None) -> list[str]:
        """Hold or try to take the lease; if held, queue every due slot. Returns the job ids queued."""
        now = time.time() if now is None else now
        if not self._hold(now):
            return []
        queued: list[str] = []
        for entry in self.entries:
            queued += self._fire_due(entry, now)
            if not self.holding:
                break
        return queued

    def release(self) -> None:
        if self.holding:
            self.holding = False
            if self._release(keys=[LEASE_KEY], args=[self.value]):
                logger.info("schedule: lease released by %s", self.value)

    def _hold(self, now: float) -> bool:
        keys = [LEASE_KEY, TICK_KEY]
        args: list[str | int] = [self.value, self.lease_ms, f"{now:.3f}"]
        if self.holding and not self._renew(keys=keys, args=args):
            self.holding = False
            logger.warning("schedule: lease lost by %s (expired or taken over)", self.value)
        if not self.holding and self._acquire(keys=keys, args=args):
            self.holding = True
            logger.info("schedule: lease taken by %s", self.value)
        return self.holding

    def _fire_due(self, entry: Entry, now: float) -> list[str]:
        queued: list[str] = []
        # One slot per transaction, so a firing and its record commit together.
        while self.holding:
            job_id = self._fire_next(entry, now)
            if job_id is None:
                break
            if job_id:
                queued.append(job_id)
        return queued

    def _fire_next(self, entry: Entry, now: float) -> str | None:
        """Queue the entry's oldest due slot: its job id, "" when only the record moved, None when nothing is due."""
        key = last_key(entry)
        # rq's enqueue asks the server's version (INFO, once, cached on the client) outside the
        # pipeline, which holds the client's only connection in the WATCH: asked here, it does
        # not open a second one.
        get_version(self.connection)
        with self.connection.pipeline() as pipe:
            try:
                pipe.watch(LEASE_KEY, key)  # type: ignore[no-untyped-call]  # unannotated in redis-py
                if _text(pipe.get(LEASE_KEY)) != self.value:
                    self.holding = False
                    logger.warning("schedule: %s no longer holds the lease; queueing nothing", self.value)
                    return None
                recorded = _text(pipe.hget(key, "slot"))
                plan = self._plan(entry, int(recorded) if recorded else None, now)
                if plan is None:
                    return None
                job_id = entry.job_id(plan.slot) if plan.fire else ""
                if job_id:
                    pipe.watch(Job.key_for(job_id))  # type: ignore[no-untyped-call]
                    if pipe.exists(Job.key_for(job_id)):
                        # Queued before the record was lost (a flush took the record, not the
                        # job): record the slot, queue nothing.
                        logger.info("schedule: %s is queued already; not again", job_id)
                        job_id = ""
                pipe.multi()
                if job_id:
                    redis_client.queue(entry.queue_name).enqueue(
                        entry.func,
                        job_id=job_id,
                        pipeline=pipe,
                        job_timeout=entry.job_timeout,
                        result_ttl=entry.result_ttl,
                        failure_ttl=entry.failure_ttl,
                        description=f"{entry.name} (scheduled for {_iso(plan.slot)})",
                    )
                    pipe.hset(
                        key,
                        mapping={
                            "slot": plan.slot,
                            "next_due": entry.next_slot(plan.slot),
                            "fired_slot": plan.slot,
                            "job_id": job_id,
                            "enqueued_at": f"{now:.3f}",
                        },
                    )
                else:
                    pipe.hset(key, mapping={"slot": plan.slot, "next_due": entry.next_slot(plan.slot)})
                pipe.execute()
            except WatchError:
                # The lease or the record changed while we looked: another holder acted, or we
                # lost the lease. Either way the next tick looks again.
                return None
        if plan.skipped:
            logger.warning(
                "schedule: %s skipped %d runs from %s to %s, older than SCHEDULE_CATCHUP_SECONDS=%.0f",
                entry.name,
                plan.skipped,
                _iso(plan.skipped_from),
                _iso(plan.skipped_to),
                self.catchup,
            )
        if job_id:
            logger.info(
                "schedule: queued %s on %s for %s (%.1f s after its time) by %s",
                job_id,
                entry.queue_name,
                _iso(plan.slot),
                now - plan.slot,
                self.value,
            )
        elif recorded is None and entry.cron:
            logger.info("schedule: %s starts now; its first run is at %s", entry.name, _iso(entry.next_slot(plan.slot)))
        return job_id

    def _plan(self, entry: Entry, recorded: int | None, now: float) -> Plan | None:
        """What to do about the entry's oldest due slot, or None when nothing is due."""
        if recorded is None:
            if entry.interval_seconds:
                return Plan(entry.latest_slot(now), fire=True)
            # A cron entry with no record starts from now: the record says "nothing owed before".
            return Plan(int(now), fire=False)
        slot = entry.next_slot(recorded)
        if slot > now:
            return None
        oldest_allowed = now - self.catchup
        if slot >= oldest_allowed:
            return Plan(slot, fire=True)
        newest = entry.latest_slot(now)
        if newest >= oldest_allowed:
            keep = entry.first_slot_at_or_after(oldest_allowed)
            last_skipped = entry.latest_slot(keep - 1)
            return Plan(
                keep, fire=True, skipped=entry.count_slots(recorded, keep), skipped_from=slot, skipped_to=last_skipped
            )
        # Every due slot is too old: record the newest as done without running any.
        return Plan(
            newest, fire=False, skipped=entry.count_slots(recorded, newest) + 1, skipped_from=slot, skipped_to=newest
        )


@dataclass(frozen=True)
class Plan:
    slot: int
    fire: bool
    skipped: int = 0
    skipped_from: int = 0
    skipped_to: int = 0


class SchedulerThread:
    """The scheduler's loop in a thread of the worker dyno's parent process, stopped with the dyno."""

    def __init__(self, scheduler: Scheduler, tick: float | None = None) -> None:
        self.scheduler = scheduler
        self.tick_seconds = tick if tick is not None else conf.SCHEDULE_TICK_SECONDS()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        logger.info("schedule: scheduler %s started", self.scheduler.value)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking and hand the lease back at once, so another dyno need not wait for it to expire."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(self.tick_seconds + 2)
        try:
            self.scheduler.release()
        except RedisError as error:
            logger.warning("schedule: could not release the lease (it expires by itself): %s", error)
        logger.info("schedule: scheduler %s stopped", self.scheduler.value)

    def _run(self) -> None:
        backoff = RedisBackoff(logger, f"schedule: scheduler {self.scheduler.value}", retry_seconds=self.tick_seconds)
        while not self._stop.is_set():
            try:
                with _TICKING:
                    self.scheduler.tick()
            except RedisError as error:
                backoff.failed(error)
                continue
            except Exception:
                # A bug in one entry must not end the schedule for every other one.
                logger.exception("schedule: tick failed")
            else:
                backoff.succeeded()
            self._stop.wait(self.tick_seconds)


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
