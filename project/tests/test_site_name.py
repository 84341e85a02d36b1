"""The product's name is one setting, SITE_NAME: pages and emails say it, the demo's name nowhere in the core."""

from __future__ import annotations

import django_rq
import pytest
from django.core import mail
from django.urls import reverse

from emails import jobs
from emails.models import OutgoingEmail
from queues.config import SERIALIZER
from tests.support import outbox

pytestmark = pytest.mark.django_db

NAME = "Acme Photos"


@pytest.fixture(autouse=True)
def _site_name(settings) -> None:
    settings.SITE_NAME = NAME


def test_the_default_name_is_the_templates_not_the_demos():
    from project import settings as project_settings

    assert project_settings.SITE_NAME == "Django + rq"


@pytest.mark.parametrize("url_name", ["login", "signup", "password_reset"])
def test_core_pages_show_the_site_name_in_title_and_header(client, url_name):
    page = client.get(reverse(url_name)).content.decode()

    assert f"· {NAME}</title>" in page
    assert f'">{NAME}</a></h1>' in page
    assert "Media tasks" not in page


def test_the_confirmation_email_says_the_site_name_in_subject_and_body(django_user_model):
    user = django_user_model.objects.create_user(email="grace@example.com", password="a-long-passphrase-42")

    row = outbox.queue_confirmation(user)

    assert row.subject == f"Confirm your email address for {NAME}"
    assert f"Welcome to {NAME}!" in row.body
    assert f"Welcome to {NAME}!" in row.html_body


def test_the_password_reset_email_says_the_site_name_not_the_host(client, user):
    client.post(reverse("password_reset"), {"email": user.email})
    # The request queued a job that writes the email to the outbox.
    django_rq.get_worker("high", worker_class="rq.SimpleWorker", serializer=SERIALIZER).work(burst=True)

    [row] = OutgoingEmail.objects.all()
    assert row.subject == f"Reset your password for {NAME}"
    assert f"on {NAME}." in row.body
    jobs.send_email(row.pk)
    assert mail.outbox[0].subject == f"Reset your password for {NAME}"
