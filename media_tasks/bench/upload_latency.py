"""Latency of the upload request with the thumbnails queued, against the same request making them inline.

    .venv/bin/python -m media_tasks.bench.upload_latency

Two gunicorn servers are started as the Procfile's web process starts them (`gunicorn
project.wsgi --config gunicorn.conf.py`, so 2 processes of 4 threads) on free ports, with the
same database, Redis and settings. The only difference: the second runs rq's queues
synchronously (media_tasks/bench/settings.py), so the view's after-commit enqueue makes the thumbnails
before the response is sent. One client posts the 12 MP photo (media_tasks/bench/images.py) as a signed-in
user over a kept-alive connection, as Heroku's router does, alternating between the two
servers, request by request: whatever else the machine does hits both alike.

No worker runs: on Heroku it is another dyno, and here it would take CPU from the web process.
The queued uploads stay pending with their jobs in Redis, which is checked at the end; the
inline ones must end ready with their thumbnails.
"""

from __future__ import annotations

import http.client
import secrets
import socket
import sys
import time
from dataclasses import dataclass, field

from bench.common import (
    QUICK,
    BenchmarkError,
    Dyno,
    Environment,
    Result,
    environment,
    median,
    percentile,
    procfile_line,
    rounded,
    setup_django,
    wait_until,
)
from media_tasks.bench.images import PHOTO_12MP, image_bytes

ROUNDS = 3
REQUESTS_PER_ROUND = 20
WARMUP_REQUESTS = 3
TARGET_SPEEDUP = 10.0
WEB_COMMAND = [sys.executable, "-m", "gunicorn", "project.wsgi", "--config", "gunicorn.conf.py"]
BENCH_SETTINGS = "media_tasks.bench.settings"
if QUICK:
    # A smoke test (bench.run --quick): the least that still runs every code path.
    ROUNDS, REQUESTS_PER_ROUND, WARMUP_REQUESTS = 1, 2, 1


@dataclass
class Server:
    label: str
    inline: bool
    port: int
    dyno: Dyno
    connection: http.client.HTTPConnection | None = None
    latencies: list[list[float]] = field(default_factory=list)

    def connect(self) -> http.client.HTTPConnection:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return self.connection


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def signed_in_cookies() -> tuple[int, str, str]:
    """A new confirmed user, its session and a CSRF secret, as a browser holds after logging in."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.middleware.csrf import CSRF_ALLOWED_CHARS
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from accounts.models import User

    user = User.objects.create_user(email=f"upload-{secrets.token_hex(4)}@example.com", password=secrets.token_hex(16))
    User.objects.filter(pk=user.pk).update(email_confirmed_at=timezone.now())
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    # An unmasked CSRF secret is a valid token too (Django compares it with the cookie's).
    csrf = get_random_string(32, allowed_chars=CSRF_ALLOWED_CHARS)
    return user.pk, session.session_key or "", csrf


def multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = f"bench{secrets.token_hex(12)}"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def timed_post(
    server: Server, path: str, body: bytes, headers: dict[str, str], session: str, csrf: str
) -> tuple[float, int, bytes]:
    """A POST as a signed-in browser sends it through Heroku's router: seconds, status, answer."""
    origin = f"127.0.0.1:{server.port}"
    headers = {
        "Host": origin,
        # Heroku's router ends TLS and says so; without it the site redirects to HTTPS.
        "X-Forwarded-Proto": "https",
        "Origin": f"https://{origin}",
        "Cookie": f"sessionid={session}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
        "Content-Length": str(len(body)),
        **headers,
    }
    connection = server.connect()
    started = time.perf_counter()
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
    except (http.client.HTTPException, OSError):
        # A dropped keep-alive connection is the client's problem, not the server's latency.
        server.connection = None
        raise
    return time.perf_counter() - started, response.status, answer


def post_upload(server: Server, path: str, body: bytes, content_type: str, session: str, csrf: str) -> float:
    elapsed, status, _ = timed_post(server, path, body, {"Content-Type": content_type}, session, csrf)
    if status != 302:
        raise BenchmarkError(f"{server.label}: upload answered {status}, not a redirect to the gallery")
    return elapsed


def wait_for_server(server: Server) -> None:
    def answers() -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
            connection.request("GET", "/healthz", headers={"X-Forwarded-Proto": "https"})
            connection.getresponse().read()
            connection.close()
            return True
        except OSError:
            if server.dyno.popen.poll() is not None:
                raise BenchmarkError(f"{server.label} gunicorn exited:\n{server.dyno.output()}") from None
            return False

    wait_until(answers, 30, f"{server.label} gunicorn to answer", every=0.2)


