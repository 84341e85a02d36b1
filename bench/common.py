"""What every benchmark shares: a throwaway environment, worker processes, statistics, results.

Each benchmark runs in a process of its own (Django is set up once per process) inside its
own temporary directory: a SQLite database migrated with `manage.py migrate`, the Redis server
`python3 dev.py run` would start (the embedded Valkey, or one on PATH) on a free port, and
`DJANGO_ENV_FILE=os.devnull`, so a checkout's `.env` (DEBUG on, the dev Redis) changes nothing.
The system Redis is never used, and PostgreSQL only when the person running the benchmark has
set DATABASE_URL.

With BENCH_QUICK=1 (what `python -m bench.run --quick` sets) every benchmark does the least
that still goes through all of its code (each module's `if QUICK:` block), as a smoke test.
Its figures are noise, so its results go to a temporary folder, never to bench/results/.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from devtools.processes import ProcessTree, procfile_command, procfile_line
from devtools.processes import wait_until as poll_until
from devtools.redis_server import redis_server

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
MIB = 1024 * 1024
# Set by bench.run: where this run's results go, and whether it is a smoke test.
RESULTS_DIR_VARIABLE = "BENCH_RESULTS_DIR"
QUICK_VARIABLE = "BENCH_QUICK"
QUICK = os.environ.get(QUICK_VARIABLE) == "1"
QUEUES = ("high", "default", "low")
# What a developer types on a laptop, and what rq's docs show: the forking Worker, defaults.
STOCK_WORKER_COMMAND = ["manage.py", "rqworker", *QUEUES]
# Settings that would send media to S3 or the filesystem, or otherwise change what runs.
FOREIGN_VARIABLES = ("AWS_STORAGE_BUCKET_NAME", "BUCKETEER_BUCKET_NAME", "MEDIA_STORAGE", "DYNO")
SYSTEM_REDIS_PORT = 6379
# The code the figures describe; hashes tie a result to a version of it and catch edits mid-run.
# Every app (a folder with apps.py) and the configuration.
MEASURED_CODE = (*sorted(path.parent.name for path in ROOT.glob("*/apps.py")), "project")
# The runner sets this so that every benchmark of one run measures the same files (an app's
# benchmarks make their test files there once a run).
SHARED_FILES_VARIABLE = "BENCH_SHARED_FILES"
# bench/'s own benchmarks, which measure the core (workers, the Procfile); an app may have
# benchmarks of its own in <app>/bench/, whose __init__.py lists them (benchmark_modules()).
BENCHMARKS = ("worker_shutdown",)


class BenchmarkError(Exception):
    """The run did not do what it claims to measure; its figures must not be reported."""


def results_dir() -> Path:
    configured = os.environ.get(RESULTS_DIR_VARIABLE)
    if configured:
        return Path(configured)
    if QUICK:
        # A quick module run by hand: its figures must not pass for measured ones either.
        return Path(tempfile.gettempdir()) / "bench-quick-results"
    return RESULTS_DIR


# --- Environment --------------------------------------------------------------------------


@dataclass
class Environment:
    workdir: Path
    redis_url: str
    env: dict[str, str]
    database: str


def bench_environment(workdir: Path, redis_url: str) -> dict[str, str]:
    """The variables every process of a benchmark runs with, this one included."""
    env = {key: value for key, value in os.environ.items() if key not in FOREIGN_VARIABLES}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "DATABASE_SSL_REQUIRE": "0",
            "REDIS_URL": redis_url,
            # A checkout's .env usually turns DEBUG on, which makes Django keep every query,
            # including an original's bytes: production runs with it off.
            "DJANGO_ENV_FILE": os.devnull,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "LOG_LEVEL": "INFO",
            "MEDIA_ROOT": str(workdir / "media"),
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "PYTHONUNBUFFERED": "1",
        }
    )
    # An app's benchmarks may need settings of their own (its bench package's ENVIRONMENT).
    for package in app_bench_packages():
        env.update(getattr(package, "ENVIRONMENT", {}))
    return env


@contextlib.contextmanager
def environment(name: str, extra: dict[str, str] | None = None) -> Iterator[Environment]:
    """A temporary directory, a Redis server of its own and a migrated database, all gone afterwards.

    The Redis server is the one `python3 dev.py run` would start here (devtools/redis_server.py).
    """
    user_database_url = os.environ.get("DATABASE_URL", "")
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp, redis_server(Path(tmp) / "redis") as redis_url:
        workdir = Path(tmp)
        if redis_url.endswith(f":{SYSTEM_REDIS_PORT}/0"):
            raise BenchmarkError("the benchmark's Redis landed on the system Redis port")
        env = bench_environment(workdir, redis_url)
        database = "SQLite (a throwaway file)"
        if user_database_url:
            # Asked for by the person running it (e.g. PostgreSQL): rows are written there.
            env["DATABASE_URL"] = user_database_url
            env["DATABASE_SSL_REQUIRE"] = os.environ.get("DATABASE_SSL_REQUIRE", "0")
            database = user_database_url.split(":", 1)[0] + " (DATABASE_URL)"
        env.update(extra or {})
        migrate(env)
        yield Environment(workdir=workdir, redis_url=env["REDIS_URL"], env=env, database=database)


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    # Models edited without a migration would fail every job with a database error.
    pending = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if pending.returncode != 0:
        raise BenchmarkError(f"the models have changes without a migration:\n{pending.stdout}")


def setup_django(env: dict[str, str]) -> None:
    """Configure this process like the web and worker processes it talks to."""
    for key in FOREIGN_VARIABLES:
        os.environ.pop(key, None)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.files.storage import storages

    from files.storage import DatabaseStorage

    # Stored files in the database, as the workers' figures assume.
    if not isinstance(storages["default"], DatabaseStorage):
        raise BenchmarkError(f"default storage is {type(storages['default']).__name__}, not DatabaseStorage")


# --- Statistics ---------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks, as numpy's default does."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: list[float]) -> float:
    return statistics.median(values)


def rounded(value: float, digits: int = 2) -> float:
    return round(value, digits)


def spread(values: list[float], digits: int = 2) -> dict[str, Any]:
    """p50, p95 and every value, rounded."""
    return {
        "p50": rounded(percentile(values, 50), digits),
        "p95": rounded(percentile(values, 95), digits),
        "all": [rounded(value, digits) for value in values],
    }


# --- Commands -----------------------------------------------------------------------------


def python_command(argv: list[str]) -> list[str]:
    """A Procfile or manage.py command, run by this virtualenv's Python as a dyno runs `python`."""
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    if argv[0] == "manage.py":
        return [sys.executable, *argv]
    return argv


