from __future__ import annotations

import django_rq
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import user_confirmation_token
from emails.models import OutgoingEmail

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(django_user_model):
    """Ada, with her address confirmed: uploads need one (tests of the unconfirmed ask for `unconfirmed`)."""
    return django_user_model.objects.create_user(
        email="ada@example.com", password="a-long-passphrase-42", email_confirmed_at=timezone.now()
    )


@pytest.fixture
def unconfirmed(client, django_user_model):
    person = django_user_model.objects.create_user(email="una@example.com", password="u-long-passphrase-42")
    client.force_login(person)
    return person


def queued_job_names(queue: str) -> list[str]:
    return [job.func_name for job in django_rq.get_queue(queue).get_jobs()]


def test_signup_creates_the_account_and_queues_its_email_after_commit(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("signup"), {"email": "grace@example.com", "password": "correct-horse-battery"})
        assert queued_job_names("high") == []  # nothing reaches Redis before the commit
    for callback in callbacks:
        callback()

    assert response.status_code == 302
    assert User.objects.filter(email="grace@example.com", email_confirmed_at=None).exists()
    assert queued_job_names("high") == ["emails.jobs.send_email"]
    email = OutgoingEmail.objects.get(to="grace@example.com")
    assert email.to == "grace@example.com"
    assert django_rq.get_queue("high").get_jobs()[0].args == [email.id]


def test_signup_sends_you_to_check_your_inbox_without_logging_in(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("signup"), {"email": "grace@example.com", "password": "correct-horse-battery"}, follow=True
        )

    assert response.redirect_chain == [(reverse("signup_sent"), 302)]
    assert "Check your inbox" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-address", "password": "correct-horse-battery"}, "Enter a valid email address."),
        ({"email": "grace@example.com", "password": "123"}, "This password is too short."),
    ],
)
def test_bad_signup_shows_the_error_and_creates_nothing(client, user, data, message):
    response = client.post(reverse("signup"), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert User.objects.count() == 1
    assert queued_job_names("high") == []


def test_confirmation_link_confirms_the_address_and_offers_to_log_in(client, django_user_model):
    person = django_user_model.objects.create_user(email="una@example.com", password="u-long-passphrase-42")

    response = client.get(reverse("confirm_email", args=[user_confirmation_token(user=person)]))

    assert response.status_code == 200
    assert "una@example.com is confirmed" in response.content.decode()
    assert f'href="{reverse("login")}?next=/"' in response.content.decode()
    assert "_auth_user_id" not in client.session  # the link alone does not log in
    person.refresh_from_db()
    assert person.email_confirmed


def test_expired_confirmation_link_is_refused(client, unconfirmed, settings):
    token = user_confirmation_token(user=unconfirmed)
    settings.EMAIL_CONFIRMATION_MAX_AGE = -1

    response = client.get(reverse("confirm_email", args=[token]))

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    unconfirmed.refresh_from_db()
    assert not unconfirmed.email_confirmed


def test_tampered_confirmation_link_is_refused(client, unconfirmed):
    token = user_confirmation_token(user=unconfirmed)

    response = client.get(reverse("confirm_email", args=[token[:-2] + "xx"]))

    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_plain_http_is_redirected_to_https(user):
    from django.test import Client

    response = Client().get(reverse("login"))

    assert response.status_code == 301
    assert response["Location"].startswith("https://")
