"""Job functions called directly with ids, as a worker would call them."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts import jobs as account_jobs
from accounts.models import User
from background import jobs as background_jobs
from background.models import OutgoingEmail
from media_tasks import jobs
from media_tasks.models import Image
from tests.support import images, outbox

pytestmark = pytest.mark.django_db


def stored_image(owner: User, data: bytes, token: str = "t" * 32) -> Image:
    image = Image(owner=owner, token=token, original_name="photo.jpg")
    image.original.save(token, ContentFile(data), save=False)
    image.save()
    return image


def test_make_thumbnails_makes_every_size_and_marks_the_image_ready(user, settings):
    image = stored_image(user, images.jpeg_bytes(3000, 2000))

    jobs.make_thumbnails(image.id)

    image.refresh_from_db()
    assert image.status == Image.Status.READY
    sizes = {t.size: (t.width, t.height) for t in image.thumbnails.all()}
    assert sizes == {1600: (1600, 1067), 800: (800, 533), 400: (400, 267)}
    for thumb in image.thumbnails.all():
        with thumb.file.open("rb") as f:
            assert images.open_bytes(f.read()).size == (thumb.width, thumb.height)


def test_thumbnails_are_upright_whatever_the_exif_orientation(user):
    # Orientation 6 means "rotate 90° clockwise to display": a wide stored image shows tall.
    image = stored_image(user, images.jpeg_bytes(1200, 600, orientation=6))

    jobs.make_thumbnails(image.id)

    thumb = Image.objects.get(pk=image.pk).thumbnails.get(size=400)
    with thumb.file.open("rb") as f:
        shown = images.open_bytes(f.read())
    assert (thumb.width, thumb.height) == (200, 400)
    assert shown.size == (200, 400)
    assert "exif" not in shown.info or 0x0112 not in shown.getexif()
    top_pixel = shown.convert("RGB").getpixel((100, 10))
    assert top_pixel[0] > 200 and top_pixel[2] < 60  # the red half is now on top


def test_running_the_thumbnail_job_twice_keeps_one_set(user):
    image = stored_image(user, images.jpeg_bytes(900, 900))

    jobs.make_thumbnails(image.id)
    jobs.make_thumbnails(image.id)

    assert Image.objects.get(pk=image.pk).thumbnails.count() == 3


def test_corrupt_image_data_marks_the_image_failed_with_a_reason(user):
    whole = images.jpeg_bytes(2000, 1500)
    image = stored_image(user, whole[: len(whole) // 3])

    jobs.make_thumbnails(image.id)

    image.refresh_from_db()
    assert image.status == Image.Status.FAILED
    assert "damaged" in image.failure_reason
    assert image.thumbnails.count() == 0


def test_thumbnail_job_for_a_deleted_image_ends_quietly(caplog):
    with caplog.at_level(logging.INFO, logger="media_tasks.jobs"):
        jobs.make_thumbnails(987654)

    assert "image 987654 is gone" in caplog.text


def queued_confirmation(user: User, site_url: str = "https://example.herokuapp.com/") -> OutgoingEmail:
    return outbox.queue_confirmation(user, site_url)


def test_email_job_sends_the_confirmation_link_and_records_it(user):
    email = queued_confirmation(user)

    background_jobs.send_email(email.id)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    assert message.subject == "Confirm your email address for Media tasks"
    assert "https://example.herokuapp.com/confirm/" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert 'href="https://example.herokuapp.com/confirm/' in html
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutgoingEmail.Status.SENT, 1)
    assert email.sent_at is not None


def test_every_send_of_an_outbox_row_carries_the_same_message_id(user):
    email = queued_confirmation(user)

    background_jobs.send_email(email.id)
    OutgoingEmail.objects.filter(pk=email.pk).update(status=OutgoingEmail.Status.PENDING)  # as after a lost commit
    background_jobs.send_email(email.id)

    first, second = (message.message()["Message-ID"] for message in mail.outbox)
    assert first == second
    assert first.startswith(f"<outgoingemail-{email.pk}-")


def test_running_the_email_job_twice_sends_one_email(user):
    email = queued_confirmation(user)

    background_jobs.send_email(email.id)
    background_jobs.send_email(email.id)

    assert len(mail.outbox) == 1


def test_confirmation_email_uses_site_url_when_set(user, settings):
    settings.SITE_URL = "https://photos.example.com"

    background_jobs.send_email(queued_confirmation(user, "https://attacker.example/").id)

    assert "https://photos.example.com/confirm/" in mail.outbox[0].body


def test_email_job_for_a_deleted_row_ends_quietly(caplog):
    with caplog.at_level(logging.INFO, logger="background.jobs"):
        background_jobs.send_email(424242)

    assert mail.outbox == []
    assert "email 424242 is gone" in caplog.text


def test_cleanup_deletes_only_old_unconfirmed_accounts(
    django_user_model, settings, user, django_capture_on_commit_callbacks
):
    settings.UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS = 7
    old = timezone.now() - timedelta(days=8)
    stale = django_user_model.objects.create_user(email="stale@example.com", password="p-long-passphrase-1")
    confirmed = django_user_model.objects.create_user(
        email="kept@example.com", password="p-long-passphrase-2", email_confirmed_at=old
    )
    staff = django_user_model.objects.create_user(
        email="ops@example.com", password="p-long-passphrase-3", is_staff=True
    )
    django_user_model.objects.filter(pk__in=[stale.pk, confirmed.pk, staff.pk]).update(date_joined=old)
    settings.KEEP_ORIGINAL_UPLOADS = True
    stale_image = stored_image(stale, images.jpeg_bytes(500, 400))
    jobs.make_thumbnails(stale_image.id)
    stored_names = [stale_image.original.name, *stale_image.thumbnails.values_list("file", flat=True)]
    assert all(default_storage.exists(name) for name in stored_names)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = account_jobs.delete_unconfirmed_accounts()

    assert deleted == 1
    remaining = set(django_user_model.objects.values_list("email", flat=True))
    assert remaining == {"ada@example.com", "kept@example.com", "ops@example.com"}
    assert not Image.objects.filter(pk=stale_image.pk).exists()
    assert not any(default_storage.exists(name) for name in stored_names)
