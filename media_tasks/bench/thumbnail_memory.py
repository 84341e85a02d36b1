"""Peak resident memory of one Procfile worker making thumbnails of 50-megapixel JPEGs, four in a row.

    .venv/bin/python -m media_tasks.bench.thumbnail_memory

The worker class is the one the Procfile's `worker:` line names (its --worker-class), run alone
as `manage.py rqworker default --burst --worker-class <that class>`: one worker, as each member
of the Procfile's pool is. The pool's parent process is not part of this figure; the dyno as a
whole is sampled by media_tasks/bench/throughput.py. Everything else is the real path, in a throwaway
environment (bench/common.py): the original stored by the default storage (DatabaseStorage,
i.e. in the database), the job queued by work/claims.py as an upload's is.

The worker runs under bench/child_rusage.py, a wrapper whose only child it is, and is measured
two ways:

- the kernel's max RSS (RUSAGE_CHILDREN, ru_maxrss) of the largest process of its tree. A class
  that runs jobs in the worker process (SimpleWorker, the project's InProcessWorker) has no
  other process, so this is the worker's own peak. A forking class (rq's Worker, HerokuWorker)
  runs the job in a work horse, which starts as a copy of the worker and grows: the horse's.
- psutil samples every 20 ms of RSS and PSS summed over the tree (the wrapper left out), and of
  the worker process's own RSS.

The tree's peak RSS, which the target is judged on, is exact either way. Without a horse it is
the worker's kernel max RSS. With one it is the horse's kernel max RSS plus the worker's RSS,
which stays flat while the horse runs; the horse's brief peak is what 20 ms samples of the sum
often miss, and the sum counts the pages the two share twice, so it errs on the safe side. Which
case applies is decided by the class (a SimpleWorker subclass or not) and checked against the
processes the sampler saw. An idle worker (same command, empty queue) is measured the same way
so the job's own cost is visible. Each measurement is repeated three times. Four jobs per run,
with the worker's retirement turned off (see JOBS_PER_RUN): a worker that runs jobs in its own
process starts each from whatever the last one left.

Then the largest files the decode budget (media_tasks.decode_budget.DECODE_BUDGET_BYTES) lets
through, one job per worker: small files of many pixels, whose cost a pixel cap does not bound
(docs/performance.md, "Decode budget"). They are judged on the same target.

Exit status: 0 when the target is met, 1 when it is not; a run whose image did not end READY
with its thumbnails raises instead, because its memory figure would mean nothing.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

from bench.common import (
    QUICK,
    BenchmarkError,
    Dyno,
    Environment,
    Result,
    environment,
    procfile_line,
    procfile_option,
    python_command,
    rounded,
    setup_django,
)
from devtools import images as made_images
from media_tasks.bench.images import PHOTO_50MP, SOURCE_QUALITY, TestImage, image_bytes
from media_tasks.bench.pending_images import create_pending_images, enqueue_thumbnails

REPEATS = 1 if QUICK else 3
# A worker that runs jobs in its own process keeps what earlier jobs left behind, so each run
# gives one worker several 50 MP jobs in a row and takes the peak over all of them. Retiring
# (WORKER_MAX_RSS_MB) is turned off for it: the figure is a worker that never restarts.
JOBS_PER_RUN = 1 if QUICK else 4
NEVER_RETIRE = {"WORKER_MAX_RSS_MB": str(1 << 20)}
# Heroku standard-1X has 512 MiB and the Procfile runs two workers, so each gets half.
TARGET_MIB = 256
# A job lasts about a second, so 20 ms samples see it many times at little CPU cost; a horse's
# briefer peak is taken from the kernel instead (see WorkerRun.tree_rss_peak_mib).
SAMPLE_INTERVAL_SECONDS = 0.02
# Generous, but bounded: the job itself is killed by rq after 25 s (queues/config.py).
WORKER_TIMEOUT_SECONDS = 180
# rq logs "Successfully completed job <id> in 0:00:01.234567s on worker <name>".
JOB_TIME_PATTERN = re.compile(r"Successfully completed .* in (\d+):(\d{2}):(\d{2}(?:\.\d+)?)s on worker")


@dataclass(frozen=True)
class WorkerRun:
    returncode: int
    # The kernel's max RSS of the largest single process in the tree: the horse, when there is one.
    ru_maxrss_mib: float
    # The tree's RSS at its peak: the kernel's figure alone without a horse; with one, the horse's
    # plus the worker's RSS, which stays flat while the horse runs. Exact where sampling is not.
    tree_rss_peak_mib: float
    # psutil's sampled peaks over the tree: RSS counts a horse's copy-on-write pages twice, PSS
    # once, which is closer to what the dyno is charged.
    tree_rss_sampled_mib: float
    tree_pss_sampled_mib: float
    # The long-lived worker alone: what a dyno holds between jobs, and whether the job leaks into it.
    worker_rss_mib: float
    most_processes_seen: int
    samples: int
    wall_seconds: float
    job_seconds: float | None
    log: str


# The largest files of each kind the decode budget accepts (their estimates: 133, 149 and 61 MiB
# of 150), made as media_tasks/tests/test_decode_budget.py makes them: small files, many pixels.
BUDGET_EDGE_FILES = (
    (TestImage("animated-59mp-200-frames", 7000, 8430, "GIF"), lambda: made_images.large_animated_gif(7000, 8430, 200)),
    (TestImage("rgba-24mp", 6000, 4000, "PNG", alpha=True), lambda: made_images.large_png(6000, 4000)),
    (TestImage("gradient-60mp", 9486, 6325, "JPEG"), lambda: made_images.large_jpeg(9486, 6325)),
)


def procfile_worker_class() -> str:
    """The class the Procfile's worker runs, as rq would resolve it with no --worker-class."""
    from django_rq.workers import get_worker_class

    named = procfile_option("worker", "--worker-class")
    if named:
        return named
    default = get_worker_class()
    return f"{default.__module__}.{default.__qualname__}"


