"""The image page: the largest thumbnail, its dimensions, status, attempts and, if it failed, why."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from media_tasks.models import Image, Thumbnail
from tests.support import images

pytestmark = pytest.mark.django_db


def test_the_image_page_shows_the_largest_thumbnail_its_sizes_status_and_attempts(signed_in_client, user):
    image = Image.objects.create(
        owner=user, token="d" * 32, original_name="harbour.jpg", status=Image.Status.READY, width=3000, height=2000
    )
    Image.objects.filter(pk=image.pk).update(attempts=2)
    for size, height in ((1600, 1067), (800, 533), (400, 267)):
        thumb = Thumbnail(image=image, size=size, width=size, height=height)
        thumb.file.save(f"thumbnails/{user.pk}/{'d' * 32}-{size}.jpg", ContentFile(b"\xff\xd8\xff"), save=False)
        thumb.save()

    page = signed_in_client.get(reverse("image_detail", args=[image.pk])).content.decode()

    assert '-1600.jpg" width="1600" height="1067" alt="harbour.jpg"' in page
    assert "3000 × 2000 px" in page
    assert "400 × 267, 800 × 533, 1600 × 1067 px" in page
    assert "<dt>Attempts</dt><dd>2</dd>" in page
    assert "Ready" in page and "Why it failed" not in page


def test_a_failed_image_says_why_in_words_and_offers_another_try(signed_in_client, user):
    image = Image.objects.create(
        owner=user,
        token="f" * 32,
        original="originals/x",
        original_name="broken.jpg",
        status=Image.Status.FAILED,
        failure_reason="The image file is damaged or incomplete.",
    )

    page = signed_in_client.get(reverse("image_detail", args=[image.pk])).content.decode()

    assert "Why it failed" in page and "The image file is damaged or incomplete." in page
    assert reverse("image_retry", args=[image.pk]) in page


def test_nobody_sees_someone_elses_image_page(signed_in_client, django_user_model):
    other = django_user_model.objects.create_user(email="eve@example.com", password="e-long-passphrase-42")
    theirs = Image.objects.create(owner=other, token="e" * 32, original_name="private.jpg")

    assert signed_in_client.get(reverse("image_detail", args=[theirs.pk])).status_code == 404


def test_the_scripts_upload_gets_json_the_new_card_or_the_reasons(signed_in_client, user):
    good = SimpleUploadedFile("one.jpg", images.jpeg_bytes(600, 400), content_type="image/jpeg")
    bad = SimpleUploadedFile("two.jpg", b"not an image", content_type="image/jpeg")

    created = signed_in_client.post(reverse("upload"), {"file": good}, headers={"Accept": "application/json"})
    refused = signed_in_client.post(reverse("upload"), {"file": bad}, headers={"Accept": "application/json"})

    assert created.status_code == 201
    body = json.loads(created.content)
    assert f'id="image-{body["id"]}"' in body["html"] and 'data-status="pending"' in body["html"]
    assert refused.status_code == 400
    assert "not an image we can read" in " ".join(json.loads(refused.content)["errors"])
    # The script shows its own progress and status: no message is left for the next page.
    page = signed_in_client.get(reverse("gallery")).content.decode()
    assert "is uploaded" not in page


@pytest.mark.parametrize("status", [Image.Status.PENDING, Image.Status.PROCESSING])
def test_a_page_whose_image_is_in_progress_follows_it_through_the_galleries_updates(signed_in_client, user, status):
    image = Image.objects.create(owner=user, token="a" * 32, original_name="slow.jpg", status=status)

    page = signed_in_client.get(reverse("image_detail", args=[image.pk])).content.decode()
    updates = json.loads(signed_in_client.get(reverse("image_updates"), {"ids": str(image.pk)}).content)

    # What image_page.js reads: the image, its status and where to ask; then the status it is told.
    assert f'id="image-page" data-id="{image.pk}" data-status="{status}"' in page
    assert f'data-updates-url="{reverse("image_updates")}"' in page
    assert "media_tasks/image_page" in page and 'aria-live="polite"' in page
    assert f'data-status="{status}"' in updates["images"][str(image.pk)]


def test_a_page_whose_image_is_final_has_nothing_to_follow(signed_in_client, user):
    image = Image.objects.create(
        owner=user, token="b" * 32, original_name="done.jpg", status=Image.Status.FAILED, failure_reason="Damaged."
    )

    page = signed_in_client.get(reverse("image_detail", args=[image.pk])).content.decode()

    assert 'data-status="failed"' in page and "media_tasks/image_page" not in page
