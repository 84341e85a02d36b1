"""Time from enqueue (after the commit) to the job's start, with an idle worker.

    .venv/bin/python -m bench.pickup_latency

The worker is started as the Procfile starts it (and, for comparison, as stock
`python manage.py rqworker high default low`), and left until every worker is idle, blocked
in Redis's BLPOP. Then, one at a time, with a pause so the worker is idle again each time:

- no-op: a transaction commits, its on_commit callback reads the clock and enqueues
  `bench.jobs.started_at`, which returns the clock when its code begins. Both readings are
  CLOCK_MONOTONIC, which every process on the machine shares.
- thumbnail: the real path: a pending image row, its job queued by media_tasks.work.enqueue
  from on_commit (as services.image_create does), until rq's `started_at`, which the worker
  writes when it takes the job, just before it forks the work horse. Wall clock (time.time()
  against rq's UTC timestamp, microsecond resolution), since rq records no monotonic time.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    STOCK_WORKER_COMMAND,
    BenchmarkError,
    Dyno,
    Figure,
    Result,
    bench_user,
    create_pending_images,
    environment,
    percentile,
    print_figures,
    procfile_command,
    procfile_line,
    python_command,
    rounded,
    setup_django,
    wait_for_workers,
    wait_until,
)
from bench.images import PHOTO_12MP, ensure_images, image_directory

NOOP_SAMPLES = 40
THUMBNAIL_SAMPLES = 15
# Long enough for the worker to finish its bookkeeping and block in BLPOP again.
IDLE_PAUSE_SECONDS = 0.15
TARGET_P50_MS = 20.0


def noop_sample() -> float:
    import django_rq
    from django.db import transaction

    from media_tasks.models import User

    enqueued: dict[str, Any] = {}

    def enqueue() -> None:
        queue = django_rq.get_queue("default", commit_mode="auto")
        enqueued["at"] = time.clock_gettime(time.CLOCK_MONOTONIC)
        enqueued["job"] = queue.enqueue("bench.jobs.started_at", result_ttl=600)

    with transaction.atomic():
        # A real write, so that on_commit follows a real commit.
        User.objects.filter(email="pickup@example.com").update(last_login=None)
        transaction.on_commit(enqueue)
    job = enqueued["job"]
    wait_until(lambda: job.get_status(refresh=True) == "finished", 30, "the no-op job", every=0.002)
    return (job.return_value() - enqueued["at"]) * 1000


def thumbnail_sample(pk: int) -> float:
    from django.db import transaction

    from media_tasks import work
    from media_tasks.models import Image

    enqueued: dict[str, float] = {}

    def enqueue() -> None:
        enqueued["at"] = time.time()
        work.enqueue(work.THUMBNAILS, pk)

    with transaction.atomic():
        Image.objects.filter(pk=pk).update(failure_reason="")
        transaction.on_commit(enqueue)

    def done() -> bool:
        return Image.objects.filter(pk=pk, status__in=[Image.Status.READY, Image.Status.FAILED]).exists()

    wait_until(done, 30, f"image {pk}", every=0.01)
    image = Image.objects.get(pk=pk)
    if image.status != Image.Status.READY:
        raise BenchmarkError(f"image {pk} is {image.status}: {image.failure_reason}")
    return (taken_at(pk) - datetime.fromtimestamp(enqueued["at"], UTC)).total_seconds() * 1000


def taken_at(pk: int) -> datetime:
    """When a worker took the job: rq's `started_at`, set before the work horse is forked."""
    import django_rq
    from rq.job import Job

    from media_tasks import work

    queue = django_rq.get_queue("default")
    job = Job.fetch(work.THUMBNAILS.job_id(pk), connection=queue.connection, serializer=queue.serializer)
    if job.started_at is None:
        raise BenchmarkError(f"job for image {pk} has no start time")
    return job.started_at