def forks_work_horse(worker_class: str) -> bool:
    from django_rq.workers import get_worker_class
    from rq.worker import SimpleWorker

    return not issubclass(get_worker_class(worker_class), SimpleWorker)


def queued_jobs() -> int:
    import django_rq

    return django_rq.get_queue("default").count


def run_worker(env: Environment, argv: list[str], label: str, horse: bool) -> WorkerRun:
    """Run the worker until its queue is empty; `horse`: a work horse is expected to run a job."""
    from django.db import connections

    # Nothing of ours may hold SQLite's lock while the worker writes.
    connections.close_all()
    rusage_path = env.workdir / f"{label}.rusage.json"
    wrapped = [sys.executable, "-m", "bench.child_rusage", str(rusage_path), "--", *argv]
    dyno = Dyno(wrapped, {**env.env, **NEVER_RETIRE}, env.workdir / f"{label}.log")
    with dyno, dyno.memory_sampler(SAMPLE_INTERVAL_SECONDS, include_root=False) as sampler:
        try:
            dyno.popen.wait(timeout=WORKER_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise BenchmarkError(f"{label}: the worker did not finish in {WORKER_TIMEOUT_SECONDS} s") from None
    output = dyno.output()
    if dyno.popen.returncode != 0 or not rusage_path.exists():
        raise BenchmarkError(f"{label}: the worker exited with {dyno.popen.returncode}:\n{output}")
    rusage = json.loads(rusage_path.read_text())
    match = JOB_TIME_PATTERN.search(output)
    job_seconds = None
    if match:
        hours, minutes, seconds = match.groups()
        job_seconds = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    # Linux reports ru_maxrss in KiB.
    ru_maxrss_mib = rusage["ru_maxrss_kib"] / 1024
    # The wrapper's only child is the worker; a horse is the worker's child.
    worker_rss_mib = sampler.peak_rss_mib_of_children(dyno.popen.pid)
    return WorkerRun(
        returncode=rusage["returncode"],
        ru_maxrss_mib=ru_maxrss_mib,
        # Decided by the class, not by whether a sample happened to catch the horse.
        tree_rss_peak_mib=ru_maxrss_mib + worker_rss_mib if horse else ru_maxrss_mib,
        tree_rss_sampled_mib=sampler.peak_rss_mib,
        tree_pss_sampled_mib=sampler.peak_pss_mib,
        worker_rss_mib=worker_rss_mib,
        most_processes_seen=sampler.most_processes,
        samples=sampler.samples,
        wall_seconds=rusage["wall_seconds"],
        job_seconds=job_seconds,
        log=output,
    )


def check_processes(run: WorkerRun, horse: bool) -> list[str]:
    """The processes seen must be those the tree peak was computed for."""
    if horse and run.most_processes_seen < 2:
        return ["the sampler never saw the work horse, so the sampled tree figures miss the job"]
    if not horse and run.most_processes_seen > 1:
        return [f"{run.most_processes_seen} processes seen where the worker should run alone"]
    if run.most_processes_seen == 0:
        return ["the sampler never saw the worker"]
    return []


def verify_thumbnails(image_id: int, run: WorkerRun, horse: bool) -> None:
    """Fail unless the job really made every thumbnail: otherwise the memory figure is of nothing."""
    from files.models import StoredFile
    from media_tasks import conf
    from media_tasks.models import Image as ImageRow

    image = ImageRow.objects.get(pk=image_id)
    thumbnails = list(image.thumbnails.all())
    expected = sorted(conf.THUMBNAIL_SIZES())
    problems = check_processes(run, horse)
    if image.status != ImageRow.Status.READY:
        problems.append(f"status is {image.status!r} ({image.failure_reason or 'no reason given'})")
    if sorted(thumb.size for thumb in thumbnails) != expected:
        problems.append(f"thumbnails {sorted(t.size for t in thumbnails)}, expected {expected}")
    for thumb in thumbnails:
        if not StoredFile.objects.filter(name=thumb.file.name, size__gt=0).exists():
            problems.append(f"thumbnail file {thumb.file.name!r} is not stored")
        if max(thumb.width, thumb.height) != thumb.size:
            problems.append(f"thumbnail {thumb.size} is {thumb.width}x{thumb.height}")
    if run.job_seconds is None:
        problems.append("the worker's log has no 'Successfully completed' line")
    if queued_jobs():
        problems.append(f"{queued_jobs()} job(s) still queued")
    if problems:
        raise BenchmarkError(f"image {image_id}: " + "; ".join(problems) + "\nworker log:\n" + run.log)


def median_of(runs: list[WorkerRun], name: str) -> float:
    return statistics.median(getattr(run, name) for run in runs)


# (field, heading, unit) for each column of the printed table and each median in the results.
COLUMNS = (
    ("ru_maxrss_mib", "1 process", "max RSS"),
    ("tree_rss_peak_mib", "tree RSS", "peak"),
    ("tree_rss_sampled_mib", "tree RSS", "sampled"),
    ("tree_pss_sampled_mib", "tree PSS", "sampled"),
    ("worker_rss_mib", "worker", "RSS"),
    ("job_seconds", "job", "s"),
    ("wall_seconds", "worker", "wall s"),
)


def medians(runs: list[WorkerRun]) -> dict[str, float | None]:
    found = {}
    for name, _, _ in COLUMNS:
        # An idle worker has no job time.
        values = [getattr(run, name) for run in runs if getattr(run, name) is not None]
        found[name] = statistics.median(values) if values else None
    return found


def summary(runs: list[WorkerRun]) -> dict[str, Any]:
    result: dict[str, Any] = {
        f"median_{name}": round(value, 2 if name == "job_seconds" else 1)
        for name, value in medians(runs).items()
        if value is not None
    }
    result["runs"] = [
        {key: rounded(value) if isinstance(value, float) else value for key, value in asdict(run).items()}
        for run in runs
    ]
    for run in result["runs"]:
        del run["log"], run["returncode"]
    return result


def print_table(job_runs: list[WorkerRun], idle_runs: list[WorkerRun]) -> None:
    print("\nMemory in MiB; times in seconds.")
    print(f"{'':<12}" + "".join(f"{heading:>12}" for _, heading, _ in COLUMNS))
    print(f"{'':<12}" + "".join(f"{unit:>12}" for _, _, unit in COLUMNS))

    def cell(value: float | None) -> str:
        return f"{value:>12.2f}" if value is not None else f"{'-':>12}"

    for label, runs in (("job", job_runs), ("idle", idle_runs)):
        for number, run in enumerate(runs, 1):
            print(f"{label + ' ' + str(number):<12}" + "".join(cell(getattr(run, name)) for name, _, _ in COLUMNS))
        print(f"{label + ' median':<12}" + "".join(cell(value) for value in medians(runs).values()))
    print()


def budget_mib() -> float:
    from media_tasks.decode_budget import DECODE_BUDGET_BYTES

    return DECODE_BUDGET_BYTES / 2**20


def measure_budget_edge(env: Environment, argv: list[str], horse: bool) -> dict[str, tuple[WorkerRun, float]]:
    """One worker, one job, for each of BUDGET_EDGE_FILES: each file's own peak."""
    import io

    from PIL import Image

    from media_tasks.decode_budget import estimate_decode

    runs = {}
    for image, make in BUDGET_EDGE_FILES[:1] if QUICK else BUDGET_EDGE_FILES:
        content = make()
        with Image.open(io.BytesIO(content)) as opened:
            cost = estimate_decode(opened, content)
        if not cost.within_budget:
            raise BenchmarkError(f"{image.name} is over the decode budget; it would be refused in the request")
        [image_id] = create_pending_images(image, content, 1, f"bench-{image.name}")
        enqueue_thumbnails([image_id])
        print(f"Decode budget: {image.name} ({len(content):,} bytes, {image.megapixels:.1f} MP) ...", flush=True)
        run = run_worker(env, argv, f"budget-{image.name}", horse=horse)
        verify_thumbnails(image_id, run, horse)
        runs[f"{image.name} ({len(content) // 1000} KB)"] = (run, rounded(cost.total / 2**20, 1))
        print(f"  peak {run.tree_rss_peak_mib:.1f} MiB (estimate {cost.total / 2**20:.1f} MiB)", flush=True)
    return runs


def main() -> int:
    if sys.platform != "linux":
        # ru_maxrss is in KiB only on Linux, and Heroku dynos are Linux.
        raise SystemExit("This benchmark runs on Linux only.")
    result = Result("thumbnail_memory", "memory", "peak RSS of one Procfile worker making thumbnails of a 50 MP JPEG")
    jpeg = image_bytes(PHOTO_50MP)
    print(f"  {PHOTO_50MP.filename}: {len(jpeg):,} bytes", flush=True)

    with environment("thumbnail-memory") as env:
        setup_django(env.env)
        from django.conf import settings

        worker_class = procfile_worker_class()
        horse = forks_work_horse(worker_class)
        argv = python_command(["manage.py", "rqworker", "default", "--burst", "--worker-class", worker_class])
        job_runs: list[WorkerRun] = []
        idle_runs: list[WorkerRun] = []
        for number in range(1, REPEATS + 1):
            if queued_jobs():
                raise BenchmarkError("the queue should be empty before an idle run")
            print(f"Run {number}/{REPEATS}: idle {worker_class} ...", flush=True)
            idle = run_worker(env, argv, f"idle-{number}", horse=False)
            if problems := check_processes(idle, horse=False):
                raise BenchmarkError(f"idle worker: {'; '.join(problems)}\n{idle.log}")
            idle_runs.append(idle)
            image_ids = create_pending_images(PHOTO_50MP, jpeg, JOBS_PER_RUN, "bench-50mp")
            enqueue_thumbnails(image_ids)
            if queued_jobs() != JOBS_PER_RUN:
                raise BenchmarkError(f"expected {JOBS_PER_RUN} jobs on 'default', found {queued_jobs()}")
            print(f"Run {number}/{REPEATS}: {worker_class} making thumbnails of images {image_ids} ...", flush=True)
            run = run_worker(env, argv, f"job-{number}", horse=horse)
            for image_id in image_ids:
                verify_thumbnails(image_id, run, horse)
            job_runs.append(run)
        max_upload_bytes = settings.MAX_UPLOAD_BYTES

        edge_runs = measure_budget_edge(env, argv, horse)

    print_table(job_runs, idle_runs)
    # Judged on the tree's RSS at its peak, which does not depend on sampling luck; with a horse
    # it counts the pages the horse shares with the worker twice, so it errs on the safe side.
    median_tree_rss = median_of(job_runs, "tree_rss_peak_mib")
    worst_tree_rss = max(run.tree_rss_peak_mib for run in job_runs)
    median_tree_pss = median_of(job_runs, "tree_pss_sampled_mib")
    target_met = median_tree_rss <= TARGET_MIB
    job, idle = summary(job_runs), summary(idle_runs)
    # What the job adds to an idle worker: a horse starts as a copy-on-write image of it, so its
    # growth beyond that is the job's; the tree RSS difference would count the worker twice.
    cost = {
        "ru_maxrss": rounded(median_of(job_runs, "ru_maxrss_mib") - median_of(idle_runs, "ru_maxrss_mib"), 1),
        "tree_pss_sampled": rounded(median_tree_pss - median_of(idle_runs, "tree_pss_sampled_mib"), 1),
    }
    runner = "work horse" if horse else "worker"
    result.add(
        f"worker tree peak RSS, {JOBS_PER_RUN} x 50 MP JPEG in a row",
        rounded(median_tree_rss, 1),
        "MiB",
        target=f"<= {TARGET_MIB}",
        met=target_met,
        note=f"PSS {job['median_tree_pss_sampled_mib']} MiB; job {job.get('median_job_seconds')} s; "
        f"worst run {worst_tree_rss:.1f} MiB; {worker_class}",
    )
    result.add(
        "max RSS of the process running the job, 50 MP",
        job["median_ru_maxrss_mib"],
        "MiB",
        note=f"the {runner} (kernel); idle worker {idle['median_ru_maxrss_mib']} MiB, job adds {cost['ru_maxrss']}",
    )
    for name, (run, estimate_mib) in edge_runs.items():
        result.add(
            f"worker tree peak RSS, {name}",
            rounded(run.tree_rss_peak_mib, 1),
            "MiB",
            target=f"<= {TARGET_MIB}",
            met=run.tree_rss_peak_mib <= TARGET_MIB,
            note=f"decode estimate {estimate_mib} MiB of the budget's {budget_mib()}; job {run.job_seconds} s",
        )
    result.details = {
        "source_jpeg": {
            "width": PHOTO_50MP.width,
            "height": PHOTO_50MP.height,
            "quality": SOURCE_QUALITY,
            "bytes": len(jpeg),
            "exceeds_max_upload_bytes": len(jpeg) > max_upload_bytes,
        },
        "procfile_worker": procfile_line("worker"),
        "worker_class": worker_class,
        "forks_work_horse": horse,
        "worker_command": " ".join(["python", *argv[1:]]),
        "target_mib": TARGET_MIB,
        "target_judged_on": "median tree_rss_peak_mib: "
        + ("horse max RSS (kernel) + worker RSS" if horse else "the worker's max RSS (kernel)"),
        "repeats": REPEATS,
        "job": job,
        "idle": idle,
        "job_cost_over_idle_mib": cost,
    }
    if len(jpeg) > max_upload_bytes:
        print(
            f"Note: the JPEG ({len(jpeg):,} bytes) is over MAX_UPLOAD_BYTES ({max_upload_bytes:,}); "
            "the upload form would refuse it. It was stored directly."
        )
    print(
        f"Job's own cost over an idle worker (medians): {cost['ru_maxrss']} MiB by the {runner}'s max RSS, "
        f"{cost['tree_pss_sampled']} MiB by tree PSS."
    )
    return result.finish()


if __name__ == "__main__":
    sys.exit(main())
