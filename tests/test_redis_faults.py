"""When Redis misbehaves: a hung Redis must not hold the web for long, and a full or frozen one
must stop no process for good nor lose any work.

The full and frozen Redis tests run the Procfile's worker and clock against a redis-server of
their own, with time compressed (tests/support/backend.py): a sweep every 5 s instead of a
minute, retries capped at 4 s instead of 30 s.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.urls import reverse
from django.utils import timezone

from background import queues
from background.models import OutgoingEmail
from background.redis_config import rq_queues
from media_tasks.models import Image
from tests.support import images
from tests.support.backend import COMPRESSED_ENV, SWEEP_SECONDS, compress_health, health, worker_and_clock
from tests.support.processes import Process, wait_until
from tests.support.redis_server import ThrowawayRedis


@pytest.fixture
def hung_redis(settings) -> Iterator[str]:
    """A server that accepts connections and never answers, like a Redis frozen by SIGSTOP."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    settings.RQ_QUEUES = rq_queues(url)
    queues._client.cache_clear()
    try:
        yield url
    finally:
        stop.set()
        thread.join()
        for sock in accepted:
            sock.close()
        listener.close()
        queues._client.cache_clear()


@pytest.mark.django_db(transaction=True)
def test_an_upload_while_redis_hangs_answers_within_about_a_second(signed_in_client, user, hung_redis):
    from django.core.files.uploadedfile import SimpleUploadedFile

    user.email_confirmed_at = timezone.now()
    user.save()
    upload = SimpleUploadedFile("late.jpg", images.jpeg_bytes(800, 600), content_type="image/jpeg")

    started = time.monotonic()
    response = signed_in_client.post(reverse("upload"), {"file": upload})
    elapsed = time.monotonic() - started

    # Stored and shown as queued; the sweeper queues its job once Redis answers again.
    assert response.status_code == 302
    assert Image.objects.get(original_name="late.jpg").status == Image.Status.PENDING
    # Two Redis calls (rate limit, enqueue) of at most TIMEOUT_SECONDS each, plus the upload itself.
    assert elapsed < 2 * queues.TIMEOUT_SECONDS + 1.0, elapsed


# --- A Redis of the test's own, full or frozen, under the Procfile's worker and clock ----------

# Long enough for several of the compressed heartbeat, retry and sweep cycles to pass.
FULL_SECONDS = 30
FROZEN_SECONDS = 30
# Making thumbnails and sending mail for everything queued up, on a busy 2-core machine.
PROCESSING_ALLOWANCE_SECONDS = 30


@pytest.fixture
def own_redis(settings) -> Iterator[ThrowawayRedis]:
    with ThrowawayRedis() as server:
        settings.RQ_QUEUES = rq_queues(server.url)
        queues._client.cache_clear()
        yield server
    queues._client.cache_clear()


@pytest.fixture
def backend_env(worker_env, own_redis, smtp_server, settings) -> dict[str, str]:
    compress_health(settings)
    # The test signs up and uploads far more than a person would in a minute.
    settings.RATE_LIMITS = {scope: (10_000, 60) for scope in settings.RATE_LIMITS}
    return {**worker_env, **COMPRESSED_ENV, **smtp_server.env, "REDIS_URL": own_redis.url}


@pytest.fixture
def confirmed_client(signed_in_client, user):
    user.email_confirmed_at = timezone.now()
    user.save()
    return signed_in_client


def visitor():
    from django.test import Client

    return Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})


