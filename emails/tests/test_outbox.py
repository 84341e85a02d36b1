"""Every email goes through the outbox: password resets and mail_admins included."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from emails.models import OutgoingEmail

pytestmark = pytest.mark.django_db(transaction=True)


def test_password_reset_reaches_a_real_smtp_server_through_the_outbox(client, user, smtp_server, run_worker):
    response = client.post(reverse("password_reset"), {"email": user.email})
    assert response.status_code == 302
    assert not OutgoingEmail.objects.exists()  # the worker writes it (accounts.jobs.send_password_reset)

    run_worker("high", extra_env=smtp_server.env)

    [row] = OutgoingEmail.objects.all()
    assert row.to == user.email
    [message] = smtp_server.wait_for_messages(1)
    assert message["To"] == user.email
    assert message["Message-ID"].startswith(f"<outgoingemail-{row.pk}-")
    text = message.get_body(("plain",)).get_content()
    link = re.search(r"https://testserver(/password/reset/\S+/)", text).group(1)
    page = client.get(link, follow=True)
    assert page.status_code == 200
    assert b"Choose a new password" in page.content
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.SENT


def test_mail_admins_lands_in_the_outbox_and_is_delivered(settings, run_worker):
    from django.core.mail import mail_admins

    settings.ADMINS = ["Ops <ops@example.com>"]
    mail_admins("Internal Server Error: /boom", "Traceback ...")

    [row] = OutgoingEmail.objects.all()
    assert row.to == "ops@example.com"
    assert row.subject.endswith("Internal Server Error: /boom")

    from emails import jobs

    jobs.send_email(row.pk)
    assert [m.to for m in mail.outbox] == [["Ops <ops@example.com>"]]
