"""The demo's upload while Redis hangs: answered within about a second, the image stored and queued later."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from media_tasks.models import Image
from queues import redis_client
from tests.support import images


@pytest.mark.django_db(transaction=True)
def test_an_upload_while_redis_hangs_answers_in_seconds_not_after_retries(signed_in_client, user, hung_redis):
    user.email_confirmed_at = timezone.now()
    user.save()
    upload = SimpleUploadedFile("late.jpg", images.jpeg_bytes(800, 600), content_type="image/jpeg")

    started = time.monotonic()
    response = signed_in_client.post(reverse("upload"), {"file": upload})
    elapsed = time.monotonic() - started

    # Stored and shown as queued; the sweeper queues its job once Redis answers again.
    assert response.status_code == 302
    assert Image.objects.get(original_name="late.jpg").status == Image.Status.PENDING
    # Two Redis calls (rate limit, enqueue) of at most TIMEOUT_SECONDS each, plus the upload itself,
    # with slack for a busy machine: redis-py's default retries made such a request wait 10 s or more.
    assert elapsed < 2 * redis_client.TIMEOUT_SECONDS + 3.0, elapsed