def start_server(env: Environment, label: str, inline: bool) -> Server:
    port = free_port()
    server_env = {**env.env, "PORT": str(port), "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS}
    if inline:
        server_env["BENCH_THUMBNAILS_INLINE"] = "1"
    dyno = Dyno(WEB_COMMAND, server_env, env.workdir / f"gunicorn-{label}.log")
    return Server(label=label, inline=inline, port=port, dyno=dyno)


def verify(owner_id: int, queued_count: int, inline_count: int) -> dict[str, int]:
    """The queued uploads wait for a worker, the inline ones are done: otherwise the times mean nothing."""
    import django_rq
    from django.db.models import Count

    from media_tasks.models import Image

    # Only this run's user's: a DATABASE_URL database may hold rows of earlier runs.
    images = Image.objects.filter(owner_id=owner_id)
    statuses = dict(images.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    ready_with_thumbnails = images.filter(status=Image.Status.READY).annotate(t=Count("thumbnails")).filter(t=3).count()
    queued_jobs = django_rq.get_queue("default").count
    problems = []
    if statuses.get(Image.Status.PENDING, 0) != queued_count or queued_jobs != queued_count:
        problems.append(f"{queued_count} queued uploads, but statuses {statuses} and {queued_jobs} jobs on 'default'")
    if ready_with_thumbnails != inline_count:
        problems.append(f"{inline_count} inline uploads, but {ready_with_thumbnails} ready with 3 thumbnails")
    if problems:
        raise BenchmarkError("; ".join(problems))
    return {"pending_with_job": queued_count, "ready_with_3_thumbnails": ready_with_thumbnails}


def main() -> int:
    result = Result(
        "upload_latency", "upload request", "upload request latency, thumbnails queued vs made inline, through gunicorn"
    )
    content = image_bytes(PHOTO_12MP)
    with environment("upload", extra={"DJANGO_SETTINGS_MODULE": BENCH_SETTINGS}) as env:
        setup_django(env.env)
        from django.conf import settings
        from django.urls import reverse

        if len(content) > settings.MAX_UPLOAD_BYTES:
            raise BenchmarkError(f"the photo ({len(content):,} bytes) is over MAX_UPLOAD_BYTES")
        owner_id, session, csrf = signed_in_cookies()
        path = reverse("upload")
        body, content_type = multipart(PHOTO_12MP.filename, content)
        servers = [start_server(env, "queued", inline=False), start_server(env, "inline", inline=True)]
        try:
            for server in servers:
                wait_for_server(server)
            print(
                f"Posting {PHOTO_12MP.filename} ({len(content):,} bytes) to two gunicorns, alternating ...", flush=True
            )
            for server in servers:
                for _ in range(WARMUP_REQUESTS):
                    post_upload(server, path, body, content_type, session, csrf)
            for number in range(ROUNDS):
                for server in servers:
                    server.latencies.append([])
                for index in range(REQUESTS_PER_ROUND):
                    # Alternate which goes first, so neither always follows the other's work.
                    order = servers if index % 2 == 0 else servers[::-1]
                    for server in order:
                        server.latencies[-1].append(post_upload(server, path, body, content_type, session, csrf))
                queued, inline = servers
                print(
                    f"  round {number + 1}/{ROUNDS}: queued p50 {median(queued.latencies[-1]) * 1000:.1f} ms, "
                    f"inline p50 {median(inline.latencies[-1]) * 1000:.1f} ms",
                    flush=True,
                )
        finally:
            for server in servers:
                if server.connection is not None:
                    server.connection.close()
                server.dyno.stop()
        per_mode = WARMUP_REQUESTS + ROUNDS * REQUESTS_PER_ROUND
        checked = verify(owner_id, queued_count=per_mode, inline_count=per_mode)
        database = env.database

    queued, inline = servers
    rounds = []
    for number in range(ROUNDS):
        q, i = queued.latencies[number], inline.latencies[number]
        rounds.append(
            {
                "queued_p50_ms": rounded(percentile(q, 50) * 1000, 1),
                "queued_p95_ms": rounded(percentile(q, 95) * 1000, 1),
                "inline_p50_ms": rounded(percentile(i, 50) * 1000, 1),
                "inline_p95_ms": rounded(percentile(i, 95) * 1000, 1),
                "speedup_p50": rounded(percentile(i, 50) / percentile(q, 50), 1),
                "speedup_p95": rounded(percentile(i, 95) / percentile(q, 95), 1),
            }
        )

    def med(key: str) -> float:
        return rounded(median([r[key] for r in rounds]), 1)

    speedup = med("speedup_p50")
    result.add("queued p50", med("queued_p50_ms"), "ms")
    result.add("queued p95", med("queued_p95_ms"), "ms")
    result.add("inline p50", med("inline_p50_ms"), "ms")
    result.add("inline p95", med("inline_p95_ms"), "ms")
    result.add(
        "inline / queued (p50)",
        speedup,
        "x",
        target=f">= {TARGET_SPEEDUP:g}",
        met=speedup >= TARGET_SPEEDUP,
        note=f"p95 ratio {med('speedup_p95')}x",
    )
    result.details = {
        "image": {
            "name": PHOTO_12MP.filename,
            "bytes": len(content),
            "width": PHOTO_12MP.width,
            "height": PHOTO_12MP.height,
        },
        "web_command": procfile_line("web"),
        "database": database,
        "storage": "default (DatabaseStorage: the original is stored in the database)",
        "rounds": rounds,
        "requests_per_round_per_mode": REQUESTS_PER_ROUND,
        "warmup_requests_per_mode": WARMUP_REQUESTS,
        "figures_are": "median over rounds of each round's percentile",
        "checked": checked,
        "all_ms": {
            "queued": [rounded(v * 1000, 1) for r in queued.latencies for v in r],
            "inline": [rounded(v * 1000, 1) for r in inline.latencies for v in r],
        },
    }
    return result.finish()


if __name__ == "__main__":
    sys.exit(main())
