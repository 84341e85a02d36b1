"""gunicorn's threaded worker, with each request read in full before a thread is given to it.

gunicorn's own `gthread` worker hands a connection to a thread as soon as the first byte
arrives, and that thread then reads headers and body at whatever speed the client sends:
a few clients trickling a byte every few seconds hold every thread, and Heroku's router
does not buffer request bodies in front of the dyno. gunicorn's deployment notes ask for a
buffering proxy for exactly this; this worker is that proxy, inside the worker process.

The worker's main thread (the event loop gunicorn already runs for kept-alive connections)
now also reads every request, without blocking, into a spool (memory up to
SPOOL_MEMORY_BYTES, then an anonymous temporary file) until headers and body are complete,
and only then passes it to a thread, whose parser reads from the spool. On the way it
enforces the request's bounds, each answered with a short HTTP error and a close:

- headers larger than MAX_HEADER_BYTES (431) or not complete REQUEST_HEADERS_TIMEOUT
  seconds after their first byte (408);
- a declared body larger than REQUEST_MAX_BYTES (413, before any of it is read),
  a body without a declared length (411: Django ignores chunked bodies anyway);
- a body not complete within REQUEST_HEADERS_TIMEOUT seconds plus its length at
  REQUEST_BODY_MIN_RATE bytes per second (408).

The spool is closed, and its temporary file gone, as soon as the request is answered, refused,
or the client goes away.
https://docs.gunicorn.org/en/stable/deploy.html
"""

from __future__ import annotations

import contextlib
import errno
import re
import resource
import selectors
import socket
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

from gunicorn import http
from gunicorn.workers.gthread import ThreadWorker

# Generous for real browsers (cookies included), small enough that 1,000 connections cost little.
MAX_HEADER_BYTES = 64 * 1024
# Bodies up to this size stay in memory while they arrive; larger ones go to a temporary file.
SPOOL_MEMORY_BYTES = 64 * 1024
RECV_BYTES = 256 * 1024
# After an error response, how long the client gets to read it before the socket closes.
LINGER_SECONDS = 2.0

_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(.*?)[ \t]*$", re.IGNORECASE | re.MULTILINE)
_TRANSFER_ENCODING = re.compile(rb"^transfer-encoding[ \t]*:", re.IGNORECASE | re.MULTILINE)
_EXPECT_CONTINUE = re.compile(rb"^expect[ \t]*:[ \t]*100-continue[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)

_REASONS = {
    400: ("Bad Request", "The request could not be read."),
    408: ("Request Timeout", "The request took too long to arrive. Please try again."),
    411: ("Length Required", "The request must say how long its body is."),
    413: ("Content Too Large", "The request is larger than this site accepts."),
    431: ("Request Header Fields Too Large", "The request's headers are too large."),
}


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    headers_timeout: float
    body_min_rate: float
    idle_timeout: float

    @classmethod
    def from_settings(cls, idle_timeout: float) -> Limits:
        from web import conf

        return cls(
            max_body_bytes=conf.REQUEST_MAX_BYTES(),
            headers_timeout=conf.REQUEST_HEADERS_TIMEOUT(),
            body_min_rate=conf.REQUEST_BODY_MIN_RATE(),
            idle_timeout=idle_timeout,
        )


def _new_spool() -> IO[bytes]:
    # In memory (a BytesIO) until it passes SPOOL_MEMORY_BYTES; then an already-unlinked file.
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)


