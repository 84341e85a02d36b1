"""The thumbnail job called directly with ids, as a worker would call it."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts import jobs as account_jobs
from accounts.models import User
from media_tasks import jobs
from media_tasks.models import Image
from tests.support import images

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


def test_cleanup_of_an_unconfirmed_account_deletes_its_images_and_their_files(
    django_user_model, settings, django_capture_on_commit_callbacks
):
    settings.UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS = 7
    stale = django_user_model.objects.create_user(email="stale@example.com", password="p-long-passphrase-1")
    django_user_model.objects.filter(pk=stale.pk).update(date_joined=timezone.now() - timedelta(days=8))
    settings.KEEP_ORIGINAL_UPLOADS = True
    stale_image = stored_image(stale, images.jpeg_bytes(500, 400))
    jobs.make_thumbnails(stale_image.id)
    stored_names = [stale_image.original.name, *stale_image.thumbnails.values_list("file", flat=True)]
    assert all(default_storage.exists(name) for name in stored_names)

    with django_capture_on_commit_callbacks(execute=True):
        assert account_jobs.delete_unconfirmed_accounts() == 1

    assert not Image.objects.filter(pk=stale_image.pk).exists()
    assert not any(default_storage.exists(name) for name in stored_names)
