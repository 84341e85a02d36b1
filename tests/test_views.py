from __future__ import annotations

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image as PILImage

from accounts.models import User
from accounts.services import user_confirmation_token
from background.models import OutgoingEmail
from media_tasks.models import Image
from tests.support import images

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(django_user_model):
    """Ada, with her address confirmed: uploads need one (tests of the unconfirmed ask for `unconfirmed`)."""
    return django_user_model.objects.create_user(
        email="ada@example.com", password="a-long-passphrase-42", email_confirmed_at=timezone.now()
    )


@pytest.fixture
def unconfirmed(client, django_user_model):
    person = django_user_model.objects.create_user(email="una@example.com", password="u-long-passphrase-42")
    client.force_login(person)
    return person


def queued_job_names(queue: str) -> list[str]:
    return [job.func_name for job in django_rq.get_queue(queue).get_jobs()]


def test_signup_creates_the_account_and_queues_its_email_after_commit(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("signup"), {"email": "grace@example.com", "password": "correct-horse-battery"})
        assert queued_job_names("high") == []  # nothing reaches Redis before the commit
    for callback in callbacks:
        callback()

    assert response.status_code == 302
    assert User.objects.filter(email="grace@example.com", email_confirmed_at=None).exists()
    assert queued_job_names("high") == ["background.jobs.send_email"]
    email = OutgoingEmail.objects.get(to="grace@example.com")
    assert email.to == "grace@example.com"
    assert django_rq.get_queue("high").get_jobs()[0].args == [email.id]


def test_signup_sends_you_to_check_your_inbox_without_logging_in(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("signup"), {"email": "grace@example.com", "password": "correct-horse-battery"}, follow=True
        )

    assert response.redirect_chain == [(reverse("signup_sent"), 302)]
    assert "Check your inbox" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("gallery")).status_code == 302  # to the login page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-address", "password": "correct-horse-battery"}, "Enter a valid email address."),
        ({"email": "grace@example.com", "password": "123"}, "This password is too short."),
    ],
)
def test_bad_signup_shows_the_error_and_creates_nothing(client, user, data, message):
    response = client.post(reverse("signup"), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert User.objects.count() == 1
    assert queued_job_names("high") == []


def test_confirmation_link_confirms_the_address_and_offers_to_log_in(client, django_user_model):
    person = django_user_model.objects.create_user(email="una@example.com", password="u-long-passphrase-42")

    response = client.get(reverse("confirm_email", args=[user_confirmation_token(user=person)]))

    assert response.status_code == 200
    assert "una@example.com is confirmed" in response.content.decode()
    assert f'href="{reverse("login")}?next=/"' in response.content.decode()
    assert "_auth_user_id" not in client.session  # the link alone does not log in
    person.refresh_from_db()
    assert person.email_confirmed


def test_expired_confirmation_link_is_refused(client, unconfirmed, settings):
    token = user_confirmation_token(user=unconfirmed)
    settings.EMAIL_CONFIRMATION_MAX_AGE = -1

    response = client.get(reverse("confirm_email", args=[token]))

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    unconfirmed.refresh_from_db()
    assert not unconfirmed.email_confirmed


def test_tampered_confirmation_link_is_refused(client, unconfirmed):
    token = user_confirmation_token(user=unconfirmed)

    response = client.get(reverse("confirm_email", args=[token[:-2] + "xx"]))

    assert response.status_code == 400
    assert "not valid" in response.content.decode()


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


def test_pages_need_a_signed_in_user(client):
    response = client.get(reverse("gallery"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


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


def test_plain_http_is_redirected_to_https(user):
    from django.test import Client

    response = Client().get(reverse("login"))

    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_oversized_upload_is_dropped_while_it_streams_in(signed_in_client, settings):
    settings.MAX_UPLOAD_BYTES = 64 * 1024
    huge = SimpleUploadedFile("huge.jpg", images.jpeg_bytes(16, 16) + b"\0" * (5 * 1024 * 1024))

    response = signed_in_client.post(reverse("upload"), {"file": huge})

    assert response.status_code == 400
    assert "larger than the 0.0625 MB limit" in response.content.decode()
    assert Image.objects.count() == 0
    assert response.wsgi_request.FILES == {}  # nothing of it was kept, in memory or on disk
