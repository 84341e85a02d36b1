"""Nothing lost: real worker processes, real signals, a Redis that goes away, a database that drops us.

Worker processes are started exactly as the Procfile starts them. The sweeper is the function
the clock runs every minute; these tests call it more often so they finish quickly.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from datetime import timedelta

import django_rq
import pytest
from django.urls import reverse
from django.utils import timezone

from background import work
from background.models import OutgoingEmail
from background.redis_config import rq_queues
from media_tasks.models import Image
from tests.support import images, outbox
from tests.support.processes import Process, procfile_command, wait_until
from tests.support.redis_server import ThrowawayRedis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Short enough for a test to wait out; production uses 60 s (longer than any job may run).
LEASE_SECONDS = 8


@pytest.fixture
def short_lease(settings) -> dict[str, str]:
    settings.WORK_CLAIM_LEASE_SECONDS = LEASE_SECONDS
    settings.WORK_STALE_SECONDS = 0
    return {"WORK_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS)}


@pytest.fixture
def start_worker(worker_env, short_lease) -> Iterator:
    started: list[Process] = []

    def start(*, slow_seconds: float = 0, extra_env: dict[str, str] | None = None, burst: bool = False) -> Process:
        argv = procfile_command("worker") + (["--burst"] if burst else [])
        process = Process(argv, {**worker_env, **short_lease, **(extra_env or {})}, slow_seconds=slow_seconds)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def upload(client, name: str = "photo.jpg") -> Image:
    client.post(reverse("upload"), {"file": _jpeg(name)})
    return Image.objects.filter(original_name=name).latest("id")


def _jpeg(name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, images.jpeg_bytes(800, 600), content_type="image/jpeg")


def status_of(image: Image) -> str:
    image.refresh_from_db()
    return image.status


def test_a_job_enqueued_by_the_web_is_run_by_the_procfile_worker(signed_in_client, start_worker):
    image = upload(signed_in_client)

    worker = start_worker(burst=True)
    assert worker.popen.wait(60) == 0, worker.output()

    assert status_of(image) == Image.Status.READY
    assert image.thumbnails.count() == 3


def test_sigterm_mid_job_is_retried_and_completes_after_restart(signed_in_client, start_worker):
    image = upload(signed_in_client)
    worker = start_worker(slow_seconds=20)
    wait_until(lambda: status_of(image) == Image.Status.PROCESSING, 30, "the worker to claim the image")

    worker.signal_dyno(signal.SIGTERM)  # a dyno restart: every process of the dyno gets it
    assert worker.popen.wait(20) == 0, worker.output()

    assert "ShutDownImminentException" in worker.output()
    assert status_of(image) == Image.Status.PENDING  # handed back, not lost
    start_worker()
    wait_until(lambda: status_of(image) == Image.Status.READY, 60, "the retried job to finish")
    assert image.attempts == 2
    assert image.thumbnails.count() == 3


def test_sigkill_mid_job_completes_once_a_new_worker_runs(signed_in_client, start_worker):
    image = upload(signed_in_client)
    worker = start_worker(slow_seconds=60)
    wait_until(lambda: status_of(image) == Image.Status.PROCESSING, 30, "the worker to claim the image")

    worker.signal_dyno(signal.SIGKILL)
    worker.popen.wait(10)
    start_worker()

    def swept_and_ready() -> bool:
        work.sweep()
        return status_of(image) == Image.Status.READY

    wait_until(swept_and_ready, LEASE_SECONDS + 60, "the sweeper to re-queue the abandoned image", every=1)
    assert image.thumbnails.count() == 3
    assert image.attempts == 2


@pytest.fixture
def own_redis(settings) -> Iterator[ThrowawayRedis]:
    """A Redis of this test's own, on a fixed free port, that the test may stop and start."""
    with ThrowawayRedis() as server:
        settings.RQ_QUEUES = rq_queues(server.url)
        yield server


def test_uploads_and_signups_during_a_redis_outage_succeed_and_are_processed_later(
    signed_in_client, own_redis, start_worker, smtp_server
):
    from django.test import Client

    visitor = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})
    own_redis.stop()

    uploaded = signed_in_client.post(reverse("upload"), {"file": _jpeg("during-outage.jpg")})
    signup = visitor.post(reverse("signup"), {"email": "grace@example.com", "password": "correct-horse-battery"})
    gallery = signed_in_client.get(reverse("gallery"))

    assert (uploaded.status_code, signup.status_code, gallery.status_code) == (302, 302, 200)
    image = Image.objects.get(original_name="during-outage.jpg")
    email = OutgoingEmail.objects.get(to="grace@example.com")
    assert (image.status, email.status) == (Image.Status.PENDING, OutgoingEmail.Status.PENDING)
    assert "Queued" in gallery.content.decode()

    own_redis.start()
    report = work.sweep()
    worker = start_worker(burst=True, extra_env={"REDIS_URL": own_redis.url, **smtp_server.env})
    assert worker.popen.wait(60) == 0, worker.output()

    assert report.requeued == 2
    assert status_of(image) == Image.Status.READY
    email.refresh_from_db()
    assert email.status == OutgoingEmail.Status.SENT
    assert [m["To"] for m in smtp_server.wait_for_messages(1)] == ["grace@example.com"]


