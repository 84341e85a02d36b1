"""Media storage that works across dynos: the database by default."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from files.models import StoredFile
from media_tasks.models import Image

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("extension", "content_type"),
    # WebP since issue 15; JPEG and PNG thumbnails made before it keep their names and are still served.
    [("webp", "image/webp"), ("jpg", "image/jpeg"), ("png", "image/png")],
)
def test_thumbnails_are_served_as_images_that_browsers_will_not_sniff(signed_in_client, user, extension, content_type):
    name = default_storage.save(f"thumbnails/{user.pk}/{'d' * 32}-400.{extension}", ContentFile(b"\xff\xd8\xffjpeg"))

    response = signed_in_client.get(default_storage.url(name))

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "max-age" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert b"".join(response.streaming_content) == b"\xff\xd8\xffjpeg"


@pytest.mark.parametrize("path", ["originals/{uid}/" + "e" * 32, "thumbnails/{uid}/x.html", "thumbnails/{uid}/x.svg"])
def test_originals_and_non_image_names_are_never_served(signed_in_client, user, path):
    name = path.format(uid=user.pk)
    StoredFile.objects.create(name=name, content=b"<script>alert(1)</script>", size=25)

    assert signed_in_client.get(reverse("media", args=[name])).status_code == 404


def test_another_users_thumbnail_is_not_served(signed_in_client, django_user_model):
    other = django_user_model.objects.create_user(email="eve@example.com", password="x-long-passphrase-42")
    name = default_storage.save(f"thumbnails/{other.pk}/{'f' * 32}-400.jpg", ContentFile(b"\xff\xd8\xff"))

    assert signed_in_client.get(default_storage.url(name)).status_code == 404


def test_images_survive_in_the_database_not_on_disk(signed_in_client, user, jpeg_upload, settings):
    signed_in_client.post(reverse("upload"), {"file": jpeg_upload})

    image = Image.objects.get(owner=user)
    assert StoredFile.objects.filter(name=image.original.name).exists()
    assert not settings.MEDIA_ROOT.exists()
