"""No URL of the site answers 5xx, whatever is put in its path parameters or query string.

Every URL pattern is walked with malformed values in its parameters (a NUL byte, numbers no
database column holds, unicode, very long strings), as a signed-in person and as a superuser
(who gets past the admin's and the job dashboard's login). PostgreSQL is the stricter
database here (it refuses NUL in text), so CI runs this on both.
"""

from __future__ import annotations

import pytest

from tests.support.urls import url_patterns

pytestmark = pytest.mark.django_db

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
QUERY_NAMES = ("ids", "q", "o", "p", "next", "status__exact", "owner__id__exact", "e", "desc", "page")


def test_the_walk_finds_the_sites_parameterised_urls():
    templates = {template for template, count in url_patterns() if count}
    assert "/confirm/{}/" in templates
    assert any(template.startswith("/admin/django_rq/dashboard/queues/{}/{}/") for template in templates)
    assert any(template.startswith("/admin/emails/outgoingemail/{}/") for template in templates)


def test_no_malformed_path_parameter_gets_a_server_error(visitor):
    failures = []
    for template, count in url_patterns():
        if not count:
            continue
        for kind, value in MALFORMED.items():
            url = template.format(*[value] * count)
            for method in (visitor.get, visitor.post):
                status = method(url).status_code
                if status >= 500:
                    failures.append(f"{method.__name__.upper()} {template} with {kind}: {status}")
    assert failures == []


def test_a_nul_byte_in_a_path_is_not_found(visitor):
    for url in ("/confirm/a\x00b/", "/password/reset/a\x00b/c/", "/admin/emails/outgoingemail/1\x00/change/"):
        assert visitor.get(url).status_code == 404, url


@pytest.mark.parametrize("kind", ["nul", "huge", "unicode", "long"])
def test_no_malformed_query_parameter_gets_a_server_error(visitor, kind):
    failures = []
    for template, count in url_patterns():
        # /healthz answers 503 on purpose here: no worker is running.
        if count or template.endswith(("logout/", "healthz")):
            continue
        # One parameter at a time: a page that refuses one bad parameter early would hide the rest.
        for name in QUERY_NAMES:
            response = visitor.get(template, {name: MALFORMED[kind]})
            if response.status_code >= 500:
                failures.append(f"GET {template}?{name}={kind}: {response.status_code}")
    assert failures == []
