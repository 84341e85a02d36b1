"""Jobs per second for one dyno's worth of worker processes: the Procfile's against stock rqworker.

    .venv/bin/python -m media_tasks.bench.throughput

Setups (bench/common.py's worker_setups), each started exactly as its command line says:

- procfile: the Procfile's `worker:` line, now a pool of WORKER_CONCURRENCY (2) of the project's
  InProcessWorker, which runs jobs in the worker process itself, without forking;
- stock: `python manage.py rqworker high default low`, rq's forking Worker with default settings
  (the project's rqworker command only makes the serializer JSON);
- heroku-pool-2: the forking alternative considered, a pool of two of the project's
  HerokuWorker (workers/runtime.py), which forks a work horse per job;
- heroku and simple: one rq HerokuWorker (with the scheduler) and one rq SimpleWorker.

Thumbnail jobs, for procfile, stock and heroku-pool-2: THUMBNAIL_JOBS images of the 12 MP photo
(media_tasks/bench/images.py) are stored and their jobs queued through work/claims.py (the path an upload
takes), and only then is the dyno started. Jobs per second is the number of jobs over the time
from the first job's start to the last one's end (rq's own timestamps), so a worker's start-up
is not counted. The setups run in rotating order, ROUNDS times each, on the same machine and the
same bytes; the figure is the median, a ratio to stock the median of each round's.

No-op jobs (bench.jobs.noop), for every setup, measure what each costs around a job: the forking
Worker and HerokuWorker fork a work horse per job, SimpleWorker and InProcessWorker run jobs in
their own process, and rqworker-pool runs several workers under one parent.

Dyno memory, for procfile, stock and heroku-pool-2: once the dyno's workers are idle, MEMORY_JOBS
50 MP photos are queued (two run at once in a pool) and the tree's RSS and PSS, parent included,
are sampled every 20 ms; media_tasks/bench/thumbnail_memory.py gives the exact peak of one worker.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench.common import (
    QUICK,
    BenchmarkError,
    Dyno,
    Environment,
    Result,
    WorkerSetup,
    describe_setups,
    environment,
    idle_dyno,
    median,
    procfile_line,
    rounded,
    setup_django,
    wait_until,
    worker_setups,
)
from media_tasks.bench.images import PHOTO_12MP, PHOTO_50MP, image_bytes
from media_tasks.bench.pending_images import create_pending_images, enqueue_thumbnails

ROUNDS = 3
THUMBNAIL_JOBS = 40
NOOP_JOBS = 300
MEMORY_JOBS = 4
TARGET_RATIO = 2.0
# Heroku allows 30 s; a setup that needs more than this is hung (see bench/worker_shutdown.py).
STOP_TIMEOUT_SECONDS = 8
# Thumbnail throughput and dyno memory are measured for these setups (bench/common.py's
# worker_setups), no-op throughput for all of them.
THUMBNAIL_SETUPS = ("procfile", "stock", "heroku-pool-2")
NOOP_SETUPS = ("procfile", "stock", "heroku", "heroku-pool-2", "simple")
MEMORY_SETUPS = ("procfile", "stock", "heroku-pool-2")
if QUICK:
    # A smoke test (bench.run --quick): the least that still runs every code path.
    # Two thumbnail and two memory jobs, so that both workers of a pool take one.
    ROUNDS, THUMBNAIL_JOBS, NOOP_JOBS, MEMORY_JOBS = 1, 2, 4, 2


def jobs_per_second(job_ids: list[str]) -> tuple[float, float]:
    """(jobs per second, seconds) from the first job's start to the last one's end."""
    import django_rq
    from rq.job import Job

    queue = django_rq.get_queue("default")
    jobs = Job.fetch_many(job_ids, connection=queue.connection, serializer=queue.serializer)
    missing = [job_id for job_id, job in zip(job_ids, jobs, strict=True) if job is None]
    if missing:
        raise BenchmarkError(f"{len(missing)} jobs vanished from Redis")
    if any(job.started_at is None or job.ended_at is None for job in jobs):
        raise BenchmarkError("a job has no start or end time")
    first = min(job.started_at for job in jobs)
    last = max(job.ended_at for job in jobs)
    seconds = (last - first).total_seconds()
    return len(jobs) / seconds, seconds


def finished(job_ids: list[str]) -> bool:
    import django_rq
    from rq.registry import FailedJobRegistry, FinishedJobRegistry

    queue = django_rq.get_queue("default")
    failed = FailedJobRegistry(queue=queue)
    if len(failed):
        raise BenchmarkError(f"failed jobs: {failed.get_job_ids()}")
    return len(FinishedJobRegistry(queue=queue)) >= len(job_ids)


def clear_redis() -> None:
    import django_rq

    # Each measurement starts from an empty Redis, so registries count only its own jobs.
    django_rq.get_connection("default").flushdb()


def run_dyno(env: Environment, setup: WorkerSetup, job_ids: list[str], label: str, timeout: float) -> int:
    """Start the dyno on queued jobs, stop it once they are done; its exit status."""
    from django.db import connections

    # Nothing of ours may hold SQLite's lock while the workers write.
    connections.close_all()
    dyno = Dyno(setup.argv, env.env, env.workdir / f"{label}.log")
    try:
        wait_until(lambda: finished(job_ids), timeout, f"{label}: {len(job_ids)} jobs", every=0.1)
    except BenchmarkError as error:
        dyno.stop()
        raise BenchmarkError(f"{error}\n{dyno.output()[-3000:]}") from None
    # SIGTERM to every process, as Heroku stops a dyno; the workers are idle by now. A dyno that
    # ignores it is killed after STOP_TIMEOUT_SECONDS, as Heroku would after 30 s, and noted.
    returncode = dyno.stop(grace=STOP_TIMEOUT_SECONDS)
    if returncode != 0:
        print(f"  {label}: exit status {returncode} after SIGTERM (killed if negative)", flush=True)
    return returncode


def check_ready(ids: list[int], label: str, output: str = "") -> None:
    from media_tasks.models import Image

    ready = Image.objects.filter(pk__in=ids, status=Image.Status.READY).count()
    if ready != len(ids):
        raise BenchmarkError(f"{label}: {ready} of {len(ids)} images ready\n{output[-3000:]}")


def thumbnail_round(env: Environment, setup: WorkerSetup, content: bytes, label: str) -> dict[str, Any]:
    clear_redis()
    ids = create_pending_images(PHOTO_12MP, content, THUMBNAIL_JOBS, label)
    # Queued before the dyno starts, so that its start-up is not in the figure.
    job_ids = enqueue_thumbnails(ids)
    returncode = run_dyno(env, setup, job_ids, label, timeout=300)
    check_ready(ids, label)
    rate, seconds = jobs_per_second(job_ids)
    return {"jobs_per_second": rounded(rate), "seconds": rounded(seconds), "jobs": len(ids), "exit": returncode}


def noop_round(env: Environment, setup: WorkerSetup, label: str) -> dict[str, Any]:
    import django_rq

    clear_redis()
    queue = django_rq.get_queue("default", commit_mode="auto")
    job_ids = [queue.enqueue("bench.jobs.noop", result_ttl=3600).id for _ in range(NOOP_JOBS)]
    returncode = run_dyno(env, setup, job_ids, label, timeout=300)
    rate, seconds = jobs_per_second(job_ids)
    return {"jobs_per_second": rounded(rate, 1), "seconds": rounded(seconds), "jobs": len(job_ids), "exit": returncode}


def memory_run(env: Environment, setup: WorkerSetup, content: bytes, label: str) -> dict[str, Any]:
    from django.db import connections

    clear_redis()
    ids = create_pending_images(PHOTO_50MP, content, MEMORY_JOBS, label)
    connections.close_all()
    # Sampled from when every worker is ready: the idle figure is of a dyno between jobs.
    with idle_dyno(env, setup, label) as dyno, dyno.memory_sampler(interval=0.02) as sampler:
        time.sleep(1)
        idle_pss, idle_rss = sampler.peak_pss_mib, sampler.peak_rss_mib
        job_ids = enqueue_thumbnails(ids)
        wait_until(lambda: finished(job_ids), 120, f"{label}: {len(ids)} jobs", every=0.1)
    check_ready(ids, label, dyno.output())
    return {
        "jobs": len(ids),
        "idle_tree_pss_mib": rounded(idle_pss, 1),
        "idle_tree_rss_mib": rounded(idle_rss, 1),
        "peak_tree_pss_mib": rounded(sampler.peak_pss_mib, 1),
        "peak_tree_rss_mib": rounded(sampler.peak_rss_mib, 1),
        "most_processes": sampler.most_processes,
    }


def median_rate(runs: list[dict[str, Any]], digits: int) -> float:
    return rounded(median([run["jobs_per_second"] for run in runs]), digits)


def main() -> int:
    result = Result(
        "throughput", "throughput", "jobs per second for one dyno's worker processes: Procfile vs stock rqworker"
    )
    photo, big = image_bytes(PHOTO_12MP), image_bytes(PHOTO_50MP)
    with environment("throughput") as env:
        setup_django(env.env)
        setups = worker_setups(*dict.fromkeys(THUMBNAIL_SETUPS + NOOP_SETUPS + MEMORY_SETUPS))
        pool_size = setups["procfile"].workers
        thumbnail_setups = [setups[name] for name in THUMBNAIL_SETUPS if name in setups]
        thumbnails: dict[str, list[dict[str, Any]]] = {setup.name: [] for setup in thumbnail_setups}
        noops: dict[str, list[dict[str, Any]]] = {name: [] for name in NOOP_SETUPS if name in setups}
        for number in range(1, ROUNDS + 1):
            # Rotate the order, so that no setup always runs first or right after another.
            shift = (number - 1) % len(thumbnail_setups)
            for setup in thumbnail_setups[shift:] + thumbnail_setups[:shift]:
                measured = thumbnail_round(env, setup, photo, f"thumbs-{setup.name}-{number}")
                thumbnails[setup.name].append(measured)
                print(
                    f"thumbnails, {setup.name}, round {number}/{ROUNDS}: "
                    f"{measured['jobs_per_second']} jobs/s ({measured['jobs']} in {measured['seconds']} s)",
                    flush=True,
                )
        for number in range(1, ROUNDS + 1):
            for name in noops:
                measured = noop_round(env, setups[name], f"noop-{name}-{number}")
                noops[name].append(measured)
                print(f"no-op, {name}, round {number}/{ROUNDS}: {measured['jobs_per_second']} jobs/s", flush=True)
        memory = {
            name: memory_run(env, setups[name], big, f"memory-{name}") for name in MEMORY_SETUPS if name in setups
        }
        for name, figures in memory.items():
            print(f"memory, {name}: {figures}")
        database = env.database

    def ratios_to_stock(name: str) -> list[float]:
        # Each round's ratio, from runs made minutes apart at most: the median of those.
        return [
            rounded(a["jobs_per_second"] / b["jobs_per_second"], 2)
            for a, b in zip(thumbnails[name], thumbnails["stock"], strict=True)
        ]

    ratio = rounded(median(ratios_to_stock("procfile")), 2)
    for name, runs in thumbnails.items():
        note = procfile_line("worker") if name == "procfile" else setups[name].note
        result.add(f"thumbnail jobs/s, {name}", median_rate(runs, 2), "jobs/s", note=note)
    result.add(
        "Procfile / stock (thumbnails)",
        ratio,
        "x",
        target=f">= {TARGET_RATIO:g}",
        met=ratio >= TARGET_RATIO,
        note=f"{pool_size} worker process(es) in the Procfile's dyno",
    )
    for name in thumbnails:
        if name not in ("procfile", "stock"):
            result.add(f"{name} / stock (thumbnails)", rounded(median(ratios_to_stock(name)), 2), "x")
    for name, runs in noops.items():
        result.add(f"no-op jobs/s, {name}", median_rate(runs, 1), "jobs/s")
    for name, figures in memory.items():
        result.add(
            f"dyno peak PSS, {name}, 50 MP jobs",
            figures["peak_tree_pss_mib"],
            "MiB",
            note=f"sampled; RSS {figures['peak_tree_rss_mib']} MiB; idle PSS {figures['idle_tree_pss_mib']} MiB",
        )
    result.details = {
        "database": database,
        "image": PHOTO_12MP.filename,
        "procfile_worker_processes": pool_size,
        "setups": describe_setups(setups),
        "thumbnails": thumbnails,
        "thumbnail_ratios_per_round": {name: ratios_to_stock(name) for name in thumbnails if name != "stock"},
        "noop": noops,
        "memory_50mp": memory,
    }
    return result.finish()


if __name__ == "__main__":
    sys.exit(main())
