"""A full Redis (maxmemory, noeviction: Heroku's default) for a minute of uploads and sign-ups.

The acceptance's test with the demo's own work: a confirmed person keeps uploading through the
site's upload view and visitors keep signing up while the Procfile's worker (its pool and its
scheduler) runs against a Redis of the test's own that refuses every write. The core's version,
on the test-only Chore, is in tests/system/test_redis_faults.py (30 s: this one does the full 60 s),
whose fixtures these are; time is compressed as there (a sweep every 5 s, not every minute).
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rq.job import Job

from emails.models import OutgoingEmail
from media_tasks.models import Image
from media_tasks.tests.support import PHOTO, sign_up, unfinished
from tests.support.backend import (
    SWEEP_SECONDS,
    assert_no_process_exited,
    health,
    wait_for_all_done_then_healthy,
    worker_dyno,
)
from tests.support.processes import wait_until
from work import claims

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The acceptance's minute of uploads and sign-ups against the full Redis.
FULL_SECONDS = 60


def upload(client, n: int) -> None:
    photo = SimpleUploadedFile(f"photo-{n}.jpg", PHOTO, content_type="image/jpeg")
    assert client.post(reverse("upload"), {"file": photo}).status_code == 302


def left_for_the_sweeper(own_redis) -> int:
    """Rows neither done nor with a job in Redis: those only the sweeper can queue again."""
    rows = [
        (Image, Image.objects.exclude(status=Image.Status.READY)),
        (OutgoingEmail, OutgoingEmail.objects.exclude(status=OutgoingEmail.Status.SENT)),
    ]
    keys = [
        Job.key_for(claims.kind_of(model).job_id(pk))
        for model, query in rows
        for pk in query.values_list("pk", flat=True)
    ]
    return len(keys) - (own_redis.client.exists(*keys) if keys else 0)


@pytest.mark.soak
def test_a_minute_of_uploads_into_a_full_redis_stops_no_process_and_all_is_done_within_two_sweeps(
    signed_in_client,
    own_redis,
    backend_env,
    smtp_server,
):
    with worker_dyno(backend_env) as worker:
        wait_until(lambda: health(signed_in_client)[0] == 200, 60, "a healthy start", every=0.5)

        own_redis.fill()
        full_since = time.monotonic()
        count = 0
        while time.monotonic() - full_since < FULL_SECONDS:
            upload(signed_in_client, count)
            sign_up(count)
            count += 1
            status, body = health(signed_in_client)
            assert status == 503 and "redis" in body["failing"], body
            time.sleep(0.5)

        # Stored and shown as queued, and nothing processed: every write to Redis was refused.
        assert Image.objects.filter(status=Image.Status.PENDING).count() == count
        assert OutgoingEmail.objects.filter(status=OutgoingEmail.Status.PENDING).count() == count
        assert_no_process_exited(worker)

        own_redis.free()
        freed = time.monotonic()
        wait_until(lambda: left_for_the_sweeper(own_redis) == 0, 2 * SWEEP_SECONDS + 30, "every row queued", every=0.2)
        queued = time.monotonic() - freed
        all_done, healthy = wait_for_all_done_then_healthy(
            signed_in_client, unfinished, since=freed, what="every image ready and every email sent"
        )
        print(
            f"full {FULL_SECONDS} s, {count} uploads and sign-ups; "
            f"all queued again {queued:.1f} s, done {all_done:.1f} s and 200 {healthy:.1f} s after freeing"
        )

        assert Image.objects.filter(status=Image.Status.READY, attempts=1).count() == count
        assert all(image.thumbnails.count() == 2 for image in Image.objects.all())
        assert len(smtp_server.wait_for_messages(count)) == count
        assert_no_process_exited(worker)
        assert any(
            "schedule: scheduler" in line and "Redis error OutOfMemoryError" in line
            for line in worker.output().splitlines()
        )
