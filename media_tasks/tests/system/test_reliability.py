"""Nothing lost, for the demo's images: thumbnails made once by the Procfile's worker, whatever happens.

The core's promises (SIGTERM, SIGKILL, the sweeper, Redis outages, duplicates) are proved on the
test-only Chore in tests/system/test_reliability.py; the fixtures are the top conftest.py's.
"""

from __future__ import annotations

from collections.abc import Iterator

import django_rq
import pytest
from django.urls import reverse

from emails.models import OutgoingEmail
from media_tasks.models import Image
from media_tasks.tests.support import slowed_thumbnails
from tests.support import images
from tests.support.processes import Process, procfile_command
from work import claims

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def start_worker(worker_env, short_lease) -> Iterator:
    """The Procfile's worker; slow_seconds slows each thumbnail down (support.slowed_thumbnails)."""
    started: list[Process] = []

    def start(*, slow_seconds: float = 0, extra_env: dict[str, str] | None = None, burst: bool = False) -> Process:
        argv = procfile_command("worker") + (["--burst"] if burst else [])
        slowed = slowed_thumbnails(slow_seconds) if slow_seconds else {}
        process = Process(argv, {**worker_env, **short_lease, **slowed, **(extra_env or {})})
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

    # Wider than the largest thumbnail, so it gets all three sizes.
    return SimpleUploadedFile(name, images.jpeg_bytes(1800, 1200), content_type="image/jpeg")


def status_of(image: Image) -> str:
    image.refresh_from_db()
    return image.status


def test_a_job_enqueued_by_the_web_is_run_by_the_procfile_worker(signed_in_client, start_worker):
    image = upload(signed_in_client)

    worker = start_worker(burst=True)
    assert worker.popen.wait(60) == 0, worker.output()

    assert status_of(image) == Image.Status.READY
    assert image.thumbnails.count() == 3


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
    report = claims.sweep()
    worker = start_worker(burst=True, extra_env={"REDIS_URL": own_redis.url, **smtp_server.env})
    assert worker.popen.wait(60) == 0, worker.output()

    assert report.requeued == 2
    assert status_of(image) == Image.Status.READY
    email.refresh_from_db()
    assert email.status == OutgoingEmail.Status.SENT
    assert [m["To"] for m in smtp_server.wait_for_messages(1)] == ["grace@example.com"]


def test_a_row_out_of_attempts_is_failed_with_its_last_error(signed_in_client, settings, short_lease):
    image = upload(signed_in_client)
    Image.objects.filter(pk=image.pk).update(attempts=settings.WORK_MAX_ATTEMPTS, last_error="OSError: disk on fire")
    django_rq.get_queue("default").empty()

    claims.sweep()

    image.refresh_from_db()
    assert image.status == Image.Status.FAILED
    assert "after 5 attempts" in image.last_error
    assert "disk on fire" in image.last_error
    assert "please upload it again" in image.failure_reason


def test_two_runs_of_the_same_image_at_once_make_one_set_of_thumbnails(signed_in_client, start_worker):
    image = upload(signed_in_client)
    # A second job for the same row under another id, as a duplicate delivery would be.
    django_rq.get_queue("default", commit_mode="auto").enqueue(claims.kind_of(Image).job, image.pk, job_id="duplicate")
    first, second = start_worker(slow_seconds=2, burst=True), start_worker(slow_seconds=2, burst=True)

    assert first.popen.wait(60) == 0 and second.popen.wait(60) == 0

    assert status_of(image) == Image.Status.READY
    assert image.attempts == 1
    assert image.thumbnails.count() == 3
    assert "being processed elsewhere" in first.output() + second.output()
