"""A 500 error's report reaches ADMINS through the outbox, like every other email.

Django's AdminEmailHandler (LOGGING in project/settings.py) mails the report through
the outbox (the error_reports mailer), so it is an outbox row written while the 500 is answered, and a worker delivers
it. This module is also the test urlconf: a view that raises, and one that raises after a write.
"""

from __future__ import annotations

import pytest
from django.db import OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

from accounts.models import User
from emails.models import OutgoingEmail

pytestmark = pytest.mark.django_db(transaction=True)

ADMINS = ["Ops <ops@example.com>", "dev@example.com"]


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view fell over")


def boom_after_a_write(request: HttpRequest) -> HttpResponse:
    User.objects.create_user(email="written@example.com", password="a-long-passphrase-42")
    raise RuntimeError("the view fell over after a write")


# The site's own URLs too: middleware reverses the admin's.
urlpatterns = [path("boom/", boom), path("boom-after-a-write/", boom_after_a_write), path("", include("project.urls"))]


@pytest.fixture(autouse=True)
def _test_urls_and_admins(settings) -> None:
    settings.ROOT_URLCONF = __name__
    settings.ADMINS = ADMINS


@pytest.fixture
def client() -> Client:
    # Answers 500 as production does instead of re-raising the view's exception in the test.
    return Client(raise_request_exception=False, headers={"Host": "testserver", "X-Forwarded-Proto": "https"})


def test_a_500_writes_its_report_to_the_outbox_and_a_worker_delivers_it_by_smtp(
    client, settings, smtp_server, run_worker
):
    response = client.get("/boom/")

    assert response.status_code == 500
    [row] = OutgoingEmail.objects.all()
    assert row.status == OutgoingEmail.Status.PENDING
    assert row.recipients["to"] == ["Ops <ops@example.com>", "dev@example.com"]
    assert row.subject == "[Django + rq] ERROR (EXTERNAL IP): Internal Server Error: /boom/"
    assert "Traceback (most recent call last)" in row.body
    assert 'raise RuntimeError("the view fell over")' in row.body

    run_worker("high", extra_env=smtp_server.env)

    [message] = smtp_server.wait_for_messages(1)
    assert message["Subject"] == row.subject
    assert message["To"] == "Ops <ops@example.com>, dev@example.com"
    assert message["From"] == settings.SERVER_EMAIL
    text = message.get_body(("plain",)).get_content()
    assert "Traceback (most recent call last)" in text
    assert 'raise RuntimeError("the view fell over")' in text
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.SENT


@pytest.mark.parametrize("atomic_requests", [False, True], ids=["autocommit", "ATOMIC_REQUESTS"])
def test_the_report_outlives_the_failed_requests_rolled_back_writes(client, monkeypatch, atomic_requests):
    # The report is logged once the view's transaction has ended: with ATOMIC_REQUESTS on, its
    # writes are rolled back and the report, written after, is kept all the same.
    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", atomic_requests)

    response = client.get("/boom-after-a-write/")

    assert response.status_code == 500
    assert User.objects.filter(email="written@example.com").exists() is not atomic_requests
    [row] = OutgoingEmail.objects.all()
    assert row.subject.endswith("Internal Server Error: /boom-after-a-write/")


def test_a_500_is_still_answered_when_its_report_cannot_be_written(client, monkeypatch, caplog):
    # The database being down is a common cause of 500s, and then the outbox cannot take the
    # report either: the error_reports mailer's outbox logs it instead of raising.
    def database_down(message):
        raise OperationalError("connection refused")

    monkeypatch.setattr("emails.outbox.outbox_add", database_down)

    response = client.get("/boom/")

    assert response.status_code == 500
    assert not OutgoingEmail.objects.exists()
    assert "could not write 1 emails to the outbox" in caplog.text


def test_without_admins_a_500_writes_no_email(client, settings):
    settings.ADMINS = []

    response = client.get("/boom/")

    assert response.status_code == 500
    assert not OutgoingEmail.objects.exists()


def test_unknown_host_headers_from_bots_are_logged_not_mailed(client):
    response = client.get("/boom/", headers={"Host": "scanner.example"})

    assert response.status_code == 400
    assert not OutgoingEmail.objects.exists()


def test_a_404_is_not_mailed(client):
    assert client.get("/nothing-here/").status_code == 404
    assert not OutgoingEmail.objects.exists()


@pytest.mark.parametrize(
    ("value", "admins"),
    [
        ("", []),
        ("Ops <ops@example.com>, dev@example.com", ["Ops <ops@example.com>", "dev@example.com"]),
        ('"Ops, on call" <ops@example.com>', ['"Ops, on call" <ops@example.com>']),
    ],
)
def test_django_admins_reads_names_and_addresses(monkeypatch, value, admins):
    from project.settings import admins_from_env

    monkeypatch.setenv("DJANGO_ADMINS", value)

    assert admins_from_env("DJANGO_ADMINS") == admins


def test_django_admins_that_are_not_addresses_stop_the_start_with_the_variables_name(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from project.settings import admins_from_env

    monkeypatch.setenv("DJANGO_ADMINS", "ops")

    with pytest.raises(ImproperlyConfigured, match="DJANGO_ADMINS"):
        admins_from_env("DJANGO_ADMINS")


def test_the_outbox_admin_lists_and_finds_every_recipient_of_a_report(client, django_user_model):
    client.get("/boom/")
    superuser = django_user_model.objects.create_superuser(email="root@example.com", password="a-long-passphrase-42")
    admin = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})
    admin.force_login(superuser)

    listed = admin.get("/admin/emails/outgoingemail/").content.decode()
    found = admin.get("/admin/emails/outgoingemail/", {"q": "dev@example.com"}).content.decode()

    assert "Ops &lt;ops@example.com&gt;, dev@example.com" in listed
    assert "Ops &lt;ops@example.com&gt;, dev@example.com" in found
