"""Time from enqueue (after the commit) to the job's start, with an idle worker.

    .venv/bin/python -m media_tasks.bench.pickup_latency

Three worker dynos are measured in turn (bench/common.py's worker_setups): the Procfile's (a
pool of WORKER_CONCURRENCY of the project's InProcessWorker, which runs jobs in the worker
process itself), stock `python manage.py rqworker high default low` (rq's forking Worker), and
heroku-pool-2, a pool of two of the project's forking HerokuWorker, the alternative considered.
Each is left until every worker is idle, blocked in Redis's BLPOP. Then, one at a time, with a
pause so the workers are idle again each time:

- no-op: a transaction commits, its on_commit callback reads the clock and enqueues
  `bench.jobs.started_at`, which returns the clock when its code begins. Both readings are
  CLOCK_MONOTONIC, which every process on the machine shares.
- thumbnail: the real path: a pending image row, its job queued by work/claims.py (enqueue)
  from on_commit (as services.image_create does), until rq's `started_at`. rq 3 stores the
  time set just before it calls the job's function, so for a forking worker it is taken in the
  work horse and includes the fork, as the no-op's reading does. Wall clock (time.time()
  against rq's UTC timestamp, microsecond resolution), since rq records no monotonic time.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    QUICK,
    BenchmarkError,
    Environment,
    Result,
    WorkerSetup,
    bench_user,
    describe_setups,
    environment,
    idle_dyno,
    setup_django,
    spread,
    wait_until,
    worker_setups,
)
from media_tasks.bench.images import PHOTO_12MP, image_bytes
from media_tasks.bench.pending_images import create_pending_images

NOOP_SAMPLES = 40
THUMBNAIL_SAMPLES = 15
# Long enough for the worker to finish its bookkeeping and block in BLPOP again.
IDLE_PAUSE_SECONDS = 0.15
TARGET_P50_MS = 20.0
SETUPS = ("procfile", "stock", "heroku-pool-2")
if QUICK:
    # A smoke test (bench.run --quick): the least that still runs every code path.
    NOOP_SAMPLES, THUMBNAIL_SAMPLES = 2, 1


def noop_sample() -> float:
    import django_rq
    from django.db import transaction

    from accounts.models import User

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

    from media_tasks.models import Image
    from work import claims

    enqueued: dict[str, float] = {}

    def enqueue() -> None:
        enqueued["at"] = time.time()
        claims.enqueue(claims.kind_of(Image), pk)

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
    """rq's `started_at` of the image's job: just before its function ran (after any fork)."""
    import django_rq
    from rq.job import Job

    from media_tasks.models import Image
    from work import claims

    queue = django_rq.get_queue("default")
    job = Job.fetch(claims.kind_of(Image).job_id(pk), connection=queue.connection, serializer=queue.serializer)
    if job.started_at is None:
        raise BenchmarkError(f"job for image {pk} has no start time")
    return job.started_at


def measure(env: Environment, setup: WorkerSetup, image_ids: list[int]) -> dict[str, Any]:
    from django.db import connections

    connections.close_all()
    with idle_dyno(env, setup, f"pickup-{setup.name}"):
        time.sleep(1)
        noop = []
        for _ in range(NOOP_SAMPLES):
            time.sleep(IDLE_PAUSE_SECONDS)
            noop.append(noop_sample())
        thumbs = []
        for pk in image_ids:
            time.sleep(IDLE_PAUSE_SECONDS)
            thumbs.append(thumbnail_sample(pk))
    return {"noop_ms": spread(noop), "thumbnail_ms": spread(thumbs)}


def main() -> int:
    result = Result("pickup_latency", "pickup latency", "enqueue (after commit) to job start with an idle worker")
    measured: dict[str, Any] = {}
    photo = image_bytes(PHOTO_12MP)
    with environment("pickup") as env:
        setup_django(env.env)
        owner = bench_user("pickup@example.com")
        setups = worker_setups(*SETUPS)
        for name, setup in setups.items():
            ids = create_pending_images(PHOTO_12MP, photo, THUMBNAIL_SAMPLES, f"pickup-{name}", owner)
            measured[name] = measure(env, setup, ids)
            print(
                f"{name}: no-op {measured[name]['noop_ms']['p50']} ms p50, "
                f"thumbnail {measured[name]['thumbnail_ms']['p50']} ms p50",
                flush=True,
            )

    for name, figures in measured.items():
        noop, thumbnail = figures["noop_ms"], figures["thumbnail_ms"]
        # The target is the Procfile's; the others are what it is compared with.
        judged = name == "procfile"
        result.add(
            f"{name}, no-op p50",
            noop["p50"],
            "ms",
            target=f"<= {TARGET_P50_MS:g}" if judged else "",
            met=noop["p50"] <= TARGET_P50_MS if judged else None,
            note=f"p95 {noop['p95']} ms",
        )
        result.add(f"{name}, thumbnail job p50", thumbnail["p50"], "ms", note=f"p95 {thumbnail['p95']} ms")
    result.details = {"setups": describe_setups(setups), "measured": measured}
    return result.finish()


if __name__ == "__main__":
    sys.exit(main())
