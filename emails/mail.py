"""Django's SMTP backend, told apart: a send that failed, and a send whose outcome is unknown.

SMTP hands the whole message over before the server's final reply to DATA says whether it took
it. If that reply never comes (the server is slower than EMAIL_TIMEOUT, or the connection drops)
the server may well have delivered the message: it is not a plain failure, and sending it again
may deliver a second copy. smtplib raises the same SMTPServerDisconnected for a timeout while
connecting as for one while awaiting that verdict, so the connection here records which it was.
"""

from __future__ import annotations

import smtplib
from typing import Any

from django.core.mail.backends import smtp


class _RecordsTheVerdictWait:
    """An smtplib connection that knows whether it is awaiting the final reply to DATA.

    smtplib's data() sends DATA, reads the 354 go-ahead, sends the message, then reads the
    verdict: the second reply read within data() is the one that may never come.
    """

    awaiting_verdict = False
    _replies_in_data: int | None = None

    def data(self, msg: Any) -> tuple[int, bytes]:
        self._replies_in_data = 0
        try:
            return super().data(msg)  # type: ignore[misc,no-any-return]
        finally:
            self._replies_in_data = None

    def getreply(self) -> tuple[int, bytes]:
        if self._replies_in_data is not None:
            self._replies_in_data += 1
            # From here until a reply arrives, the server holds the whole message.
            self.awaiting_verdict = self._replies_in_data == 2
        reply: tuple[int, bytes] = super().getreply()  # type: ignore[misc]
        self.awaiting_verdict = False
        return reply


class _SMTP(_RecordsTheVerdictWait, smtplib.SMTP):
    pass


class _SMTPSSL(_RecordsTheVerdictWait, smtplib.SMTP_SSL):
    pass


class EmailBackend(smtp.EmailBackend):
    """After a send raised, `delivery_unconfirmed` says whether the server already had the message."""

    delivery_unconfirmed = False

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return _SMTPSSL if self.use_ssl else _SMTP

    def _send(self, email_message: Any) -> bool:
        self.delivery_unconfirmed = False
        try:
            # Private in Django, so django-stubs leaves it out.
            return super()._send(email_message)  # type: ignore[misc,no-any-return]
        except BaseException:
            # Read before send_messages closes the connection; any exception counts, a worker's
            # shutdown or a job timeout interrupting the wait as much as the socket's timeout.
            self.delivery_unconfirmed = bool(getattr(self.connection, "awaiting_verdict", False))
            raise
