"""The outbox's job: send one email row, claimed by the durable-work protocol (work/durable.py).

Workers import it by dotted path and pass the row's id, so nothing else belongs here.
"""

from __future__ import annotations

from emails import services
from emails.models import OutgoingEmail
from work import durable


@durable.job(
    OutgoingEmail,
    words=durable.Words(
        gone="{name} is gone; nothing to send",
        elsewhere="{name} is {status} or being sent elsewhere; not sent again",
    ),
)
def send_email(email: OutgoingEmail, run: durable.Run) -> None:
    services.email_send(email=email, run=run)
