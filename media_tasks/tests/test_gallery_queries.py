"""The gallery makes as many database queries for 200 images as for 10: none per image.

media_tasks/bench/gallery.py times the same page, made of the same rows (its add_images: every
branch of the image template, thumbnails, placeholders, a failure with its retry form); this test
keeps the page's query count from growing with it.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from media_tasks.bench.gallery import add_images

pytestmark = pytest.mark.django_db


def gallery(client) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("gallery"))
    assert response.status_code == 200
    return response.content.decode(), [query["sql"] for query in captured.captured_queries]


def test_the_gallery_query_count_does_not_grow_with_the_number_of_images(signed_in_client, user):
    add_images(user, 10)
    page_10, queries_10 = gallery(signed_in_client)
    add_images(user, 190)  # numbered on from the first 10
    page_200, queries_200 = gallery(signed_in_client)

    assert page_10.count('class="image"') == 10
    assert page_200.count('class="image"') == 200
    assert page_200.count("srcset=") == 50  # every ready image shows its thumbnails
    assert len(queries_200) == len(queries_10), "\n".join(queries_200)
