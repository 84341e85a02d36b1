"""Production defaults a deploy gets without configuring anything."""

from __future__ import annotations

import re

import django_rq
import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

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


def test_https_responses_carry_the_security_headers(client, user):
    response = client.post(reverse("login"), {"username": "ada@example.com", "password": "a-long-passphrase-42"})

    assert response.status_code == 302
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response.cookies["sessionid"]["secure"]
    assert response.cookies["sessionid"]["httponly"]
    visitor = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})
    assert visitor.get(reverse("signup")).cookies["csrftoken"]["secure"]


def test_plain_http_is_redirected_to_https():
    response = Client().get(reverse("login"))

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/"


def test_signups_past_the_limit_are_refused_with_429(client, settings):
    for n in range(10):
        client.post(reverse("signup"), {"email": f"bot-{n}@example.com", "password": "x"})

    response = client.post(reverse("signup"), {"email": "bot-11@example.com", "password": "correct-horse-battery"})

    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert response["Retry-After"] == "3600"


def test_login_attempts_are_limited_per_client_address(user):
    router = {"Host": "testserver", "X-Forwarded-Proto": "https", "X-Forwarded-For": "6.6.6.6, 203.0.113.9"}
    guesser = Client(headers=router)
    for _ in range(20):
        guesser.post(reverse("login"), {"username": "ada@example.com", "password": "wrong"})

    blocked = guesser.post(reverse("login"), {"username": "ada@example.com", "password": "a-long-passphrase-42"})
    elsewhere = Client(headers={**router, "X-Forwarded-For": "6.6.6.6, 198.51.100.7"}).post(
        reverse("login"), {"username": "ada@example.com", "password": "a-long-passphrase-42"}
    )

    assert blocked.status_code == 429
    assert elsewhere.status_code == 302  # the forged first entry did not make them the same client


def test_admin_login_attempts_are_limited_per_client_address(django_user_model):
    root = django_user_model.objects.create_superuser(email="root@example.com", password="root-long-passphrase-1")
    router = {"Host": "testserver", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.50"}
    guesser = Client(headers=router)
    guesses = [
        guesser.post(reverse("admin:login"), {"username": root.email, "password": f"guess-{n}"}).status_code
        for n in range(20)
    ]

    right = {"username": root.email, "password": "root-long-passphrase-1"}
    blocked = guesser.post(reverse("admin:login"), right)
    elsewhere = Client(headers={**router, "X-Forwarded-For": "198.51.100.50"}).post(reverse("admin:login"), right)

    assert set(guesses) == {200}  # the form again, with its error
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "600"
    assert "_auth_user_id" not in guesser.session
    assert elsewhere.status_code == 302


def test_site_and_admin_logins_share_one_budget(user):
    guesser = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.51"})
    for n in range(10):
        guesser.post(reverse("login"), {"username": "ada@example.com", "password": f"guess-{n}"})
        guesser.post(reverse("admin:login"), {"username": "ada@example.com", "password": f"guess-{n}"})

    assert guesser.post(reverse("admin:login"), {"username": "x", "password": "y"}).status_code == 429
    assert guesser.post(reverse("login"), {"username": "x", "password": "y"}).status_code == 429
