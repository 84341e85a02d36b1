"""The demo's pages: the upload form, its checks, and the gallery."""

from __future__ import annotations

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from media_tasks.models import Image
from tests.support import images

pytestmark = pytest.mark.django_db


def queued_job_names(queue: str) -> list[str]:
    return [job.func_name for job in django_rq.get_queue(queue).get_jobs()]


def test_upload_returns_before_thumbnails_exist(
    signed_in_client, user, jpeg_upload, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(reverse("upload"), {"file": jpeg_upload})

    assert response.status_code == 302
    image = Image.objects.get(owner=user)
    assert image.status == Image.Status.PENDING
    assert image.thumbnails.count() == 0
    assert queued_job_names("default") == ["media_tasks.jobs.make_thumbnails"]
    assert django_rq.get_queue("default").get_jobs()[0].args == [image.id]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jpg", b"", "The submitted file is empty."),
        ("notes.jpg", b"this is plain text, not a JPEG", "not an image we can read"),
        ("truncated.jpg", images.jpeg_bytes(300, 200)[:200], "damaged or incomplete"),
        ("half.jpg", images.jpeg_bytes(1200, 900)[:4000], "damaged or incomplete"),
        ("drawing.svg", images.SVG_PLAIN, "not an image we can read"),
        ("script.svg", images.SVG_SCRIPT, "not an image we can read"),
        ("page.html", images.HTML_PAGE, "not an image we can read"),
        ("paper.pdf", images.PDF_DOCUMENT, "not an image we can read"),
        ("pixel.png", images.encode(PILImage.new("RGB", (1, 1)), "PNG"), "at least 16 pixels"),
        ("bomb.png", images.png_bomb(30000, 30000), "more than 60 megapixels"),
        ("polyglot.jpg", images.jpeg_bytes(400, 300) + images.HTML_PAGE, "web page content hidden"),
    ],
    ids=["empty", "text", "truncated", "half", "svg", "svg-script", "html", "pdf", "one-pixel", "bomb", "polyglot"],
)
def test_bad_upload_shows_the_error_and_stores_nothing(
    signed_in_client, settings, name, content, message, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(reverse("upload"), {"file": SimpleUploadedFile(name, content)})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Image.objects.count() == 0
    assert queued_job_names("default") == []
    assert not (settings.MEDIA_ROOT / "originals").exists()


def test_upload_without_a_file_is_a_form_error(signed_in_client):
    response = signed_in_client.post(reverse("upload"), {})

    assert response.status_code == 400
    assert "Choose an image to upload." in response.content.decode()


def test_upload_over_the_size_cap_is_refused(signed_in_client, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    big = SimpleUploadedFile("big.jpg", images.jpeg_bytes(400, 400))

    response = signed_in_client.post(reverse("upload"), {"file": big})

    assert response.status_code == 400
    assert "larger than the" in response.content.decode()
    assert Image.objects.count() == 0


def test_gallery_shows_only_your_own_images(signed_in_client, user, django_user_model):
    other = django_user_model.objects.create_user(email="eve@example.com", password="x-long-passphrase-42")
    Image.objects.create(owner=user, token="a" * 32, original="originals/x", original_name="mine.jpg")
    Image.objects.create(owner=other, token="b" * 32, original="originals/y", original_name="theirs.jpg")

    page = signed_in_client.get(reverse("gallery")).content.decode()

    assert "mine.jpg" in page
    assert "theirs.jpg" not in page


def test_gallery_shows_a_failed_image_with_its_reason(signed_in_client, user):
    Image.objects.create(
        owner=user, token="c" * 32, original="originals/z", status=Image.Status.FAILED, failure_reason="Broken data."
    )

    page = signed_in_client.get(reverse("gallery")).content.decode()

    assert "Failed" in page
    assert "Broken data." in page


def test_a_visitor_sees_what_the_demo_shows_and_the_way_in(client):
    page = client.get(reverse("gallery")).content.decode()

    assert "Watch a worker make its thumbnails" in page
    assert f'href="{reverse("signup")}"' in page and f'href="{reverse("login")}"' in page
    assert 'action="/upload/"' not in page


def test_the_other_pages_need_a_signed_in_user(client):
    for url in (reverse("image_detail", args=[1]), reverse("image_delete_confirm", args=[1])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert client.post(reverse("upload")).status_code == 302


def test_upload_refuses_get(signed_in_client):
    assert signed_in_client.get(reverse("upload")).status_code == 405


def test_unconfirmed_user_sees_that_uploads_need_a_confirmed_address(client, unconfirmed):
    page = client.get(reverse("gallery")).content.decode()

    assert "Please confirm your email address" in page
    assert "Uploads need a confirmed email address" in page
    assert reverse("resend_confirmation") in page
    assert 'action="/upload/"' not in page


def test_unconfirmed_user_cannot_upload(client, unconfirmed, jpeg_upload, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("upload"), {"file": jpeg_upload})

    assert response.status_code == 403
    assert "That file was not uploaded" in response.content.decode()
    assert "Uploads need a confirmed email address" in response.content.decode()
    assert Image.objects.count() == 0
    assert queued_job_names("default") == []
    assert not (settings.MEDIA_ROOT / "originals").exists()


def test_confirmed_user_sees_the_upload_form_and_no_banner(signed_in_client):
    page = signed_in_client.get(reverse("gallery")).content.decode()

    assert 'action="/upload/"' in page
    assert "Please confirm" not in page


def test_oversized_upload_is_dropped_while_it_streams_in(signed_in_client, settings):
    settings.MAX_UPLOAD_BYTES = 64 * 1024
    huge = SimpleUploadedFile("huge.jpg", images.jpeg_bytes(16, 16) + b"\0" * (5 * 1024 * 1024))

    response = signed_in_client.post(reverse("upload"), {"file": huge})

    assert response.status_code == 400
    assert "larger than the 0.0625 MB limit" in response.content.decode()
    assert Image.objects.count() == 0
    assert response.wsgi_request.FILES == {}  # nothing of it was kept, in memory or on disk
