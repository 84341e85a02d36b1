"""A Redis FLUSHALL while uploads, sign-ups and the schedule run: every image and email is still done.

There is no clock process: the Procfile's worker runs the schedule (scheduling/scheduler.py),
takes its lease again after the flush and runs the sweeper, which queues again every row
whose job the flush took. The core's version, on the test-only Chore, is in
tests/system/test_redis_faults.py, whose fixtures these are.
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from media_tasks.models import Image
from media_tasks.tests.support import unfinished
from scheduling.scheduler import LEASE_KEY
from tests.support import images
from tests.support.backend import SWEEP_SECONDS, health, visitor, worker_dyno
from tests.support.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def upload_and_sign_up(client, n: int) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    photo = SimpleUploadedFile(f"photo-{n}.jpg", images.jpeg_bytes(900, 600), content_type="image/jpeg")
    assert client.post(reverse("upload"), {"file": photo}).status_code == 302
    signed_up = visitor().post(reverse("signup"), {"email": f"user-{n}@example.com", "password": "a-long-pass-42x"})
    assert signed_up.status_code == 302


def test_a_flushall_during_uploads_loses_no_image_or_email(
    signed_in_client,
    own_redis,
    backend_env,
    smtp_server,
):
    with worker_dyno(backend_env) as worker:
        wait_until(lambda: health(signed_in_client)[0] == 200, 60, "a healthy start", every=0.5)
        for n in range(6):
            upload_and_sign_up(signed_in_client, n)

        own_redis.client.flushall()
        flushed = time.monotonic()
        wait_until(lambda: own_redis.client.get(LEASE_KEY), 10, "the lease to be taken again", every=0.05)
        retaken = time.monotonic() - flushed
        for n in range(6, 12):
            upload_and_sign_up(signed_in_client, n)
        wait_until(lambda: unfinished() == 0, 2 * SWEEP_SECONDS + 60, "every image ready and email sent", every=0.5)
        done = time.monotonic() - flushed
        print(f"FLUSHALL: lease again after {retaken:.1f} s; 12 images and emails done {done:.1f} s after")

        assert Image.objects.filter(status=Image.Status.READY).count() == 12
        # 900 px wide: 900 (its own size, for the 1600), 800 and 400, made once.
        assert all(image.thumbnails.count() == 3 for image in Image.objects.all())
        assert len(smtp_server.wait_for_messages(12)) == 12
        assert worker.output().count("schedule: lease taken") == 2
