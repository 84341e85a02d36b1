"""Rate limits (web/ratelimit.py): each form's budget per client address, as Heroku's router
names it, answered 429 with Retry-After past it; the site's and the admin's logins share one."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


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
