"""A real SMTP server (aiosmtpd) on a free port that keeps every message it receives.

It can be stopped and started again on the same port (an outage), and told to take its time
over the final reply to DATA (a slow provider): the message counts as delivered once its data
has arrived, as with a real server that delivers and then answers late.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import time
from collections import Counter
from email.message import EmailMessage

from aiosmtpd.controller import Controller


class _Collector:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refused: set[str] = set()
        self.data_reply_delay = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        if self.data_reply_delay:
            await asyncio.sleep(self.data_reply_delay)
        return "250 Message accepted for delivery"


class CapturingSMTPServer:
    def __init__(self) -> None:
        self._collector = _Collector()
        self.port = _free_port()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self._collector.messages

    def refuse(self, address: str) -> None:
        """Answer RCPT TO for this address with a permanent 550, as for an unknown mailbox."""
        self._collector.refused.add(address)

    def delay_data_reply(self, seconds: float) -> None:
        """Keep every message, then wait this long before the final reply to DATA."""
        self._collector.data_reply_delay = seconds

    def copies(self, header: str = "Message-ID") -> Counter[str]:
        """How many messages arrived per value of a header (Message-ID, To)."""
        return Counter(str(message[header]) for message in self.messages)

    @property
    def env(self) -> dict[str, str]:
        """What a worker process needs to send mail here."""
        return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port), "EMAIL_USE_TLS": "0"}

    def wait_for_messages(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Listen (again) on this server's port; the messages kept so far stay."""
        if self._controller is None:
            # A controller's event loop closes when it stops: each start needs a new one.
            controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)
            controller.start()
            self._controller = controller

    def stop(self) -> None:
        """Stop listening: connections are refused, as while a provider is down."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> CapturingSMTPServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
