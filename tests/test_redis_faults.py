"""What a request costs when Redis misbehaves: a hung Redis must not hold the web for long."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.urls import reverse
from django.utils import timezone

from media_tasks import queues
from media_tasks.models import Image
from project.redis_config import rq_queues
from tests.support import images


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
