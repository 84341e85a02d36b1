"""The Procfile's web process with short request bounds, and raw-socket clients that test them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.web import WebDyno, procfile_web

MB = 1024 * 1024
# Short bounds so the tests take seconds; the mechanism is the same with the defaults.
HEADERS_TIMEOUT = 2.0
BODY_MIN_RATE = 2 * MB


@contextmanager
def bounded_web(worker_env: dict[str, str]) -> Iterator[WebDyno]:
    """The Procfile's web process with the short bounds above (the demo's upload tests use it too)."""
    env = {**worker_env, "REQUEST_HEADERS_TIMEOUT": str(HEADERS_TIMEOUT), "REQUEST_BODY_MIN_RATE": str(BODY_MIN_RATE)}
    with procfile_web(env) as dyno:
        # Both workers import the views and templates on their first requests: memory is then measured from there.
        for _ in range(6):
            timed_get(dyno.port, "/login/")
        yield dyno


def connect(web: WebDyno) -> socket.socket:
    return socket.create_connection(("127.0.0.1", web.port), timeout=30)


def request_head(path: str, length: int, content_type: str = "multipart/form-data; boundary=b0undary") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def timed_get(port: int, path: str) -> tuple[int, float]:
    """The status of a GET and the seconds it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        response = read_until_closed(sock, timeout=10)
    return int(response.split(b" ", 2)[1]), time.monotonic() - started


class Sampler:
    """Largest resident memory and spooled bytes of the web workers while a request runs."""

    def __init__(self, web: WebDyno) -> None:
        self.web = web
        self.baseline_rss = web.resident_bytes()
        self.peak_rss = self.baseline_rss
        self.peak_spooled = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self.web.resident_bytes())
            self.peak_spooled = max(self.peak_spooled, self.web.spooled_bytes())
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def assert_twenty_files_of_9_mb_are_refused_and_never_held(web: WebDyno, path: str, settings) -> None:
    part = b"--b0undary\r\nContent-Disposition: form-data; name=file; filename=x.jpg\r\n\r\n" + b"\xff" * (9 * MB)
    body_length = 20 * (len(part) + 2) + len(b"--b0undary--\r\n")
    sent = 0

    with Sampler(web) as sampler, connect(web) as sock:
        sock.sendall(request_head(path, body_length))

        def send_body() -> None:
            nonlocal sent
            try:
                for _ in range(20):
                    sock.sendall(part + b"\r\n")
                    sent += len(part) + 2
            except OSError:
                pass  # refused: the server closed its side

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        response = read_until_closed(sock, timeout=30)
        sender.join(30)

    print(
        f"{path}: sent {sent / MB:.0f} of {body_length / MB:.0f} MB before the 413; peak spooled "
        f"{sampler.peak_spooled / MB:.1f} MB, workers' RSS +{(sampler.peak_rss - sampler.baseline_rss) / MB:.1f} MB"
    )
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert sent < body_length, "the server read the whole oversized body"
    bound = settings.MAX_UPLOAD_BYTES + 1 * MB
    assert sampler.peak_spooled <= bound, sampler.peak_spooled
    assert sampler.peak_rss - sampler.baseline_rss <= bound, (sampler.baseline_rss, sampler.peak_rss)
