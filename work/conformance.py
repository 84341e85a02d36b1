"""The conformance kit: proof, with real worker processes and real Redis, that a durable kind keeps its promises.

One line in a test module runs it on a kind (docs/adding-jobs.md):

    test_reports_keep_the_guarantees = conformance.suite(Report, make_row=new_report)

`suite` makes a pytest test (marked slow, on a transactional database) with one case per
scenario below. Each case makes a row with `make_row` (a function; its parameters are fixture
names, e.g. `lambda user: ...`), starts the Procfile's worker (burst or not, as the scenario
needs) with the environment of the test's database, Redis and media, forces a fault, and reads
the row. A broken promise raises Violation, whose message names the scenario, the promise and
what the kit saw. `check` runs scenarios inside a test of one's own.

The faults are forced in the worker processes through work/durable.py's CONFORMANCE_ENV, which
only this kit sets: a run is held, slowed or failed just before the kind's function is called,
or, with `fault_at`, inside a function the job calls (so the job's own `try` blocks see the
fault as they would a real one). Nothing else of the kind's code path is replaced. The kit
also shortens the lease (LEASE_SECONDS) and the kind's retry schedule (RETRY_WAITS), in the
test process and in its workers, so that the whole kit takes about a minute per kind.

What it does not know, it is told: `count_done(row)` says how many times the work was really
done (the messages an SMTP server got, a counter the job increments), which the kit then wants
to be exactly 1 (0 after a failure); without it the kit judges by the row alone.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import itertools
import json
import os
import shutil
import signal
import subprocess  # for TimeoutExpired only: devtools.processes starts the workers  # nosec B404
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.test import override_settings

from queues import redis_client
from work import claims, durable

# Workers started as a dyno starts them, signalled as Heroku signals a dyno (the fault tests' and
# the benchmarks' process tree). devtools lies outside mypy's files (psutil ships no types), hence
# the import by name and the Protocol below.
_processes: Any = importlib.import_module("devtools.processes")
SHUTDOWN_GRACE_SECONDS: int = _processes.SHUTDOWN_GRACE_SECONDS


class ProcessTree(Protocol):
    """What the kit uses of devtools.processes.ProcessTree."""

    def poll(self) -> int | None: ...
    def wait(self, timeout: float) -> int: ...
    def stop(self, grace: float | None = None) -> int: ...
    def output(self) -> str: ...
    def signal_dyno(self, signum: int) -> None: ...


# Short enough for a test to wait out; production's is a minute.
LEASE_SECONDS = 4
# The retry schedule every kind gets under the kit: three attempts, the second wait the longer, so
# the order shows. rq keeps a retry's time in whole seconds: one may run up to a second early.
RETRY_WAITS = (1, 3)
ATTEMPTS = len(RETRY_WAITS) + 1
# The sentences of the faults the kit forces.
PERMANENT_TEXT = "Conformance kit: this work can never succeed."
TRANSIENT_TEXT = "conformance kit: the service did not answer"
# A held run goes on by itself after this long, so a test that forgot it cannot hang a worker.
HOLD_LIMIT_SECONDS = 120
# How long a scenario waits for a worker to get somewhere before it calls the kind broken.
# How long rq may take to park a failed job after its run ended, on a busy machine.
PARK_SECONDS = 15
PATIENCE_SECONDS = 90

PROMISES = {
    "duplicate_delivery": "the same job delivered twice, with the sweeper racing, does the work once",
    "sigkill": "a worker SIGKILLed mid-run leaves the row to the sweeper, and it is done once",
    "lapsed_lease": "a run whose claim lapsed mid-run, the row taken over and done by another run, writes nothing",
    "permanent_error": "a permanent error gives the row up with its sentence after one attempt",
    "transient_error": "a transient error is retried on the kind's schedule, the row given up after the last attempt",
    "deleted_mid_run": "a row deleted mid-run: nothing stored, no error",
    "redis_flushed": "Redis flushed while the row is pending: it is done after the sweep",
    "sigterm": "a worker stopped (SIGTERM) mid-run hands the row back, and a restarted worker does it once",
}
SCENARIOS = tuple(PROMISES)
# A row's own bookkeeping, which the claim protocol writes: not the outcome of its work.
BOOKKEEPING = {"id", "status", "attempts", "last_error", "claim_token", "claimed_at", "created_at", "updated_at"}


class Violation(AssertionError):
    """A kind broke one of the promises: the message names the scenario, the promise and what was seen."""


# --- The worker's side: called by work/durable.py in a worker the kit started ----------------


def worker_fault(spec: dict[str, Any]) -> Callable[[claims.WorkKind], None] | None:
    """Apply the kit's settings to this worker and return its fault, to force before the kind's function.

    With spec["at"] the fault is forced inside that function instead (it is replaced by one that
    forces the fault, then calls it), and None is returned.
    """
    for name, value in spec.get("settings", {}).items():
        setattr(settings, name, value)
    if not spec.get("fault"):
        return None
    if spec.get("at"):
        module_name, _, name = spec["at"].rpartition(".")
        module = importlib.import_module(module_name)
        original = getattr(module, name)

        @functools.wraps(original)
        def faulty(*args: Any, **kwargs: Any) -> Any:
            _force(spec)
            return original(*args, **kwargs)

        setattr(module, name, faulty)
        return None

    def before_the_function(kind: claims.WorkKind) -> None:
        if kind.model._meta.label_lower == spec["model"]:
            _force(spec)

    return before_the_function


def _force(spec: dict[str, Any]) -> None:
    with open(spec["log"], "a") as log:
        log.write(f"{time.time():.3f}\n")
    fault = spec["fault"]
    if fault == "slow":
        time.sleep(float(spec["seconds"]))
    elif fault == "hold":
        # Told to the kit, which then kills, stops, deletes or takes over while the run waits here.
        Path(spec["hold"] + ".reached").touch()
        deadline = time.monotonic() + HOLD_LIMIT_SECONDS
        while os.path.exists(spec["hold"]) and time.monotonic() < deadline:
            time.sleep(0.05)
    elif fault == "permanent":
        raise durable.Permanent(PERMANENT_TEXT)
    elif fault == "transient":
        raise ConnectionError(TRANSIENT_TEXT)


# --- The test's side -------------------------------------------------------------------------


def suite(
    model: type[Any],
    *,
    make_row: Callable[..., Any],
    count_done: Callable[..., int] | None = None,
    fault_at: str | None = None,
    worker_env: dict[str, str] | Callable[..., dict[str, str]] | None = None,
    scenarios: Iterable[str] = SCENARIOS,
) -> Callable[..., None]:
    """A pytest test, one case per scenario, proving that `model`'s kind keeps every promise.

    make_row(): a new row of the kind, pending (queued or not); worker_env(): what the workers'
    environment needs besides the database, Redis and media (e.g. an SMTP server's address);
    count_done(row): how many times its work was done. The parameters of these functions after
    the row are fixture names, which the test asks pytest for.
    """
    import pytest  # the kit's test side runs under pytest; workers never import it

    @pytest.mark.slow
    @pytest.mark.django_db(transaction=True)
    @pytest.mark.parametrize("scenario", list(scenarios))
    def test_the_kind_keeps_the_guarantees(request: pytest.FixtureRequest, scenario: str) -> None:
        def with_fixtures(function: Callable[..., Any], *, after: int = 0) -> Callable[..., Any]:
            names = list(inspect.signature(function).parameters)[after:]
            return functools.partial(function, **{name: request.getfixturevalue(name) for name in names})

        env = with_fixtures(worker_env)() if callable(worker_env) else worker_env
        kit = Kit(
            model,
            make_row=with_fixtures(make_row),
            count_done=with_fixtures(count_done, after=1) if count_done else None,
            fault_at=fault_at,
            worker_env=env,
        )
        kit.run(scenario)

    return test_the_kind_keeps_the_guarantees


def check(
    model: type[Any],
    *,
    make_row: Callable[[], Any],
    count_done: Callable[[Any], int] | None = None,
    fault_at: str | None = None,
    worker_env: dict[str, str] | None = None,
    scenarios: Iterable[str] = SCENARIOS,
) -> None:
    """Run the scenarios one after the other inside a test (on a transactional database); Violation if one fails."""
    for scenario in scenarios:
        Kit(model, make_row=make_row, count_done=count_done, fault_at=fault_at, worker_env=worker_env).run(scenario)


class Kit:
    """The scenarios, for one kind; each run() makes its own row and workers and stops them after."""

    def __init__(
        self,
        model: type[Any],
        *,
        make_row: Callable[[], Any],
        count_done: Callable[[Any], int] | None = None,
        fault_at: str | None = None,
        worker_env: dict[str, str] | None = None,
    ) -> None:
        self.kind = claims.kind_of(model)
        if self.kind.done is None:
            raise TypeError(f"{model.__name__}'s `class Work:` declares no `done` status; the kit checks for it")
        self.model = model
        self.make_row = make_row
        self.count_done = count_done
        self.fault_at = fault_at
        self.worker_env = worker_env or {}
        self.scenario = ""
        self.pk: int = 0
        self.workers: list[ProcessTree] = []
        self.holds: list[Path] = []
        self.folder = Path()

    # -- running a scenario

    def run(self, scenario: str) -> None:
        if scenario not in PROMISES:
            raise ValueError(f"no such scenario {scenario!r}; the kit has {', '.join(SCENARIOS)}")
        self.scenario = scenario
        self.folder = Path(tempfile.mkdtemp(prefix="conformance-"))
        try:
            with override_settings(**self._settings()):
                getattr(self, f"_{scenario}")()
        finally:
            for hold in self.holds:
                hold.unlink(missing_ok=True)
            for worker in self.workers:
                worker.stop(grace=15)
            shutil.rmtree(self.folder, ignore_errors=True)

    def _settings(self) -> dict[str, Any]:
        short = {
            "WORK_CLAIM_LEASE_SECONDS": LEASE_SECONDS,
            # The sweeper takes a pending row at once, not after half a minute.
            "WORK_STALE_SECONDS": 0,
            self.kind.schedule_setting: list(RETRY_WAITS),
        }
        if self.kind.attempts_setting is not None:
            short[self.kind.attempts_setting] = ATTEMPTS
        return short

    def violation(self, seen: str, *workers: ProcessTree) -> Violation:
        said = "".join(f"\n--- worker output ---\n{worker.output()[-3000:]}" for worker in workers)
        return Violation(f"{self.model.__name__} breaks {self.scenario!r}: {PROMISES[self.scenario]}. {seen}{said}")

    def expect(self, holds: bool, seen: str, *workers: ProcessTree) -> None:
        if not holds:
            raise self.violation(seen, *workers)

    # -- rows, workers, Redis

    def new_row(self) -> dict[str, Any]:
        row = self.make_row()
        self.pk = row.pk
        if not claims.is_job_alive(self.kind, self.pk):
            claims.enqueue(self.kind, self.pk)
        return self.row() or {}

    def row(self) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.model.objects.filter(pk=self.pk).values().first()
        return found

    def described(self, row: dict[str, Any] | None) -> str:
        if row is None:
            return "the row is gone"
        said = f"status {row['status']!r} after {row['attempts']} attempt(s)"
        if row["last_error"]:
            said += f", last error {row['last_error']!r}"
        return said

    def done_times(self) -> int | None:
        if self.count_done is None:
            return None
        return self.count_done(self.model.objects.get(pk=self.pk))

    def expect_done_once(self, attempts: int, *workers: ProcessTree) -> None:
        times = self.done_times() if self.row() is not None else 0
        self.expect(times in (None, 1), f"The work was done {times} times.", *workers)
        row = self.row()
        self.expect(
            row is not None and row["status"] == self.kind.done and row["attempts"] == attempts,
            f"Wanted status {self.kind.done!r} after {attempts} attempt(s); {self.described(row)}.",
            *workers,
        )

    def start(self, *, fault: str | None = None, burst: bool = False, **details: Any) -> ProcessTree:
        argv: list[str] = _processes.procfile_command("worker")
        if self.kind.queue not in argv:
            raise self.violation(f"The Procfile's worker ({' '.join(argv)}) does not listen on {self.kind.queue!r}.")
        spec: dict[str, Any] = {
            "model": self.model._meta.label_lower,
            "settings": self._settings(),
            "log": str(self.folder / "attempts.log"),
        }
        if fault:
            spec.update(fault=fault, at=self.fault_at, **details)
        queues = settings.RQ_QUEUES
        env = {
            **os.environ,
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": queues[self.kind.queue]["URL"],
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PYTHONUNBUFFERED": "1",
            # One worker per dyno: the held run is the only one the dyno has.
            "WORKER_CONCURRENCY": "1",
            "WORK_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),
            "WORK_STALE_SECONDS": "0",
            durable.CONFORMANCE_ENV: json.dumps(spec),
            **self.worker_env,
        }
        log = self.folder / f"worker-{len(self.workers)}.log"
        worker: ProcessTree = _processes.ProcessTree([*argv, *(["--burst"] if burst else [])], env, log)
        self.workers.append(worker)
        return worker

    def hold(self) -> Path:
        hold = self.folder / f"hold-{len(self.holds)}"
        hold.touch()
        self.holds.append(hold)
        return hold

    def wait_held(self, hold: Path, worker: ProcessTree) -> None:
        def held() -> bool:
            if Path(f"{hold}.reached").exists():
                return True
            row = self.row()
            if row is None or row["status"] in (self.kind.done, *self.kind.given_up):
                # Not the kind's fault but the kit's: it could not hold the run.
                raise RuntimeError(
                    f"the run ended ({self.described(row)}) without meeting the kit's fault; with fault_at, "
                    f"the job must call {self.fault_at} through its module, as module.function(...)"
                )
            return False

        self.wait(held, "a worker to claim the row and begin its run", worker)

    def wait(self, condition: Callable[[], object], what: str, *workers: ProcessTree, every: float = 0.1) -> None:
        deadline = time.monotonic() + PATIENCE_SECONDS
        while not condition():
            if time.monotonic() > deadline:
                raise self.violation(f"Waited {PATIENCE_SECONDS} s for {what}; {self.described(self.row())}.", *workers)
            time.sleep(every)

    def ended(self, worker: ProcessTree) -> None:
        try:
            code = worker.wait(PATIENCE_SECONDS)
        except subprocess.TimeoutExpired:
            raise self.violation(f"A burst worker still ran after {PATIENCE_SECONDS} s.", worker) from None
        self.expect(code == 0, f"A worker exited with {code}.", worker)

    def wait_lease_lapsed(self) -> None:
        row = self.row() or {}
        claimed_at = row.get("claimed_at")
        if claimed_at is None:
            raise self.violation(f"The row was not claimed while its run went on; {self.described(row)}.")
        lapses = claimed_at.timestamp() + LEASE_SECONDS + 0.2
        time.sleep(max(lapses - time.time(), 0))

    def deliver_again(self) -> None:
        """A second delivery of the row's job, under another id, as a retried publish or a copy would be."""
        queue = redis_client.queue(self.kind.queue)
        queue.enqueue(self.kind.job, self.pk, job_id=f"{self.kind.job_id(self.pk)}-again", result_ttl=60)

    def registries(self) -> tuple[bool, bool]:
        """Whether the row's job is in the failed registry (parked), and whether a retry of it is scheduled."""
        queue = redis_client.queue(self.kind.queue)
        job_id = self.kind.job_id(self.pk)
        return job_id in queue.failed_job_registry, job_id in queue.scheduled_job_registry

    def attempts_seen(self) -> list[float]:
        log = self.folder / "attempts.log"
        return [float(line) for line in log.read_text().split()] if log.exists() else []

    # -- the scenarios

    def _duplicate_delivery(self) -> None:
        self.new_row()
        self.deliver_again()
        workers = [self.start(fault="slow", seconds=1, burst=True) for _ in range(2)]
        # The sweeper runs all along, as the schedule would run it on a busy dyno.
        deadline = time.monotonic() + PATIENCE_SECONDS
        while any(worker.poll() is None for worker in workers) and time.monotonic() < deadline:
            claims.sweep()
            time.sleep(0.2)
        for worker in workers:
            self.ended(worker)
        self.expect_done_once(1, *workers)
        failed, _ = self.registries()
        self.expect(not failed, "The row's job ended in the failed registry.", *workers)

    def _sigkill(self) -> None:
        self.new_row()
        hold = self.hold()
        killed = self.start(fault="hold", hold=str(hold))
        self.wait_held(hold, killed)
        killed.signal_dyno(signal.SIGKILL)
        killed.wait(30)
        row = self.row()
        self.expect(
            row is not None and row["status"] == self.kind.in_progress,
            f"A run SIGKILLed mid-way left the row other than claimed: {self.described(row)}.",
        )
        self.wait_lease_lapsed()
        restarted = self.start()

        def swept_and_final() -> bool:
            claims.sweep()
            row = self.row()
            return row is None or row["status"] not in (self.kind.in_progress, self.kind.pending)

        self.wait(swept_and_final, "the sweeper and a new worker to do the row", restarted, every=0.5)
        self.expect_done_once(2, restarted)

    def _lapsed_lease(self) -> None:
        before = self.new_row()
        hold = self.hold()
        stale = self.start(fault="hold", hold=str(hold), burst=True)
        self.wait_held(hold, stale)
        self.wait_lease_lapsed()
        self.deliver_again()
        claims.sweep()
        other = self.start(burst=True)
        self.ended(other)
        self.expect_done_once(2, other)
        # What the outcome changed goes back as it was, so that whatever the stale run writes shows.
        done = self.row() or {}
        changed = {name: before[name] for name in done if name not in BOOKKEEPING and done[name] != before[name]}
        if changed:
            self.model.objects.filter(pk=self.pk).update(**changed)
        expected = self.row() or {}
        hold.unlink()
        self.ended(stale)
        after = self.row() or {}
        written = {name: (expected.get(name), value) for name, value in after.items() if expected.get(name) != value}
        self.expect(
            not written,
            "The stale run wrote after its claim had lapsed and another run had done the row: "
            + ", ".join(f"{name} {was!r} -> {now!r}" for name, (was, now) in written.items())
            + ". Store results with run.finish or inside run.results(), which check the claim under the row's lock.",
            stale,
        )

    def _permanent_error(self) -> None:
        self.new_row()
        worker = self.start(fault="permanent", burst=True)
        self.ended(worker)
        row = self.row()
        self.expect(
            row is not None
            and row["status"] in self.kind.given_up
            and row["attempts"] == 1
            and row["last_error"] == PERMANENT_TEXT,
            f"Wanted given up ({' or '.join(map(repr, self.kind.given_up))}) after 1 attempt with last error "
            f"{PERMANENT_TEXT!r}; {self.described(row)}.",
            worker,
        )
        self.expect(self.done_times() in (None, 0), f"The work was done {self.done_times()} times.", worker)
        failed, scheduled = self.registries()
        self.expect(
            failed and not scheduled, "The job was not parked in the failed registry, or a retry waits.", worker
        )

    def _transient_error(self) -> None:
        self.new_row()
        # Not burst: the worker's scheduler moves each retry to the queue when it is due.
        worker = self.start(fault="transient")

        def given_up() -> bool:
            row = self.row()
            return row is None or row["status"] in self.kind.given_up

        self.wait(given_up, "the row to be given up", worker)
        row = self.row()
        gave_up = f"Gave up after {ATTEMPTS} attempts. Last error: "
        self.expect(
            row is not None and row["attempts"] == ATTEMPTS and row["last_error"].startswith(gave_up),
            f"Wanted given up after {ATTEMPTS} attempts with last error {gave_up!r}...; {self.described(row)}.",
            worker,
        )
        seen = self.attempts_seen()
        waits = [round(later - earlier, 2) for earlier, later in itertools.pairwise(seen)]
        on_schedule = all(wanted - 1 <= wait <= wanted + 5 for wanted, wait in zip(RETRY_WAITS, waits, strict=False))
        self.expect(
            len(seen) == ATTEMPTS and on_schedule,
            f"Wanted {ATTEMPTS} runs, {RETRY_WAITS} s apart (each within -1/+5 s); saw {len(seen)}, apart {waits} s.",
            worker,
        )
        self.expect(self.done_times() in (None, 0), f"The work was done {self.done_times()} times.", worker)
        # rq moves the job to the failed registry just after the run wrote the row's last words.
        deadline = time.monotonic() + PARK_SECONDS
        while not (failed := self.registries()[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.expect(failed, "The given-up row's job is not parked in the failed registry, where Requeue is.", worker)

    def _deleted_mid_run(self) -> None:
        self.new_row()
        hold = self.hold()
        worker = self.start(fault="hold", hold=str(hold), burst=True)
        self.wait_held(hold, worker)
        self.model.objects.filter(pk=self.pk).delete()
        files = _media_files()
        hold.unlink()
        self.ended(worker)
        self.expect(self.row() is None, f"The deleted row is back: {self.described(self.row())}.", worker)
        stored = sorted(_media_files() - files)
        self.expect(not stored, f"The run stored files for the deleted row: {', '.join(stored)}.", worker)
        failed, scheduled = self.registries()
        self.expect(
            not failed and not scheduled, "The run ended in an error: its job failed or waits on a retry.", worker
        )
        self.expect("Traceback" not in worker.output(), "The run ended in an error.", worker)

    def _redis_flushed(self) -> None:
        self.new_row()
        _flush(redis_client.queue(self.kind.queue).connection)
        row = self.row()
        self.expect(row is not None and row["status"] == self.kind.pending, f"After the flush, {self.described(row)}.")
        report = claims.sweep()
        self.expect(report.requeued >= 1, f"The sweep queued nothing: {report.as_dict()}.")
        worker = self.start(burst=True)
        self.ended(worker)
        self.expect_done_once(1, worker)

    def _sigterm(self) -> None:
        self.new_row()
        hold = self.hold()
        stopped = self.start(fault="hold", hold=str(hold))
        self.wait_held(hold, stopped)
        stopped.signal_dyno(signal.SIGTERM)
        try:
            stopped.wait(SHUTDOWN_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            raise self.violation(
                f"The worker ran on {SHUTDOWN_GRACE_SECONDS} s after SIGTERM, when Heroku would SIGKILL it.", stopped
            ) from None
        row = self.row()
        self.expect(
            row is not None and row["status"] == self.kind.pending and row["attempts"] == 1,
            f"The row was not handed back: {self.described(row)}. A job must let a shutdown through (rq's "
            "ShutDownImminentException, a BaseException): catch Exception or narrower, or re-raise.",
            stopped,
        )
        times = self.done_times()
        self.expect(times in (None, 0), f"The interrupted run did the work {times} times.", stopped)
        hold.unlink()
        restarted = self.start()

        def swept_and_done() -> bool:
            claims.sweep()
            row = self.row()
            # Its run, once claimed, is in progress for a while: done is what comes after.
            return row is None or row["status"] not in (self.kind.pending, self.kind.in_progress)

        self.wait(swept_and_done, "a restarted worker to do the row", restarted, every=0.5)
        self.expect_done_once(2, restarted)


def _flush(redis: Any) -> None:
    """FLUSHDB, as a Redis that lost its data leaves it: every rq key goes (queues, jobs, registries).

    Keys that are no rq's (a test suite's own bookkeeping, say) are put back: they are no part of
    what the kind must survive.
    """
    kept = {key: redis.dump(key) for key in redis.scan_iter() if not _name(key).startswith("rq:")}
    redis.flushdb()
    for key, value in kept.items():
        if value is not None:
            redis.restore(key, 0, value)


def _media_files() -> set[str]:
    """Every file under MEDIA_ROOT (where the workers the kit starts store theirs)."""
    root = Path(settings.MEDIA_ROOT)
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def _name(key: bytes | str) -> str:
    return key.decode(errors="replace") if isinstance(key, bytes) else key


def database_url(settings_dict: dict[str, Any]) -> str:
    """The URL of the database a test uses, for the DATABASE_URL of the workers it starts."""
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{settings_dict['NAME']}"
    auth = quote(settings_dict["USER"] or "")
    if settings_dict["PASSWORD"]:
        auth += ":" + quote(settings_dict["PASSWORD"])
    host = settings_dict["HOST"] or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{settings_dict['NAME']}"
