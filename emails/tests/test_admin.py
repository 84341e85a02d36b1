"""The outbox in the admin: an email's errors, what an unconfirmed one may mean, and Send again."""

from __future__ import annotations

import django_rq
import pytest

from emails.models import OutgoingEmail

pytestmark = pytest.mark.django_db


def test_admin_shows_the_email_outbox_with_errors(client, superuser, user):
    OutgoingEmail.objects.create(to="x@example.com", subject="Hello", body="...", last_error="SMTPServerDisconnected")
    client.force_login(superuser)

    page = client.get("/admin/emails/outgoingemail/").content.decode()

    assert "x@example.com" in page
    assert "Pending" in page


def test_admin_send_again_resets_failed_and_unconfirmed_emails_and_queues_them(
    client, superuser, django_capture_on_commit_callbacks
):
    failed = OutgoingEmail.objects.create(
        to="x@example.com", subject="Hi", body="...", status=OutgoingEmail.Status.FAILED, attempts=8, last_error="down"
    )
    unconfirmed = OutgoingEmail.objects.create(
        to="y@example.com",
        subject="Hi",
        body="...",
        status=OutgoingEmail.Status.UNCONFIRMED,
        attempts=2,
        unconfirmed_sends=2,
    )
    sent = OutgoingEmail.objects.create(to="z@example.com", subject="Hi", body="...", status=OutgoingEmail.Status.SENT)
    client.force_login(superuser)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/emails/outgoingemail/",
            {"action": "send_again", "_selected_action": [failed.pk, unconfirmed.pk, sent.pk]},
            follow=True,
        )

    page = response.content.decode()
    assert "Queued 2 emails to be sent again." in page
    assert "Skipped 1: only failed or unconfirmed emails are sent again." in page
    rows = {row.pk: row for row in OutgoingEmail.objects.all()}
    assert (rows[failed.pk].status, rows[failed.pk].attempts, rows[failed.pk].last_error) == ("pending", 0, "")
    assert (rows[unconfirmed.pk].status, rows[unconfirmed.pk].unconfirmed_sends) == ("pending", 0)
    assert rows[sent.pk].status == OutgoingEmail.Status.SENT
    assert sorted(django_rq.get_queue("high").get_job_ids()) == sorted(
        [f"outgoingemail-{failed.pk}", f"outgoingemail-{unconfirmed.pk}"]
    )


def test_admin_email_page_says_an_unconfirmed_email_may_have_been_delivered(client, superuser):
    email = OutgoingEmail.objects.create(
        to="y@example.com",
        subject="Hi",
        body="...",
        status=OutgoingEmail.Status.UNCONFIRMED,
        unconfirmed_sends=2,
        last_error="The SMTP server did not confirm delivery within 10 s, 2 times; it may have delivered it.",
    )
    client.force_login(superuser)

    page = client.get(f"/admin/emails/outgoingemail/{email.pk}/change/").content.decode()

    assert "Maybe sent (unconfirmed)" in page
    assert "it may have delivered it" in page