def test_the_sweeper_never_queues_a_row_whose_job_is_still_waiting(signed_in_client, short_lease):
    image = upload(signed_in_client)
    queue = django_rq.get_queue("default")
    assert queue.count == 1

    report = work.sweep()

    assert (report.alive, report.requeued) == (1, 0)
    assert queue.count == 1
    assert status_of(image) == Image.Status.PENDING


def test_a_job_lost_between_queue_and_worker_is_queued_again(signed_in_client, short_lease):
    image = upload(signed_in_client)
    queue = django_rq.get_queue("default")
    # What a worker killed mid-dequeue leaves: the job says "queued" but sits in no queue.
    queue.connection.lrem(queue.key, 0, work.kind_of(Image).job_id(image.pk))
    assert queue.count == 0

    report = work.sweep()

    assert report.requeued == 1
    assert queue.get_job_ids() == [work.kind_of(Image).job_id(image.pk)]


def test_a_retry_left_behind_by_a_dead_scheduler_is_queued_by_the_sweeper(signed_in_client, short_lease):
    image = upload(signed_in_client)
    queue = django_rq.get_queue("default")
    queue.empty()
    # As a retry looks once its worker (and that worker's scheduler) died: due long ago.
    queue.enqueue_at(
        timezone.now() - timedelta(minutes=5),
        work.kind_of(Image).job,
        image.pk,
        job_id=work.kind_of(Image).job_id(image.pk),
    )
    assert queue.count == 0

    work.sweep()

    assert queue.get_job_ids() == [work.kind_of(Image).job_id(image.pk)]
    assert len(queue.scheduled_job_registry) == 0


def test_a_row_out_of_attempts_is_failed_with_its_last_error(signed_in_client, settings, short_lease):
    image = upload(signed_in_client)
    Image.objects.filter(pk=image.pk).update(attempts=settings.WORK_MAX_ATTEMPTS, last_error="OSError: disk on fire")
    django_rq.get_queue("default").empty()

    work.sweep()

    image.refresh_from_db()
    assert image.status == Image.Status.FAILED
    assert "after 5 attempts" in image.last_error
    assert "disk on fire" in image.last_error
    assert "please upload it again" in image.failure_reason


def test_two_runs_of_the_same_image_at_once_make_one_set_of_thumbnails(signed_in_client, start_worker):
    image = upload(signed_in_client)
    # A second job for the same row under another id, as a duplicate delivery would be.
    django_rq.get_queue("default", commit_mode="auto").enqueue(work.kind_of(Image).job, image.pk, job_id="duplicate")
    first, second = start_worker(slow_seconds=2, burst=True), start_worker(slow_seconds=2, burst=True)

    assert first.popen.wait(60) == 0 and second.popen.wait(60) == 0

    assert status_of(image) == Image.Status.READY
    assert image.attempts == 1
    assert image.thumbnails.count() == 3
    assert "being processed elsewhere" in first.output() + second.output()


def test_three_workers_process_every_upload_once(signed_in_client, start_worker):
    uploaded = [upload(signed_in_client, f"photo-{n}.jpg") for n in range(30)]
    workers = [start_worker(burst=True) for _ in range(3)]

    for worker in workers:
        assert worker.popen.wait(120) == 0, worker.output()

    assert sum("Job OK" in w.output() for w in workers) >= 2  # the work was really shared
    for image in uploaded:
        image.refresh_from_db()
        assert (image.status, image.attempts, image.thumbnails.count()) == (Image.Status.READY, 1, 3)


def test_a_worker_grown_past_its_memory_limit_is_replaced_and_no_upload_is_lost(signed_in_client, start_worker):
    uploaded = [upload(signed_in_client, f"photo-{n}.jpg") for n in range(4)]
    # With a 1 MB limit every worker retires after its first job.
    worker = start_worker(extra_env={"WORKER_MAX_RSS_MB": "1"})

    for image in uploaded:
        wait_until(lambda image=image: status_of(image) == Image.Status.READY, 60, f"{image} to be ready")
        assert (image.attempts, image.thumbnails.count()) == (1, 3)
    assert worker.output().count("retiring so the pool starts a fresh one") >= 3, worker.output()
    assert worker.popen.poll() is None  # the dyno's process lives on; only its workers were replaced


def test_an_smtp_refusal_fails_the_email_at_once(user, smtp_server, start_worker):
    smtp_server.refuse("nobody@example.com")
    user.email = "nobody@example.com"
    email = outbox.queue_confirmation(user)

    worker = start_worker(burst=True, extra_env=smtp_server.env)
    assert worker.popen.wait(60) == 0, worker.output()

    email.refresh_from_db()
    assert email.status == OutgoingEmail.Status.FAILED
    assert "550" in email.last_error
    assert email.attempts == 1
    assert len(django_rq.get_queue("high").scheduled_job_registry) == 0  # not retried


def test_an_unreachable_smtp_server_is_retried_with_backoff(user, start_worker):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    email = outbox.queue_confirmation(user)

    worker = start_worker(burst=True, extra_env={"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(closed_port)})
    assert worker.popen.wait(60) == 0, worker.output()

    email.refresh_from_db()
    assert email.status == OutgoingEmail.Status.PENDING
    assert "ConnectionRefusedError" in email.last_error
    assert django_rq.get_queue("high").scheduled_job_registry.get_job_ids() == [
        work.kind_of(OutgoingEmail).job_id(email.pk)
    ]
