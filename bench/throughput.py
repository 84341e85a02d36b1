"""Jobs per second for one dyno's worth of worker processes: the Procfile's against stock rqworker.

    .venv/bin/python -m bench.throughput

Thumbnail jobs: THUMBNAIL_JOBS images of the 12 MP photo (bench/images.py) are stored and their
jobs queued through media_tasks.work (the path an upload takes), and only then is the worker
started, exactly as its command line says: the Procfile's `worker:` line, or stock
`python manage.py rqworker high default low` (rq's forking Worker, default settings; the
project's rqworker command only makes the serializer JSON). Jobs per second is the number of
jobs over the time from the first job's start to the last one's end (rq's own timestamps), so
a worker's start-up is not counted. The two are run alternately, ROUNDS times each, on the same
machine and the same bytes; the figure is the median, the ratio the median of each round's.

No-op jobs (bench.jobs.noop) measure what each worker class costs around a job: the forking
Worker and HerokuWorker fork a work horse per job, SimpleWorker runs jobs in its own process,
and rqworker-pool runs several workers under one parent.

Dyno memory: two 50 MP photos at once through the Procfile's worker, the tree's RSS and PSS
sampled every 20 ms (bench/thumbnail_memory.py gives the exact per-worker peak).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from bench.common import (
    MIB,
    STOCK_WORKER_COMMAND,
    BenchmarkError,
    Dyno,
    Environment,
    Figure,
    MemorySampler,
    Result,
    bench_user,
    create_pending_images,
    environment,
    median,
    print_figures,
    procfile_command,
    procfile_line,
    python_command,
    rounded,
    setup_django,
    wait_until,
)
from bench.images import PHOTO_12MP, PHOTO_50MP, ensure_images, image_directory

ROUNDS = 3
THUMBNAIL_JOBS = 40
NOOP_JOBS = 300
MEMORY_JOBS = 4
TARGET_RATIO = 2.0
STOP_TIMEOUT_SECONDS = 30
QUEUES = ["high", "default", "low"]


@dataclass(frozen=True)
class WorkerConfig:
    name: str
    argv: list[str]
    note: str


def configs() -> dict[str, WorkerConfig]:
    manage = python_command(["manage.py"])
    return {
        "procfile": WorkerConfig("procfile", procfile_command("worker"), f"Procfile: {procfile_line('worker')}"),
        "stock": WorkerConfig("stock", python_command(STOCK_WORKER_COMMAND), "rqworker, forking Worker"),
        "heroku": WorkerConfig(
            "heroku",
            [*manage, "rqworker", *QUEUES, "--worker-class", "rq.worker.HerokuWorker", "--with-scheduler"],
            "rqworker, HerokuWorker + scheduler (the Procfile before this benchmark)",
        ),
        "simple": WorkerConfig(
            "simple",
            [*manage, "rqworker", *QUEUES, "--worker-class", "rq.worker.SimpleWorker"],
            "rqworker, SimpleWorker (no fork)",
        ),
        "pool-simple-2": WorkerConfig(
            "pool-simple-2",
            [*manage, "rqworker-pool", *QUEUES, "--num-workers", "2", "--worker-class", "rq.worker.SimpleWorker"],
            "rqworker-pool of 2 SimpleWorkers",
        ),
    }


def procfile_processes() -> int:
    argv = procfile_command("worker")
    if "rqworker-pool" not in argv:
        return 1
    if "--num-workers" in argv:
        return int(argv[argv.index("--num-workers") + 1])
    from django.core.management import load_command_class

    # The project's rqworker-pool sets its own default (WORKER_CONCURRENCY).
    command = load_command_class("media_tasks", "rqworker-pool")
    return command.create_parser("manage.py", "rqworker-pool").get_default("num_workers")


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


def run_dyno(env: Environment, config: WorkerConfig, job_ids: list[str], label: str, timeout: float) -> int:
    dyno = Dyno(config.argv, env.env, env.workdir / f"{label}.log")
    try:
        wait_until(lambda: finished(job_ids), timeout, f"{label}: {len(job_ids)} jobs", every=0.1)
    except BenchmarkError as error:
        dyno.stop()
        raise BenchmarkError(f"{error}\n{dyno.output()[-3000:]}") from None
    # SIGTERM to every process, as Heroku stops a dyno; the workers are idle by now. A dyno that
    # ignores it is killed after STOP_TIMEOUT_SECONDS, as Heroku would after 30 s, and noted.
    returncode = dyno.stop(timeout=STOP_TIMEOUT_SECONDS)
    if returncode != 0:
        print(f"  {label}: exit status {returncode} after SIGTERM (killed if negative)", flush=True)
    return returncode


def thumbnail_round(env: Environment, config: WorkerConfig, content: bytes, label: str) -> dict[str, Any]:
    from media_tasks import work
    from media_tasks.models import Image

    clear_redis()
    owner = bench_user(f"{label}@example.com")
    ids = create_pending_images(owner, content, PHOTO_12MP.width, PHOTO_12MP.height, THUMBNAIL_JOBS, label)
    for pk in ids:
        if not work.enqueue(work.THUMBNAILS, pk):
            raise BenchmarkError("could not queue a thumbnail job")
    job_ids = [work.THUMBNAILS.job_id(pk) for pk in ids]
    from django.db import connections

    # Nothing of ours may hold SQLite's lock while the workers write.
    connections.close_all()
    returncode = run_dyno(env, config, job_ids, label, timeout=300)
    ready = Image.objects.filter(pk__in=ids, status=Image.Status.READY).count()
    if ready != len(ids):
        raise BenchmarkError(f"{label}: {ready} of {len(ids)} images ready")
    rate, seconds = jobs_per_second(job_ids)
    return {"jobs_per_second": rounded(rate), "seconds": rounded(seconds), "jobs": len(ids), "exit": returncode}


def noop_round(env: Environment, config: WorkerConfig, label: str) -> dict[str, Any]:
    import django_rq

    clear_redis()
    queue = django_rq.get_queue("default", commit_mode="auto")
    job_ids = [queue.enqueue("bench.jobs.noop", result_ttl=3600).id for _ in range(NOOP_JOBS)]
    returncode = run_dyno(env, config, job_ids, label, timeout=300)
    rate, seconds = jobs_per_second(job_ids)
    return {"jobs_per_second": rounded(rate, 1), "seconds": rounded(seconds), "jobs": len(job_ids), "exit": returncode}


def memory_run(env: Environment, config: WorkerConfig, content: bytes, label: str) -> dict[str, Any]:
    from media_tasks import work
    from media_tasks.models import Image

    clear_redis()
    owner = bench_user(f"{label}@example.com")
    ids = create_pending_images(owner, content, PHOTO_50MP.width, PHOTO_50MP.height, MEMORY_JOBS, label)
    from django.db import connections

    connections.close_all()
    dyno = Dyno(config.argv, env.env, env.workdir / f"{label}.log")
    try:
        with MemorySampler(dyno, interval=0.02) as sampler:
            time.sleep(3)  # start-up, so that the idle figure is of a ready dyno
            idle_pss, idle_rss = sampler.peak_pss, sampler.peak_rss
            for pk in ids:
                work.enqueue(work.THUMBNAILS, pk)
            job_ids = [work.THUMBNAILS.job_id(pk) for pk in ids]
            wait_until(lambda: finished(job_ids), 120, f"{label}: {len(ids)} jobs", every=0.1)
    finally:
        dyno.stop()
    ready = Image.objects.filter(pk__in=ids, status=Image.Status.READY).count()
    if ready != len(ids):
        raise BenchmarkError(f"{label}: {ready} of {len(ids)} images ready:\n{dyno.output()[-3000:]}")
    return {
        "jobs": len(ids),
        "idle_tree_pss_mib": rounded(idle_pss / MIB, 1),
        "idle_tree_rss_mib": rounded(idle_rss / MIB, 1),
        "peak_tree_pss_mib": rounded(sampler.peak_pss / MIB, 1),
        "peak_tree_rss_mib": rounded(sampler.peak_rss / MIB, 1),
        "most_processes": sampler.most_processes,
    }


def main() -> int:
    all_configs = configs()
    procfile, stock = all_configs["procfile"], all_configs["stock"]
    result = Result(
        name="throughput",
        description="jobs per second for one dyno's worker processes: Procfile vs stock rqworker",
        command=".venv/bin/python -m bench.throughput",
    )
    with image_directory() as directory:
        paths = ensure_images(directory, (PHOTO_12MP, PHOTO_50MP))
        photo = paths[PHOTO_12MP.name].read_bytes()
        big = paths[PHOTO_50MP.name].read_bytes()
        with environment("throughput") as env:
            setup_django(env.env)
            pool_size = procfile_processes()
            thumbnails: dict[str, list[dict[str, Any]]] = {"procfile": [], "stock": []}
            for number in range(1, ROUNDS + 1):
                # Alternate which goes first, so that neither always runs on a warmer machine.
                pair = (procfile, stock) if number % 2 else (stock, procfile)
                for config in pair:
                    measured = thumbnail_round(env, config, photo, f"thumbs-{config.name}-{number}")
                    thumbnails[config.name].append(measured)
                    print(
                        f"thumbnails, {config.name}, round {number}/{ROUNDS}: "
                        f"{measured['jobs_per_second']} jobs/s ({measured['jobs']} in {measured['seconds']} s)",
                        flush=True,
                    )
            noops: dict[str, list[dict[str, Any]]] = {name: [] for name in all_configs}
            for number in range(1, ROUNDS + 1):
                for config in all_configs.values():
                    measured = noop_round(env, config, f"noop-{config.name}-{number}")
                    noops[config.name].append(measured)
                    print(f"no-op, {config.name}, round {number}/{ROUNDS}: {measured['jobs_per_second']} jobs/s")
            memory = {
                config.name: memory_run(env, config, big, f"memory-{config.name}") for config in (procfile, stock)
            }
            for name, figures in memory.items():
                print(f"memory, {name}: {figures}")
            database = env.database

    def med(runs: list[dict[str, Any]]) -> float:
        return rounded(median([run["jobs_per_second"] for run in runs]), 2)

    ratios = [
        p["jobs_per_second"] / s["jobs_per_second"]
        for p, s in zip(thumbnails["procfile"], thumbnails["stock"], strict=True)
    ]
    ratio = rounded(median(ratios), 2)
    result.figures = [
        Figure("throughput", "thumbnail jobs/s, Procfile worker", med(thumbnails["procfile"]), "jobs/s"),
        Figure("throughput", "thumbnail jobs/s, stock rqworker", med(thumbnails["stock"]), "jobs/s"),
        Figure(
            "throughput",
            "Procfile / stock (thumbnails)",
            ratio,
            "x",
            target=f">= {TARGET_RATIO:g}",
            met=ratio >= TARGET_RATIO,
            note=f"{pool_size} worker process(es) in the Procfile's dyno",
        ),
    ]
    for name, runs in noops.items():
        result.figures.append(
            Figure(
                "throughput",
                f"no-op jobs/s, {name}",
                rounded(median([r["jobs_per_second"] for r in runs]), 1),
                "jobs/s",
            )
        )
    for name, figures in memory.items():
        result.figures.append(
            Figure(
                "throughput",
                f"dyno peak PSS, {name}, 50 MP jobs",
                figures["peak_tree_pss_mib"],
                "MiB",
                note=f"sampled; RSS {figures['peak_tree_rss_mib']} MiB; idle PSS {figures['idle_tree_pss_mib']} MiB",
            )
        )
    result.details = {
        "database": database,
        "image": PHOTO_12MP.filename,
        "procfile_worker_processes": pool_size,
        "configs": {name: {"argv": " ".join(c.argv[1:]), "note": c.note} for name, c in all_configs.items()},
        "thumbnails": thumbnails,
        "thumbnail_ratio_per_round": [rounded(r, 2) for r in ratios],
        "noop": noops,
        "memory_50mp": memory,
    }
    path = result.write()
    print("\nSummary:")
    print_figures(result.figures)
    print(f"Results written to {path.relative_to(path.parents[2])}")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
