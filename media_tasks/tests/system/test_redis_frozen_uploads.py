"""A Redis frozen (SIGSTOP) for 30 s during uploads: no upload held over 2 s, all done after SIGCONT.

The acceptance's test with the demo's own work, against a Redis of the test's own under the
Procfile's worker (its pool and its scheduler). The core's version times sign-ups
(tests/system/test_redis_faults.py, whose fixtures these are); time is compressed as there.
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from media_tasks.models import Image
from media_tasks.tests.support import PHOTO, sign_up, unfinished
from queues import redis_client
from tests.support.backend import assert_no_process_exited, health, wait_for_all_done_then_healthy, worker_dyno
from tests.support.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FROZEN_SECONDS = 30
# The acceptance's bound per upload request: its two Redis calls (rate limit, enqueue after the
# commit) give up after TIMEOUT_SECONDS (0.5 s) each, without retries.
UPLOAD_MAX_SECONDS = 2


def timed_upload(client, n: int) -> float:
    photo = SimpleUploadedFile(f"photo-{n}.jpg", PHOTO, content_type="image/jpeg")
    started = time.monotonic()
    response = client.post(reverse("upload"), {"file": photo})
    elapsed = time.monotonic() - started
    assert response.status_code == 302
    return elapsed


@pytest.mark.soak
def test_uploads_while_redis_is_frozen_take_under_two_seconds_and_all_are_made_after_it_thaws(
    signed_in_client,
    own_redis,
    backend_env,
    smtp_server,
):
    assert 2 * redis_client.TIMEOUT_SECONDS < UPLOAD_MAX_SECONDS
    with worker_dyno(backend_env) as worker:
        wait_until(lambda: health(signed_in_client)[0] == 200, 60, "a healthy start", every=0.5)

        own_redis.freeze()
        frozen_since = time.monotonic()
        upload_seconds: list[float] = []
        while time.monotonic() - frozen_since < FROZEN_SECONDS:
            upload_seconds.append(timed_upload(signed_in_client, len(upload_seconds)))
            sign_up(len(upload_seconds))
            assert health(signed_in_client)[0] == 503
            time.sleep(0.5)
        own_redis.thaw()
        thawed = time.monotonic()
        count = len(upload_seconds)

        # Nobody requeues anything: the sweeper finds the rows whose queueing timed out.
        all_done, _ = wait_for_all_done_then_healthy(
            signed_in_client, unfinished, since=thawed, what="every image ready and every email sent", slack_seconds=30
        )
        ordered = sorted(upload_seconds)
        print(
            f"frozen {FROZEN_SECONDS} s, {count} uploads: longest {ordered[-1]:.2f} s, "
            f"median {ordered[count // 2]:.2f} s; all done {all_done:.1f} s after the thaw"
        )

        assert max(upload_seconds) < UPLOAD_MAX_SECONDS, upload_seconds
        assert Image.objects.filter(status=Image.Status.READY).count() == count
        assert all(image.thumbnails.count() == 2 for image in Image.objects.all())
        assert len(smtp_server.wait_for_messages(count)) == count
        assert_no_process_exited(worker)