def upload_and_sign_up(client, n: int) -> float:
    """One upload and one sign-up, as the web would take them; returns the upload's seconds."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(f"photo-{n}.jpg", images.jpeg_bytes(400, 300), content_type="image/jpeg")
    started = time.monotonic()
    uploaded = client.post(reverse("upload"), {"file": upload})
    elapsed = time.monotonic() - started
    signed_up = visitor().post(reverse("signup"), {"email": f"user-{n}@example.com", "password": "a-long-pass-42x"})
    assert (uploaded.status_code, signed_up.status_code) == (302, 302)
    return elapsed


def unfinished() -> int:
    images_left = Image.objects.exclude(status=Image.Status.READY).count()
    emails_left = OutgoingEmail.objects.exclude(status=OutgoingEmail.Status.SENT).count()
    return images_left + emails_left


def assert_no_process_exited(worker: Process, clock: Process) -> None:
    assert worker.poll() is None, worker.output()[-3000:]
    assert clock.poll() is None, clock.output()[-3000:]
    # The pool's workers rode it out in their own processes: none quit, none was replaced.
    assert "unhandled exception" not in worker.output(), worker.output()[-3000:]
    assert " is dead" not in worker.output(), worker.output()[-3000:]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_full_redis_stops_no_process_and_every_row_is_done_within_two_sweeps_of_freeing_it(
    confirmed_client, own_redis, backend_env, smtp_server
):
    with worker_and_clock(backend_env) as (worker, clock):
        wait_until(lambda: health(confirmed_client)[0] == 200, 60, "a healthy start", every=0.5)

        own_redis.fill()
        full_since = time.monotonic()
        statuses: list[int] = []
        count = 0
        while time.monotonic() - full_since < FULL_SECONDS:
            upload_and_sign_up(confirmed_client, count)
            count += 1
            status, body = health(confirmed_client)
            statuses.append(status)
            assert status == 503 and "redis" in body["failing"], body
            time.sleep(0.5)

        # Nothing could be processed (every write is refused), and /healthz said so throughout.
        assert Image.objects.filter(status=Image.Status.READY).count() == 0
        assert_no_process_exited(worker, clock)

        own_redis.free()
        freed = time.monotonic()
        wait_until(
            lambda: unfinished() == 0,
            2 * SWEEP_SECONDS + PROCESSING_ALLOWANCE_SECONDS,
            "every image ready and every email sent",
            every=0.5,
        )
        all_done = time.monotonic() - freed
        wait_until(lambda: health(confirmed_client)[0] == 200, 30, "/healthz to answer 200 again", every=0.5)
        healthy = time.monotonic() - freed
        print(
            f"full {FULL_SECONDS} s, {count} uploads and sign-ups; "
            f"all done {all_done:.1f} s and 200 {healthy:.1f} s after freeing"
        )

        assert Image.objects.count() == count
        assert len(smtp_server.wait_for_messages(count)) == count
        assert_no_process_exited(worker, clock)
        assert "Redis error OutOfMemoryError" in clock.output()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_frozen_redis_holds_no_upload_over_two_seconds_and_all_is_done_after_it_thaws(
    confirmed_client, own_redis, backend_env, smtp_server
):
    with worker_and_clock(backend_env) as (worker, clock):
        wait_until(lambda: health(confirmed_client)[0] == 200, 60, "a healthy start", every=0.5)

        own_redis.freeze()
        frozen_since = time.monotonic()
        upload_seconds: list[float] = []
        while time.monotonic() - frozen_since < FROZEN_SECONDS:
            upload_seconds.append(upload_and_sign_up(confirmed_client, len(upload_seconds)))
            assert health(confirmed_client)[0] == 503
            time.sleep(0.5)
        own_redis.thaw()
        thawed = time.monotonic()

        wait_until(
            lambda: unfinished() == 0,
            2 * SWEEP_SECONDS + PROCESSING_ALLOWANCE_SECONDS + 30,
            "every image ready and every email sent",
            every=0.5,
        )
        all_done = time.monotonic() - thawed
        wait_until(lambda: health(confirmed_client)[0] == 200, 30, "/healthz to answer 200 again", every=0.5)
        count = len(upload_seconds)
        print(
            f"frozen {FROZEN_SECONDS} s, {count} uploads, longest {max(upload_seconds):.2f} s; "
            f"all done {all_done:.1f} s after the thaw"
        )

        assert max(upload_seconds) < 2, upload_seconds
        assert Image.objects.count() == count
        assert len(smtp_server.wait_for_messages(count)) == count
        assert_no_process_exited(worker, clock)