def procfile_option(process_type: str, option: str) -> str | None:
    """The value the Procfile's command gives an option (`--worker-class X`), None if it gives none."""
    argv = procfile_command(process_type)
    return argv[argv.index(option) + 1] if option in argv else None


def worker_count(argv: list[str]) -> int:
    """How many rq workers a worker command registers (Django must be set up)."""
    if "rqworker-pool" not in argv:
        return 1
    if "--num-workers" in argv:
        return int(argv[argv.index("--num-workers") + 1])
    from django.core.management import load_command_class

    # The project's rqworker-pool sets its own default (WORKER_CONCURRENCY).
    command = load_command_class("workers", "rqworker-pool")
    return command.create_parser("manage.py", "rqworker-pool").get_default("num_workers")


def rqworker_command(worker_class: str, *options: str) -> list[str]:
    return python_command(["manage.py", "rqworker", *QUEUES, "--worker-class", worker_class, *options])


def pool_command(worker_class: str, workers: int = 2) -> list[str]:
    return python_command(
        ["manage.py", "rqworker-pool", *QUEUES, "--num-workers", str(workers), "--worker-class", worker_class]
    )


@dataclass(frozen=True)
class WorkerSetup:
    """One way of running a worker dyno, by the command that starts it."""

    name: str
    argv: list[str]
    note: str

    @property
    def workers(self) -> int:
        return worker_count(self.argv)

    def canonical(self) -> list[str]:
        # Options in any order, the pool's size spelt out: the words of these commands are
        # all distinct, so two setups are the same when their sorted words are.
        argv = list(self.argv)
        if "rqworker-pool" in argv and "--num-workers" not in argv:
            argv += ["--num-workers", str(self.workers)]
        return sorted(argv)


def describe_setups(setups: dict[str, WorkerSetup]) -> dict[str, dict[str, str]]:
    """For a result's details: each setup's command (after `python`) and what it is."""
    return {name: {"argv": " ".join(setup.argv[1:]), "note": setup.note} for name, setup in setups.items()}


def worker_setups(*names: str) -> dict[str, WorkerSetup]:
    """The named setups, in that order, less any alternative the Procfile's worker already is.

    Django must be set up (the Procfile's pool size may be its command's default).
    """
    catalogue = {
        "procfile": (procfile_command("worker"), f"Procfile: {procfile_line('worker')}"),
        "stock": (python_command(STOCK_WORKER_COMMAND), "rqworker, rq's forking Worker, defaults"),
        "heroku": (
            rqworker_command("rq.worker.HerokuWorker", "--with-scheduler"),
            "rqworker, 1 rq HerokuWorker + scheduler (a work horse per job)",
        ),
        "simple": (rqworker_command("rq.worker.SimpleWorker"), "rqworker, 1 rq SimpleWorker (no fork)"),
        "heroku-pool-2": (
            pool_command("workers.runtime.HerokuWorker"),
            "rqworker-pool of 2 workers.runtime.HerokuWorker (a work horse per job)",
        ),
        "rq-heroku-pool-2": (
            pool_command("rq.worker.HerokuWorker"),
            "rqworker-pool of 2 rq HerokuWorker (stop signals not kept from the listener thread)",
        ),
    }
    procfile = WorkerSetup("procfile", *catalogue["procfile"]).canonical()
    found = {}
    for name in names:
        setup = WorkerSetup(name, *catalogue[name])
        # Stock stays whatever the Procfile is: the ratios are against it.
        if name not in ("procfile", "stock") and setup.canonical() == procfile:
            print(f"{name} is the Procfile's worker: measured once, as procfile", flush=True)
            continue
        found[name] = setup
    return found