def measure(env: Any, label: str, argv: list[str], workers: int, image_ids: list[int]) -> dict[str, Any]:
    from django.db import connections

    connections.close_all()
    dyno = Dyno(argv, env.env, env.workdir / f"pickup-{label}.log")
    try:
        wait_for_workers(env.redis_url, workers)
        time.sleep(1)
        noop = []
        for _ in range(NOOP_SAMPLES):
            time.sleep(IDLE_PAUSE_SECONDS)
            noop.append(noop_sample())
        thumbs = []
        for pk in image_ids:
            time.sleep(IDLE_PAUSE_SECONDS)
            thumbs.append(thumbnail_sample(pk))
    finally:
        dyno.stop()
    return {
        "noop_ms": {
            "p50": rounded(percentile(noop, 50)),
            "p95": rounded(percentile(noop, 95)),
            "all": [rounded(v) for v in noop],
        },
        "thumbnail_ms": {
            "p50": rounded(percentile(thumbs, 50)),
            "p95": rounded(percentile(thumbs, 95)),
            "all": [rounded(v) for v in thumbs],
        },
    }


def main() -> int:
    procfile = procfile_command("worker")
    configs = {
        "procfile": (procfile, 2 if "rqworker-pool" in procfile else 1),
        "stock": (python_command(STOCK_WORKER_COMMAND), 1),
    }
    result = Result(
        name="pickup_latency",
        description="enqueue (after commit) to job start with an idle worker",
        command=".venv/bin/python -m bench.pickup_latency",
    )
    measured: dict[str, Any] = {}
    with image_directory() as directory:
        photo = ensure_images(directory, (PHOTO_12MP,))[PHOTO_12MP.name].read_bytes()
        with environment("pickup") as env:
            setup_django(env.env)
            from django.core.management import load_command_class

            owner = bench_user("pickup@example.com")
            if "rqworker-pool" in procfile and "--num-workers" not in procfile:
                parser = load_command_class("media_tasks", "rqworker-pool").create_parser("manage.py", "rqworker-pool")
                configs["procfile"] = (procfile, parser.get_default("num_workers"))
            for label, (argv, workers) in configs.items():
                ids = create_pending_images(
                    owner, photo, PHOTO_12MP.width, PHOTO_12MP.height, THUMBNAIL_SAMPLES, f"pickup-{label}"
                )
                measured[label] = measure(env, label, argv, workers, ids)
                print(
                    f"{label}: no-op {measured[label]['noop_ms']['p50']} ms p50, "
                    f"thumbnail {measured[label]['thumbnail_ms']['p50']} ms p50",
                    flush=True,
                )

    p50 = measured["procfile"]["noop_ms"]["p50"]
    result.figures = [
        Figure(
            "pickup latency",
            "Procfile worker, no-op p50",
            p50,
            "ms",
            target=f"<= {TARGET_P50_MS:g}",
            met=p50 <= TARGET_P50_MS,
            note=f"p95 {measured['procfile']['noop_ms']['p95']} ms",
        ),
        Figure(
            "pickup latency",
            "Procfile worker, thumbnail job p50",
            measured["procfile"]["thumbnail_ms"]["p50"],
            "ms",
            note=f"p95 {measured['procfile']['thumbnail_ms']['p95']} ms; enqueue to worker taking it (pre-fork)",
        ),
        Figure(
            "pickup latency",
            "stock rqworker, no-op p50",
            measured["stock"]["noop_ms"]["p50"],
            "ms",
            note=f"p95 {measured['stock']['noop_ms']['p95']} ms",
        ),
    ]
    result.details = {"procfile_worker": procfile_line("worker"), "configs": measured}
    path = result.write()
    print("\nSummary:")
    print_figures(result.figures)
    print(f"Results written to {path.relative_to(path.parents[2])}")
    return 0 if p50 <= TARGET_P50_MS else 1


if __name__ == "__main__":
    sys.exit(main())