class SpooledSocket:
    """What a connection's parser reads from: the spooled request first, then the socket.

    Everything else (timeouts, for gunicorn's body drain) goes to the real socket.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.spool: IO[bytes] | None = None
        self.pipelined = b""

    def recv(self, size: int) -> bytes:
        if self.spool is not None:
            data = self.spool.read(size)
            if data:
                return data
        return self._sock.recv(size)

    def close_spool(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@dataclass
class Arrival:
    """A request on its way in: what has come so far and when it must be complete."""

    deadline: float
    spool: IO[bytes]
    # Headers so far; emptied once they are complete and spooled.
    head: bytearray = field(default_factory=bytearray)
    started: bool = False
    body_length: int | None = None
    received: int = 0
    # Bytes of a further request the client sent behind this one without waiting.
    pipelined: bytes = b""
    # Set once an error response is written: the rest of the time only drains the socket.
    closing: bool = False


# gunicorn ships no types, and typeshed's types-gunicorn (not installed) describes gunicorn 26,
# not the 27 whose methods this overrides: ThreadWorker is Any to mypy.
class BufferingThreadWorker(ThreadWorker):  # type: ignore[misc]
    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        super().check_config(cfg, log)
        if cfg.is_ssl:
            raise RuntimeError("BufferingThreadWorker reads plain HTTP; Heroku's router terminates TLS.")

    def init_process(self) -> None:
        self.arrivals: dict[Any, Arrival] = {}
        # What a client still sends after its error response is read into this and dropped:
        # a refused 180 MB body streamed at loopback speed then allocates nothing.
        self.drain_buffer = bytearray(RECV_BYTES)
        # Each waiting connection, and each spool that spilled to disk, is a file descriptor.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        super().init_process()

    @property
    def limits(self) -> Limits:
        # Read after gunicorn has loaded the app, so Django's settings are configured.
        if not hasattr(self, "_limits"):
            self._limits = Limits.from_settings(idle_timeout=max(float(self.cfg.keepalive), 1.0))
        return self._limits

    # --- gunicorn's entry points -----------------------------------------------------------

    def enqueue_req(self, conn: Any) -> None:
        """Every request (new connection, kept-alive or pipelined) arrives in full first."""
        if getattr(conn, "arrived", False):
            conn.arrived = False
            super().enqueue_req(conn)
            return
        leftover = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        # A new connection with no byte yet may idle as long as a kept-alive one.
        idle = not leftover and not getattr(conn, "data_ready", False)
        wait = self.limits.idle_timeout if idle else self.limits.headers_timeout
        arrival = Arrival(deadline=time.monotonic() + wait, spool=_new_spool())
        self.arrivals[conn] = arrival
        conn.sock.setblocking(False)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
        if leftover:
            self._feed(conn, arrival, leftover)

    def finish_request(self, conn: Any, fs: Any) -> None:
        spooled = getattr(conn, "spooled_socket", None)
        if spooled is not None:
            spooled.close_spool()
            if spooled.pipelined:
                # gunicorn serves bytes its parser holds as the connection's next request.
                conn.parser.unreader.unread(spooled.pipelined)
                spooled.pipelined = b""
        super().finish_request(conn, fs)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn, arrival in list(self.arrivals.items()):
            if not self.alive and not arrival.started:
                self._close(conn)  # stopping: a connection that has sent nothing loses nothing
                continue
            if now < arrival.deadline:
                continue
            if arrival.closing:
                self._close(conn)
            elif arrival.started:
                self._refuse(conn, arrival, 408)
            else:
                self._close(conn)  # never sent a byte: nothing to answer

    # --- reading a request ----------------------------------------------------------------

    def _on_readable(self, conn: Any, _sock: Any) -> None:
        arrival = self.arrivals.get(conn)
        if arrival is None:
            return
        try:
            if arrival.closing:
                if conn.sock.recv_into(self.drain_buffer):
                    return  # draining what the client still sends after an error response
                data = b""
            else:
                data = conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if not data:
            self._close(conn)  # the client went away
            return
        self._feed(conn, arrival, data)

    def _feed(self, conn: Any, arrival: Arrival, data: bytes) -> bool:
        """Take in bytes; True once the request is complete or refused (no more reading)."""
        if arrival.body_length is None:
            if not arrival.started:
                arrival.started = True
                arrival.deadline = time.monotonic() + self.limits.headers_timeout
            arrival.head += data
            end = arrival.head.find(b"\r\n\r\n")
            if end < 0:
                if len(arrival.head) > MAX_HEADER_BYTES:
                    return self._refuse(conn, arrival, 431)
                return False
            if end + 4 > MAX_HEADER_BYTES:
                return self._refuse(conn, arrival, 431)
            head = bytes(arrival.head[: end + 4])
            data = bytes(arrival.head[end + 4 :])
            arrival.head = bytearray()
            status = self._start_body(conn, arrival, head)
            if status:
                return self._refuse(conn, arrival, status)
        length = arrival.body_length or 0
        wanted = length - arrival.received
        arrival.spool.write(data[:wanted])
        arrival.received += min(len(data), wanted)
        if len(data) > wanted:
            arrival.pipelined = data[wanted:]
        if arrival.received < length:
            return False
        self._dispatch(conn, arrival)
        return True

    def _start_body(self, conn: Any, arrival: Arrival, head: bytes) -> int:
        """Check the headers; 0 to go on reading the body, else the status to refuse with."""
        if _TRANSFER_ENCODING.search(head):
            return 411
        lengths = {value.strip() for value in _CONTENT_LENGTH.findall(head)}
        if len(lengths) > 1 or any(not value.isdigit() for value in lengths):
            return 400
        length = int(lengths.pop()) if lengths else 0
        if length > self.limits.max_body_bytes:
            return 413
        arrival.body_length = length
        arrival.deadline = time.monotonic() + self.limits.headers_timeout + length / self.limits.body_min_rate
        arrival.spool.write(head)
        if length and _EXPECT_CONTINUE.search(head):
            # The client waits for this before it sends the body; gunicorn may send it again
            # when the app reads the body, which a client must accept (RFC 9110, 15.2).
            with contextlib.suppress(OSError):
                conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        return 0

    def _dispatch(self, conn: Any, arrival: Arrival) -> None:
        """The request is all here: give it to a thread, whose parser reads the spool."""
        self._unregister(conn)
        del self.arrivals[conn]
        arrival.spool.seek(0)
        spooled = getattr(conn, "spooled_socket", None)
        if spooled is None:
            spooled = conn.spooled_socket = SpooledSocket(conn.sock)
            conn.parser = http.get_parser(self.cfg, spooled, conn.client)
            conn.initialized = True
        spooled.close_spool()
        spooled.spool = arrival.spool
        spooled.pipelined = arrival.pipelined
        conn.data_ready = True
        conn.arrived = True
        self.enqueue_req(conn)

    # --- refusing and closing -------------------------------------------------------------

    def _refuse(self, conn: Any, arrival: Arrival, status: int) -> bool:
        reason, text = _REASONS[status]
        body = f"<!doctype html><title>{reason}</title><h1>{reason}</h1><p>{text}</p>\n".encode()
        response = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        arrival.spool.close()
        try:
            conn.sock.send(response)
            # Half-close, then keep reading for a moment: closing a socket with unread
            # bytes sends a reset, which can destroy the response before the client reads it.
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return True
        arrival.closing = True
        arrival.deadline = time.monotonic() + LINGER_SECONDS
        self.log.info("refused a request from %s: %s %s", conn.client, status, reason)
        return True

    def _close(self, conn: Any) -> None:
        arrival = self.arrivals.pop(conn, None)
        if arrival is not None:
            arrival.spool.close()
        self._unregister(conn)
        spooled = getattr(conn, "spooled_socket", None)
        if spooled is not None:
            spooled.close_spool()
        self.nr_conns -= 1
        conn.close()

    def _unregister(self, conn: Any) -> None:
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError) as error:
            if isinstance(error, OSError) and error.errno not in (errno.EBADF, errno.ENOENT):
                raise
