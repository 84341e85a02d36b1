"""The demo's images on S3: uploads and thumbnails as objects in a moto bucket (fixtures: the top conftest.py)."""

from __future__ import annotations

import html
import re
import urllib.request

import pytest
from django.urls import reverse

from files.models import StoredFile
from media_tasks import jobs
from media_tasks.models import Image
from tests.support.s3 import BUCKET, object_exists, object_keys


@pytest.mark.django_db
def test_an_upload_stores_its_original_as_an_object_in_the_bucket(
    signed_in_client, user, jpeg_upload, s3_media, s3_client, django_capture_on_commit_callbacks
):
    upload_bytes = jpeg_upload.read()
    jpeg_upload.seek(0)

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(reverse("upload"), {"file": jpeg_upload})

    assert response.status_code == 302
    image = Image.objects.get(owner=user)
    assert image.original.name == f"originals/{user.pk}/{image.token}"
    assert object_keys(s3_client) == [image.original.name]
    stored = s3_client.get_object(Bucket=BUCKET, Key=image.original.name)
    assert stored["Body"].read() == upload_bytes
    assert stored["CacheControl"] == "private, max-age=86400"
    assert not StoredFile.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_puts_three_thumbnails_in_the_bucket_and_deletes_the_original(
    signed_in_client, user, jpeg_upload, s3_media, s3_env, s3_client, run_worker
):
    signed_in_client.post(reverse("upload"), {"file": jpeg_upload})
    original = Image.objects.get(owner=user).original.name
    assert object_exists(s3_client, original)

    # The worker's own settings choose S3 from its environment, as on a worker dyno.
    output = run_worker("default", extra_env=s3_env)

    image = Image.objects.get(owner=user)
    assert image.status == Image.Status.READY, output.stdout + output.stderr
    # The 1200 px upload: a thumbnail at its own size instead of 1600, then 800 and 400.
    thumbnail_keys = sorted(thumb.file.name for thumb in image.thumbnails.all())
    assert thumbnail_keys == [f"thumbnails/{user.pk}/{image.token}-{size}.webp" for size in (1200, 400, 800)]
    assert object_keys(s3_client) == thumbnail_keys
    assert image.original.name == ""
    assert not object_exists(s3_client, original)
    assert not StoredFile.objects.exists()


@pytest.mark.django_db
def test_the_gallery_shows_a_ready_image_by_a_signed_bucket_url_that_serves_the_webp(
    signed_in_client, user, jpeg_upload, s3_media, s3_endpoint, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        signed_in_client.post(reverse("upload"), {"file": jpeg_upload})
    image = Image.objects.get(owner=user)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.make_thumbnails(image.id)
    image.refresh_from_db()
    assert image.status == Image.Status.READY

    page = signed_in_client.get(reverse("gallery")).content.decode()

    url = html.unescape(re.search(r'<img src="([^"]+)"', page).group(1))
    smallest = image.thumbnails.get(size=400).file.name
    assert url.startswith(f"{s3_endpoint}/{BUCKET}/{smallest}?")
    assert "X-Amz-Signature=" in url or "Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a URL on the local moto server
        assert response.status == 200
        # Given by the worker: Python 3.11's mimetypes would not know .webp without the system's table.
        assert response.headers["Content-Type"] == "image/webp"
        content = response.read()
        assert content[:4] == b"RIFF" and content[8:12] == b"WEBP"
