"""Through a real Redis and real `manage.py rqworker` processes, as on a worker dyno."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from files.models import StoredFile
from media_tasks.models import Image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def user(django_user_model):
    """Ada, with her address confirmed: uploads need one."""
    return django_user_model.objects.create_user(
        email="ada@example.com", password="a-long-passphrase-42", email_confirmed_at=timezone.now()
    )


def test_uploaded_image_gets_thumbnails_from_a_separate_worker(signed_in_client, user, jpeg_upload, run_worker):
    signed_in_client.post(reverse("upload"), {"file": jpeg_upload})
    image = Image.objects.get(owner=user)
    assert image.status == Image.Status.PENDING

    output = run_worker("high", "default")

    image.refresh_from_db()
    assert image.status == Image.Status.READY, output.stdout + output.stderr
    page = signed_in_client.get(reverse("gallery")).content.decode()
    thumbnail_url = re.search(r'<img src="([^"]+)"', page).group(1)
    response = signed_in_client.get(thumbnail_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    content = b"".join(response.streaming_content)
    assert content[:4] == b"RIFF" and content[8:12] == b"WEBP"


def test_signup_email_arrives_by_smtp_its_link_confirms_and_then_grace_logs_in_and_uploads(
    client, smtp_server, run_worker, jpeg_upload
):
    client.post(reverse("signup"), {"email": "grace@example.com", "password": "correct-horse-battery"})

    run_worker("high", "default", extra_env=smtp_server.env)

    [message] = smtp_server.wait_for_messages(1)
    assert message["To"] == "grace@example.com"
    body = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https://testserver(/confirm/\S+/)", body).group(1)
    response = client.get(link)
    assert response.status_code == 200
    assert User.objects.get(email="grace@example.com").email_confirmed
    logged_in = client.post(reverse("login"), {"username": "grace@example.com", "password": "correct-horse-battery"})
    assert logged_in.status_code == 302
    assert client.post(reverse("upload"), {"file": jpeg_upload}).status_code == 302
    assert Image.objects.filter(owner__email="grace@example.com").count() == 1


def test_a_job_whose_row_is_gone_ends_quietly_in_the_worker(signed_in_client, user, jpeg_upload, run_worker):
    signed_in_client.post(reverse("upload"), {"file": jpeg_upload})
    Image.objects.all().delete()

    output = run_worker("default")

    assert "is gone; no thumbnails to make" in output.stdout + output.stderr
    assert "Traceback" not in output.stdout + output.stderr


def test_web_and_worker_share_no_disk(signed_in_client, user, jpeg_upload, run_worker, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "web-media"
    worker_dir = tmp_path / "worker-dyno"
    worker_dir.mkdir()
    signed_in_client.post(reverse("upload"), {"file": jpeg_upload})

    run_worker("default", cwd=worker_dir, extra_env={"MEDIA_ROOT": str(tmp_path / "worker-media")})

    image = Image.objects.get(owner=user)
    assert image.status == Image.Status.READY
    assert image.thumbnails.count() == 3
    assert not (tmp_path / "web-media").exists()
    assert not (tmp_path / "worker-media").exists()
    assert list(worker_dir.iterdir()) == []


def test_the_original_is_discarded_once_thumbnails_exist(signed_in_client, user, jpeg_upload, run_worker):
    signed_in_client.post(reverse("upload"), {"file": jpeg_upload})
    original = Image.objects.get(owner=user).original.name

    run_worker("default")

    image = Image.objects.get(owner=user)
    assert image.original.name == ""
    assert not StoredFile.objects.filter(name=original).exists()
    assert StoredFile.objects.filter(name__startswith="thumbnails/").count() == 3


def test_the_original_is_kept_when_asked(signed_in_client, user, jpeg_upload, run_worker):
    signed_in_client.post(reverse("upload"), {"file": jpeg_upload})
    original = Image.objects.get(owner=user).original.name

    run_worker("default", extra_env={"KEEP_ORIGINAL_UPLOADS": "1"})

    assert Image.objects.get(owner=user).original.name == original
    assert StoredFile.objects.filter(name=original).exists()
