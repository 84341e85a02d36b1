"""The demo's URLs among those project/tests/test_malformed_urls.py walks with malformed values (its `visitor`)."""

from __future__ import annotations

import re

import pytest

from tests.support.urls import url_patterns

pytestmark = pytest.mark.django_db


def test_the_walk_finds_the_demos_parameterised_urls():
    templates = {template for template, count in url_patterns() if count}
    assert "/media/{}" in templates
    assert "/images/{}/retry/" in templates
    assert any(template.startswith("/admin/media_tasks/image/{}/") for template in templates)


def test_a_nul_byte_in_a_demo_path_is_not_found(visitor):
    own = visitor.session["_auth_user_id"]  # a path of one's own media passes the view's first checks
    for url in (f"/media/thumbnails/{own}/x\x00.jpg", "/admin/media_tasks/image/1\x00/change/"):
        assert visitor.get(url).status_code == 404, url


MALFORMED = {
    "nul": "a\x00b",
    "nul-only": "\x00",
    "huge": "99999999999999999999999",
    "bigint+1": str(2**63),
    "negative": "-1",
    "unicode": "é✓漢字🙂",
    "long": "x" * 4000,
    "dots": "..",
    "percent": "%",
}
PARAMETER = re.compile(r"<(?:\w+:)?\w+>|\(\?P<\w+>(?:[^()]|\([^()]*\))*\)\??")
QUERY_NAMES = ("ids", "q", "o", "p", "next", "status__exact", "owner__id__exact", "e", "desc", "page")


@pytest.mark.parametrize("ids", ["99999999999999999999999", str(2**63), "1," + "9" * 30, "-5"])
def test_image_updates_with_ids_no_image_can_have_answer_an_empty_list(visitor, ids):
    response = visitor.get("/images/updates/", {"ids": ids})

    assert response.status_code == 200
    assert response.json() == {"images": {}}
