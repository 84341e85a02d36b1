"""What a person sees in the gallery while the workers run: live statuses, retry, resend."""

from __future__ import annotations

import json

import django_rq
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from emails.models import OutgoingEmail
from media_tasks.models import Image, Thumbnail
from media_tasks.tests.support import stored_failed_image

pytestmark = pytest.mark.django_db


def ready_image(owner) -> Image:
    image = Image.objects.create(owner=owner, token="g" * 32, original="", status=Image.Status.READY, width=1600)
    for size, height in ((1600, 1067), (800, 533), (400, 267)):
        thumb = Thumbnail(image=image, size=size, width=size, height=height)
        thumb.file.save(f"thumbnails/{owner.pk}/{'g' * 32}-{size}.jpg", ContentFile(b"\xff\xd8\xff"), save=False)
        thumb.save()
    return image


def test_updates_give_the_current_markup_of_each_image_asked_for(signed_in_client, user):
    image = ready_image(user)

    response = signed_in_client.get(reverse("image_updates"), {"ids": str(image.pk)})

    fragment = json.loads(response.content)["images"][str(image.pk)]
    assert 'data-status="ready"' in fragment
    assert 'width="400" height="267"' in fragment
    assert 'loading="lazy"' in fragment
    assert "-400.jpg 400w" in fragment and "-800.jpg 800w" in fragment and "-1600.jpg 1600w" in fragment


def test_updates_never_reveal_other_peoples_images(signed_in_client, django_user_model):
    other = django_user_model.objects.create_user(email="eve@example.com", password="x-long-passphrase-42")
    theirs = ready_image(other)

    response = signed_in_client.get(reverse("image_updates"), {"ids": str(theirs.pk)})

    assert json.loads(response.content) == {"images": {}}


def test_updates_refuse_ids_that_are_not_numbers(signed_in_client):
    assert signed_in_client.get(reverse("image_updates"), {"ids": "1,drop table"}).status_code == 400


def test_gallery_marks_the_images_its_script_follows_until_they_are_final(signed_in_client, user):
    # The script also uploads, so it is always there; it asks for updates only while a card is
    # pending or processing (the browser test watches it stop).
    page = signed_in_client.get(reverse("gallery")).content.decode()
    assert "gallery.js" in page
    assert 'data-status="pending"' not in page

    Image.objects.create(owner=user, token="p" * 32, original="originals/x", original_name="wait.jpg")
    page = signed_in_client.get(reverse("gallery")).content.decode()
    assert "gallery.js" in page
    assert 'data-status="pending"' in page
    assert "Queued" in page


def test_owner_can_retry_a_failed_image(signed_in_client, user, django_capture_on_commit_callbacks):
    image = stored_failed_image(user)
    page = signed_in_client.get(reverse("gallery")).content.decode()
    assert "Try again" in page and "Simulated earlier failure." in page

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(reverse("image_retry", args=[image.pk]), follow=True)

    assert "Trying “broken-before.jpg” again." in response.content.decode()
    image.refresh_from_db()
    assert image.status == Image.Status.PENDING
    assert django_rq.get_queue("default").get_job_ids() == [f"image-{image.pk}"]


def test_nobody_else_can_retry_your_image(client, user, django_user_model):
    image = stored_failed_image(user)
    intruder = django_user_model.objects.create_user(email="eve@example.com", password="x-long-passphrase-42")
    client.force_login(intruder)

    assert client.post(reverse("image_retry", args=[image.pk])).status_code == 404


def test_unconfirmed_user_can_resend_the_link_a_few_times(
    client, django_user_model, django_capture_on_commit_callbacks
):
    unconfirmed = django_user_model.objects.create_user(email="una@example.com", password="u-long-passphrase-42")
    client.force_login(unconfirmed)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            response = client.post(reverse("resend_confirmation"), follow=True)
    blocked = client.post(reverse("resend_confirmation"))

    assert "A new confirmation email is on its way" in response.content.decode()
    assert OutgoingEmail.objects.filter(to=unconfirmed.email).count() == 3
    assert blocked.status_code == 429
