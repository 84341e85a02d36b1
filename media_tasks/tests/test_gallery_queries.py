"""The gallery makes as many database queries for 200 images as for 10: none per image.

media_tasks/bench/gallery.py times the same page; this test keeps its query count from growing with it.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from media_tasks.models import Image, Thumbnail

pytestmark = pytest.mark.django_db

# Every branch of the image template: thumbnails, placeholders, and a failure with its retry form.
STATUSES = (Image.Status.READY, Image.Status.PENDING, Image.Status.PROCESSING, Image.Status.FAILED)
SIZES = (1600, 800, 400)


def add_images(owner, count: int, start: int = 0) -> None:
    images = Image.objects.bulk_create(
        Image(
            owner=owner,
            token=f"{n:032x}",
            original_name=f"photo-{n}.jpg",
            original=f"originals/{owner.pk}/{n:032x}",
            width=1200,
            height=800,
            status=STATUSES[n % len(STATUSES)],
            failure_reason="The image file is damaged or incomplete."
            if STATUSES[n % len(STATUSES)] == "failed"
            else "",
        )
        for n in range(start, start + count)
    )
    Thumbnail.objects.bulk_create(
        Thumbnail(
            image=image,
            size=size,
            file=f"thumbnails/{owner.pk}/{image.token}-{size}.jpg",
            width=size,
            height=size * 2 // 3,
        )
        for image in images
        if image.status == Image.Status.READY
        for size in SIZES
    )


def gallery(client) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("gallery"))
    assert response.status_code == 200
    return response.content.decode(), [query["sql"] for query in captured.captured_queries]


def test_the_gallery_query_count_does_not_grow_with_the_number_of_images(signed_in_client, user):
    add_images(user, 10)
    page_10, queries_10 = gallery(signed_in_client)
    add_images(user, 190, start=10)
    page_200, queries_200 = gallery(signed_in_client)

    assert page_10.count('class="image"') == 10
    assert page_200.count('class="image"') == 200
    assert page_200.count("srcset=") == 50  # every ready image shows its thumbnails
    assert len(queries_200) == len(queries_10), "\n".join(queries_200)
