"""A sign-up through a real Redis, a real `manage.py rqworker` process and a real SMTP server."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import User

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_signup_email_arrives_by_smtp_and_its_link_confirms_so_grace_can_log_in(client, smtp_server, run_worker):
    client.post(reverse("signup"), {"email": "grace@example.com", "password": "correct-horse-battery"})

    run_worker("high", "default", extra_env=smtp_server.env)

    [message] = smtp_server.wait_for_messages(1)
    assert message["To"] == "grace@example.com"
    body = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https://testserver(/confirm/\S+/)", body).group(1)
    assert client.get(link).status_code == 200
    assert User.objects.get(email="grace@example.com").email_confirmed
    logged_in = client.post(reverse("login"), {"username": "grace@example.com", "password": "correct-horse-battery"})
    assert logged_in.status_code == 302
