"""The outbox keeps the durable-work promises: work/conformance.py's kit, with a real SMTP server."""

from __future__ import annotations

from emails.models import OutgoingEmail
from tests.support import outbox
from work import conformance

test_outgoing_emails_keep_the_guarantees = conformance.suite(
    OutgoingEmail,
    make_row=lambda user: outbox.queue_confirmation(user),
    worker_env=lambda smtp_server: smtp_server.env,
    count_done=lambda email, smtp_server: smtp_server.copies("To")[email.to],
)