# --- Processes ----------------------------------------------------------------------------


class Dyno(ProcessTree):
    """One process tree started like a dyno's: its own session, output kept in a file."""

    grace_seconds = 40

    def memory_sampler(self, interval: float = 0.05, include_root: bool = True) -> MemorySampler:
        """Samples of this dyno's memory, taken while the returned context manager is entered."""
        return MemorySampler(self, interval, include_root)


class MemorySampler:
    """Polls RSS and PSS summed over a process tree until stopped, and each process's own RSS, in MiB.

    Sampling misses part of a brief peak (a work horse's); a benchmark can add the kernel's exact
    figure for one worker (bench/child_rusage.py). include_root=False leaves out a root that only waits
    for its child (bench/child_rusage.py), so that the sums are the worker's tree alone.
    """

    def __init__(self, dyno: Dyno, interval: float = 0.05, include_root: bool = True) -> None:
        self._dyno = dyno
        self._interval = interval
        self._include_root = include_root
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._peak_rss = 0
        self._peak_pss = 0
        self.most_processes = 0
        self.samples = 0
        # Per process: its parent, and its own sampled peak RSS (to tell a worker from its horse).
        self._parents: dict[int, int] = {}
        self._peak_rss_by_pid: dict[int, int] = {}

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_rss_mib(self) -> float:
        return self._peak_rss / MIB

    @property
    def peak_pss_mib(self) -> float:
        return self._peak_pss / MIB

    def peak_rss_mib_of_children(self, pid: int) -> float:
        """The largest sampled RSS of any direct child of pid: a wrapper's worker."""
        peaks = [rss for child, rss in self._peak_rss_by_pid.items() if self._parents[child] == pid]
        return max(peaks, default=0) / MIB

    def _run(self) -> None:
        while not self._stop.is_set():
            processes = self._dyno.processes()
            rss = pss = seen = 0
            for process in processes if self._include_root else processes[1:]:
                try:
                    memory = process.memory_full_info()
                    parent = process.ppid()
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    # A horse may exit between listing and reading; the next sample covers it.
                    continue
                rss += memory.rss
                pss += memory.pss
                seen += 1
                self._parents.setdefault(process.pid, parent)
                self._peak_rss_by_pid[process.pid] = max(self._peak_rss_by_pid.get(process.pid, 0), memory.rss)
            self._peak_rss = max(self._peak_rss, rss)
            self._peak_pss = max(self._peak_pss, pss)
            self.most_processes = max(self.most_processes, seen)
            self.samples += 1
            self._stop.wait(self._interval)


def wait_until(condition: Callable[[], bool], timeout: float, message: str, every: float = 0.05) -> None:
    poll_until(condition, timeout, message, every, error=BenchmarkError)


def wait_for_workers(redis_url: str, dyno: Dyno, count: int, timeout: float = 30) -> None:
    """Until `count` rq workers of this dyno have registered and are idle, blocked waiting for a job.

    Workers are matched by pid: a killed dyno's registrations stay in Redis for minutes, and
    would otherwise pass for the new dyno's.
    """
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(redis_url)

    def ready() -> bool:
        if dyno.popen.poll() is not None:
            raise BenchmarkError(f"the dyno exited with {dyno.popen.returncode}:\n{dyno.output()[-3000:]}")
        pids = {process.pid for process in dyno.processes()}
        workers = [worker for worker in Worker.all(connection=connection) if worker.pid in pids]
        return len(workers) >= count and all(worker.get_state() == "idle" for worker in workers)

    wait_until(ready, timeout, f"{count} idle rq worker(s)")


@contextlib.contextmanager
def idle_dyno(env: Environment, setup: WorkerSetup, label: str, stop_timeout: float = 40) -> Iterator[Dyno]:
    """The setup's dyno once every one of its workers is idle; stopped on the way out."""
    dyno = Dyno(setup.argv, env.env, env.workdir / f"{label}.log")
    try:
        wait_for_workers(env.redis_url, dyno, setup.workers)
        yield dyno
    finally:
        dyno.stop(stop_timeout)


