"""Production defaults a deploy gets without configuring anything: HTTPS only, secure headers and cookies."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


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
