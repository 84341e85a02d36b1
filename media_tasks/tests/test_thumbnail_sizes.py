"""One thumbnail per distinct size: never a second copy of the same pixels, never a width twice in srcset.

Pictures are never enlarged, so every size at or above a picture's longest edge would come out
at the picture's own size: it is made and stored once, under that size.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from media_tasks import rendering
from media_tasks.models import Image, Thumbnail
from tests.support import images

SIZES = (1600, 800, 400)


def srcset_widths(page: str) -> list[int]:
    [srcset] = re.findall(r'srcset="([^"]*)"', page)
    return [int(width) for width in re.findall(r" (\d+)w(?:,|$)", srcset)]


def upload(client, width: int, height: int) -> Image:
    data = images.jpeg_bytes(width, height)
    response = client.post(reverse("upload"), {"file": SimpleUploadedFile("p.jpg", data, content_type="image/jpeg")})
    assert response.status_code == 302
    return Image.objects.latest("id")


@pytest.mark.parametrize(
    ("width", "height", "made"),
    [
        (500, 300, [(500, 500, 300), (400, 400, 240)]),
        (800, 600, [(800, 800, 600), (400, 400, 300)]),
        (300, 200, [(300, 300, 200)]),
        (1000, 500, [(1000, 1000, 500), (800, 800, 400), (400, 400, 200)]),
        (2000, 1000, [(1600, 1600, 800), (800, 800, 400), (400, 400, 200)]),
        (300, 1200, [(1200, 300, 1200), (800, 200, 800), (400, 100, 400)]),
    ],
)
def test_sizes_a_picture_does_not_reach_are_made_once_at_its_own_size(width, height, made):
    rendered = rendering.render_thumbnails(io.BytesIO(images.jpeg_bytes(width, height)), SIZES)

    assert [(t.size, t.width, t.height) for t in rendered] == made
    assert len({t.content for t in rendered}) == len(rendered)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_500_px_upload_is_stored_as_two_thumbnails_and_its_srcset_names_each_width_once(signed_in_client, run_worker):
    image = upload(signed_in_client, 500, 300)

    run_worker("default")

    image.refresh_from_db()
    assert image.status == Image.Status.READY
    stored = sorted((t.size, t.width, t.height) for t in image.thumbnails.all())
    assert stored == [(400, 400, 240), (500, 500, 300)]
    assert sorted(name.rsplit("-", 1)[1] for name in image.thumbnails.values_list("file", flat=True)) == [
        "400.webp",
        "500.webp",
    ]
    page = signed_in_client.get(reverse("gallery")).content.decode()
    assert srcset_widths(page) == [400, 500]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_2000_px_upload_still_gets_all_three_sizes(signed_in_client, run_worker):
    image = upload(signed_in_client, 2000, 1500)

    run_worker("default")

    image.refresh_from_db()
    assert sorted(image.thumbnails.values_list("size", flat=True)) == [400, 800, 1600]
    page = signed_in_client.get(reverse("gallery")).content.decode()
    assert srcset_widths(page) == [400, 800, 1600]


@pytest.mark.django_db
def test_images_stored_before_with_identical_copies_list_each_width_once(signed_in_client, user):
    # Made before thumbnails were deduplicated: 1600 and 800 are both the 500 px picture.
    image = Image.objects.create(owner=user, token="d" * 32, status=Image.Status.READY, width=500, height=300)
    for size, width, height in ((1600, 500, 300), (800, 500, 300), (400, 400, 240)):
        thumb = Thumbnail(image=image, size=size, width=width, height=height)
        thumb.file.save(f"thumbnails/{user.pk}/{'d' * 32}-{size}.jpg", ContentFile(b"\xff\xd8\xff"), save=False)
        thumb.save()

    page = signed_in_client.get(reverse("gallery")).content.decode()

    assert srcset_widths(page) == [400, 500]
    assert 'width="400" height="240"' in page