# --- Rows ---------------------------------------------------------------------------------


def bench_user(email: str) -> Any:
    from accounts.models import User

    user, _ = User.objects.get_or_create(email=email)
    return user


# --- Results ------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    import django
    import gunicorn
    import PIL
    import redis
    import rq

    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_total_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "swap_total_gib": round(psutil.swap_memory().total / 1024**3, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "django": django.get_version(),
        "rq": rq.__version__,
        "redis_py": redis.__version__,
        "gunicorn": gunicorn.__version__,
    }
    with contextlib.suppress(ImportError, OSError):
        from PIL import features

        info["libjpeg_turbo"] = features.version("libjpeg_turbo")
        info["zlib"] = features.version("zlib")
    try:
        import pyvips

        info["pyvips"] = pyvips.__version__
        info["libvips"] = ".".join(str(pyvips.version(part)) for part in range(3))
    except (ImportError, OSError):
        info["pyvips"] = None
    return info


def app_bench_packages() -> list[Any]:
    """The <app>.bench packages: each lists its BENCHMARKS and the SUSPECTS its figures depend on most."""
    return [
        importlib.import_module(f"{path.parent.parent.name}.bench") for path in sorted(ROOT.glob("*/bench/__init__.py"))
    ]


def benchmark_modules() -> dict[str, str]:
    """Every benchmark by name, in the order a full run takes them: the apps' first, then bench/'s own."""
    modules = {name: f"{package.__name__}.{name}" for package in app_bench_packages() for name in package.BENCHMARKS}
    return modules | {name: f"bench.{name}" for name in BENCHMARKS}


def code_fingerprint() -> dict[str, str]:
    combined = hashlib.sha256()
    for package in MEASURED_CODE:
        for path in sorted((ROOT / package).rglob("*.py")):
            combined.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    suspects = [suspect for package in app_bench_packages() for suspect in getattr(package, "SUSPECTS", ())]
    return {"apps+project": combined.hexdigest()[:12], **{suspect: file_sha(ROOT / suspect) for suspect in suspects}}


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@dataclass
class Figure:
    """One line of the summary table."""

    benchmark: str
    figure: str
    value: float | None
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "figure": self.figure,
            "value": self.value,
            "unit": self.unit,
            "target": self.target,
            "met": self.met,
            "note": self.note,
        }


@dataclass
class Result:
    """A benchmark's figures and details, written to results_dir()/<name>.json.

    `name` is the module's (bench.<name> or <app>.bench.<name>), `label` what the summary table calls the benchmark.
    """

    name: str
    label: str
    description: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    code_before: dict[str, str] = field(default_factory=code_fingerprint)

    def add(
        self, figure: str, value: float | None, unit: str, target: str = "", met: bool | None = None, note: str = ""
    ) -> None:
        self.figures.append(Figure(self.label, figure, value, unit, target=target, met=met, note=note))

    @property
    def command(self) -> str:
        return f".venv/bin/python -m {benchmark_modules().get(self.name, f'bench.{self.name}')}"

    def write(self) -> Path:
        code = code_fingerprint()
        changed = code != self.code_before
        if changed:
            # Someone edited the measured code mid-run: the runs may describe different versions.
            # Recorded rather than fatal, so a long run is not lost; such figures are not published.
            print(f"WARNING: measured code changed during the run: {self.code_before} -> {code}", flush=True)
        data = {
            "benchmark": self.name,
            "description": self.description,
            "command": self.command + (f" ({QUICK_VARIABLE}=1)" if QUICK else ""),
            "quick": QUICK,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "code_sha256_12": code,
            "code_changed_during_run": changed,
            "procfile_worker": procfile_line("worker"),
            "figures": [figure.as_dict() for figure in self.figures],
            "details": self.details,
            "benchmark_seconds": round(time.monotonic() - self.started, 1),
        }
        directory = results_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.json"
        path.write_text(json.dumps(data, indent=2) + "\n")
        return path

    def finish(self) -> int:
        """Write the result, print its figures; the exit status: 0 if every target is met, else 1."""
        path = self.write()
        print("\nSummary:")
        print_figures(self.figures)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"Results written to {shown}" + (" (quick run: figures are not measurements)" if QUICK else ""))
        return 0 if all(figure.met is not False for figure in self.figures) else 1


def print_figures(figures: list[Figure]) -> None:
    width = max((len(f.figure) for f in figures), default=10)
    for figure in figures:
        value = "-" if figure.value is None else f"{figure.value:g}"
        verdict = "" if figure.met is None else ("MET" if figure.met else "NOT MET")
        target = f"  target {figure.target}: {verdict}" if figure.target else ""
        print(f"  {figure.figure:<{width}}  {value:>10} {figure.unit:<8}{target}")
