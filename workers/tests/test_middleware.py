"""The django-rq dashboard is the superusers' (workers/middleware.py): every URL it serves is
closed to anyone else, and a monitor's API token reads stats.json and nothing more."""

from __future__ import annotations

import re

import django_rq
import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db


def dashboard_paths() -> list[str]:
    """Every URL the django-rq dashboard serves inside the admin, with sample arguments."""
    paths: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = _concrete(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + route)
            elif isinstance(entry, URLPattern) and "django_rq/" in prefix + route:
                paths.append("/" + prefix + route)

    walk(get_resolver().url_patterns, "")
    return sorted(set(paths))


def _concrete(pattern) -> str:
    text = str(pattern)
    text = re.sub(r"<int:\w+>", "0", text)
    text = re.sub(r"<(?:str:|slug:|path:)?\w+>", "job-id", text)
    text = re.sub(r"\(\?P<\w+>[^)]*\)\??", "tok", text)
    return text.replace("^", "").replace("$", "").replace("/?", "/").replace("\\", "")


def test_every_dashboard_url_is_found():
    paths = dashboard_paths()
    assert "/admin/django_rq/dashboard/" in paths
    assert any("stats.json" in path for path in paths)
    assert any(path.endswith("/empty/") for path in paths)
    assert any(path.endswith("/requeue/") for path in paths)
    assert len(paths) >= 20


@pytest.fixture(params=["anonymous", "ordinary user", "staff, not superuser"])
def outsider(request, django_user_model) -> Client:
    client = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})
    if request.param != "anonymous":
        person = django_user_model.objects.create_user(
            email="staff@example.com", password="x-long-passphrase-42", is_staff=request.param.startswith("staff")
        )
        client.force_login(person)
    return client


def test_every_dashboard_url_is_closed_to_non_superusers(outsider):
    django_rq.get_queue("default", commit_mode="auto").enqueue("tests.workapp.jobs.do_chore", 1, job_id="job-id")
    for path in dashboard_paths():
        for method in (outsider.get, outsider.post):
            status = method(path).status_code
            assert status in (302, 403), f"{method.__name__.upper()} {path} answered {status}"
    assert len(django_rq.get_queue("default")) == 1  # nothing was emptied or deleted


def test_superuser_can_use_the_dashboard(client, django_user_model):
    root = django_user_model.objects.create_superuser(email="root@example.com", password="root-long-passphrase-1")
    client.force_login(root)

    assert client.get("/admin/django_rq/dashboard/").status_code == 200
    assert client.get("/admin/django_rq/dashboard/stats.json").status_code == 200


def test_monitoring_reads_stats_with_the_api_token_but_nothing_else(settings):
    settings.RQ_API_TOKEN = "monitor-token-0123456789"
    monitor = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})
    bearer = {"Authorization": "Bearer monitor-token-0123456789"}

    assert monitor.get("/admin/django_rq/dashboard/stats.json", headers=bearer).status_code == 200
    assert (
        monitor.get("/admin/django_rq/dashboard/stats.json", headers={"Authorization": "Bearer no"}).status_code == 302
    )
    assert monitor.get("/admin/django_rq/dashboard/", headers=bearer).status_code == 302
    assert monitor.post("/admin/django_rq/dashboard/queues/0/empty/", headers=bearer).status_code == 302
