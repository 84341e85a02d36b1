"""The site's upload requests when the browser sends the file straight to the bucket, side by side
with the upload through the dyno (thumbnails queued, and made inline), for the same 12 MP photo.

    .venv/bin/python -m media_tasks.bench.direct_upload

A moto S3 server runs as its own process (the bucket is another host, as S3 is), and four
gunicorn servers are started as the Procfile's `web:` line starts them, with the same database,
Redis and settings, each as media_tasks/bench/upload_latency.py starts its two:

- `inline-db` and `queued-db`: media in the database (the default deploy), the upload posted
  through the site; the first runs rq's queues synchronously, so the request makes the thumbnails.
  These are media_tasks/bench/upload_latency.py's two servers, measured again here in the same run.
- `inline-bucket` and `bucket`: media in the moto bucket (a deploy with `AWS_*` set). The first
  makes the thumbnails inline, storing them in the bucket; the second takes the same upload
  through the site with the thumbnails queued, and serves the direct path's two requests:
  `POST /upload/presign/`, then (after the client posts the file to the bucket with that form,
  as the gallery's script does) `POST /upload/complete/`, neither of which carries the file.

One signed-in client (a user per path, so the check at the end can count each path's rows) runs
the five paths one after the other, rotating which goes first at each iteration: whatever else
the machine does hits them all alike. The site's time of a direct upload is presign + complete;
the browser-to-bucket POST goes to S3, not to the dyno, and is reported on its own (moto is a
Python server on this machine, not S3, so that figure says little about S3).

No worker runs: the queued and direct uploads stay pending with their jobs in Redis, which is
checked at the end, as are the inline uploads' thumbnails and the objects in the bucket.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import secrets
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

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
from media_tasks.bench.upload_latency import (
    BENCH_SETTINGS,
    TARGET_SPEEDUP,
    Server,
    free_port,
    multipart,
    post_upload,
    signed_in_cookies,
    start_server,
    timed_post,
    wait_for_server,
)

ROUNDS = 3
ITERATIONS_PER_ROUND = 20
WARMUP_ITERATIONS = 3
BUCKET = "bench-direct-upload"
REGION = "us-east-1"
# moto takes any credentials; these only have to be the same on both sides.
ACCESS_KEY, SECRET_KEY = "bench-access-key", "bench-secret-key"
if QUICK:
    ROUNDS, ITERATIONS_PER_ROUND, WARMUP_ITERATIONS = 1, 2, 1

# What each path measures, in the order of the summary.
THROUGH_SITE = ("inline-db", "queued-db", "inline-bucket", "queued-bucket")
DIRECT_PARTS = ("presign", "bucket", "complete", "site", "browser")


@dataclass
class Client:
    """One path's signed-in user and the times of its requests, a list per round."""

    label: str
    owner_id: int
    session: str
    csrf: str
    round: int = 0
    times: dict[str, list[list[float]]] = field(default_factory=dict)

    def record(self, part: str, seconds: float, measured: bool) -> None:
        if measured:
            self.times.setdefault(part, [[] for _ in range(ROUNDS)])[self.round].append(seconds)


def start_moto(env: Environment) -> tuple[Dyno, str]:
    """moto as a server process of its own, with an empty bucket."""
    port = free_port()
    dyno = Dyno(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env.env, env.workdir / "moto.log"
    )
    endpoint = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if dyno.popen.poll() is not None:
            raise BenchmarkError(f"moto exited:\n{dyno.output()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()
            return True
        except OSError:
            return False

    wait_until(answers, 30, "moto to answer", every=0.2)
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    return dyno, endpoint


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def bucket_variables(endpoint: str) -> dict[str, str]:
    """The config vars a deploy with a bucket sets."""
    return {
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_S3_ENDPOINT_URL": endpoint,
    }


def post_form(server: Server, path: str, fields: dict[str, str], client: Client, status: int) -> tuple[float, Any]:
    """A form POST as the gallery's script sends it to the site: the time and the JSON answer."""
    body = urllib.parse.urlencode(fields).encode()
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    elapsed, answered, answer = timed_post(server, path, body, headers, client.session, client.csrf)
    if answered != status:
        raise BenchmarkError(f"{path} answered {answered}, not {status}: {answer[:300]!r}")
    return elapsed, json.loads(answer)


class Bucket:
    """The browser's side of the bucket: a kept-alive connection that posts presigned forms."""

    def __init__(self, endpoint: str) -> None:
        parsed = urllib.parse.urlsplit(endpoint)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.connection: http.client.HTTPConnection | None = None

    def post(self, url: str, fields: dict[str, str], filename: str, content: bytes) -> float:
        parsed = urllib.parse.urlsplit(url)
        if (parsed.hostname, parsed.port) != (self.host, self.port):
            raise BenchmarkError(f"the presigned POST goes to {url}, not to the moto server")
        boundary = f"bench{secrets.token_hex(12)}"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        ]
        # The file last: S3 ignores any field after it.
        file_head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        body = b"".join(parts) + file_head + content + f"\r\n--{boundary}--\r\n".encode()
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        started = time.perf_counter()
        try:
            self.connection.request(
                "POST",
                parsed.path or "/",
                body=body,
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(len(body))},
            )
            response = self.connection.getresponse()
            answer = response.read()
        except (http.client.HTTPException, OSError):
            self.connection = None
            raise
        elapsed = time.perf_counter() - started
        if response.status not in (200, 201, 204):
            raise BenchmarkError(f"the bucket answered {response.status}: {answer[:300]!r}")
        return elapsed


def direct_upload(server: Server, bucket: Bucket, client: Client, content: bytes, measured: bool) -> None:
    """What the gallery's script does with a bucket: presign, post to the bucket, complete."""
    presign_seconds, presigned = post_form(
        server, "/upload/presign/", {"name": PHOTO_12MP.filename}, client, status=200
    )
    bucket_seconds = bucket.post(presigned["url"], presigned["fields"], PHOTO_12MP.filename, content)
    complete_seconds, _ = post_form(server, "/upload/complete/", {"key": presigned["key"]}, client, status=201)
    client.record("presign", presign_seconds, measured)
    client.record("bucket", bucket_seconds, measured)
    client.record("complete", complete_seconds, measured)
    client.record("site", presign_seconds + complete_seconds, measured)
    client.record("browser", presign_seconds + bucket_seconds + complete_seconds, measured)


def verify(clients: dict[str, Client], endpoint: str, per_path: int) -> dict[str, Any]:
    """Each path did what it claims: otherwise its times mean nothing."""
    import django_rq
    from django.db.models import Count

    from media_tasks.models import Image

    problems = []
    checked: dict[str, Any] = {}
    for label, client in clients.items():
        images = Image.objects.filter(owner_id=client.owner_id)
        if label.startswith("inline"):
            done = images.filter(status=Image.Status.READY).annotate(t=Count("thumbnails")).filter(t=3).count()
            checked[label] = {"ready_with_3_thumbnails": done}
            if done != per_path:
                problems.append(f"{label}: {done} of {per_path} ready with 3 thumbnails")
        else:
            pending = images.filter(status=Image.Status.PENDING).count()
            checked[label] = {"pending": pending}
            if pending != per_path:
                problems.append(f"{label}: {pending} of {per_path} pending")
    direct_keys = list(Image.objects.filter(owner_id=clients["direct"].owner_id).values_list("original", flat=True))
    if not all(key.startswith(f"uploads/{clients['direct'].owner_id}/") for key in direct_keys):
        problems.append("a direct upload's row does not name its object under the user's uploads/ prefix")
    listing = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="uploads/")
    in_bucket = {item["Key"] for page in listing for item in page.get("Contents", [])}
    checked["direct"]["objects_under_uploads"] = len(in_bucket)
    if in_bucket != set(direct_keys):
        problems.append(f"{len(in_bucket)} objects under uploads/ for {len(direct_keys)} direct uploads")
    queued_jobs = django_rq.get_queue("default").count
    expected_jobs = 3 * per_path  # queued-db, queued-bucket and direct
    checked["jobs_on_default"] = queued_jobs
    if queued_jobs != expected_jobs:
        problems.append(f"{queued_jobs} jobs on 'default', not {expected_jobs}")
    if problems:
        raise BenchmarkError("; ".join(problems))
    return checked


def main() -> int:
    result = Result(
        "direct_upload",
        "direct upload",
        "the site's requests of an upload straight to the bucket (presign + complete) vs the upload through "
        "the dyno, thumbnails inline and queued, same 12 MP photo, through gunicorn, moto as the bucket",
    )
    content = image_bytes(PHOTO_12MP)
    load_before = os.getloadavg()[0]
    with environment("direct-upload", extra={"DJANGO_SETTINGS_MODULE": BENCH_SETTINGS}) as env:
        setup_django(env.env)
        from django.conf import settings
        from django.urls import reverse

        if len(content) > settings.MAX_UPLOAD_BYTES:
            raise BenchmarkError(f"the photo ({len(content):,} bytes) is over MAX_UPLOAD_BYTES")
        upload_path = reverse("upload")
        if (reverse("upload_presign"), reverse("upload_complete")) != ("/upload/presign/", "/upload/complete/"):
            raise BenchmarkError("the direct upload's URLs moved")
        body, content_type = multipart(PHOTO_12MP.filename, content)
        clients = {label: Client(label, *signed_in_cookies()) for label in (*THROUGH_SITE, "direct")}
        moto, endpoint = start_moto(env)
        with_bucket = dataclasses.replace(env, env={**env.env, **bucket_variables(endpoint)})
        servers = {
            "inline-db": start_server(env, "inline-db", inline=True),
            "queued-db": start_server(env, "queued-db", inline=False),
            "inline-bucket": start_server(with_bucket, "inline-bucket", inline=True),
            "queued-bucket": start_server(with_bucket, "bucket", inline=False),
        }
        bucket = Bucket(endpoint)

        def through_site(label: str) -> Callable[[bool], None]:
            def run(measured: bool) -> None:
                client = clients[label]
                seconds = post_upload(servers[label], upload_path, body, content_type, client.session, client.csrf)
                client.record("request", seconds, measured)

            return run

        paths: list[tuple[str, Callable[[bool], None]]] = [(label, through_site(label)) for label in THROUGH_SITE]
        paths.append(
            (
                "direct",
                lambda measured: direct_upload(servers["queued-bucket"], bucket, clients["direct"], content, measured),
            )
        )
        try:
            for server in servers.values():
                wait_for_server(server)
            print(
                f"{PHOTO_12MP.filename} ({len(content):,} bytes): {len(paths)} paths, rotating, "
                f"{ROUNDS} rounds of {ITERATIONS_PER_ROUND} ...",
                flush=True,
            )
            for _ in range(WARMUP_ITERATIONS):
                for _, run in paths:
                    run(False)
            for number in range(ROUNDS):
                for client in clients.values():
                    client.round = number
                for index in range(ITERATIONS_PER_ROUND):
                    # Rotate which goes first, so no path always follows the same other's work.
                    shift = index % len(paths)
                    for _, run in paths[shift:] + paths[:shift]:
                        run(True)
                print(
                    f"  round {number + 1}/{ROUNDS}: p50 inline-db "
                    f"{median(clients['inline-db'].times['request'][number]) * 1000:.1f} ms, inline-bucket "
                    f"{median(clients['inline-bucket'].times['request'][number]) * 1000:.1f} ms, queued-db "
                    f"{median(clients['queued-db'].times['request'][number]) * 1000:.1f} ms, queued-bucket "
                    f"{median(clients['queued-bucket'].times['request'][number]) * 1000:.1f} ms, direct site "
                    f"{median(clients['direct'].times['site'][number]) * 1000:.1f} ms "
                    f"(bucket POST {median(clients['direct'].times['bucket'][number]) * 1000:.1f} ms)",
                    flush=True,
                )
        finally:
            for server in servers.values():
                if server.connection is not None:
                    server.connection.close()
                server.dyno.stop()
            if bucket.connection is not None:
                bucket.connection.close()
        try:
            checked = verify(clients, endpoint, per_path=WARMUP_ITERATIONS + ROUNDS * ITERATIONS_PER_ROUND)
        finally:
            moto.stop()
        database = env.database

    # Anything else running on the machine shows here: the ratios hold up better than the times.
    load = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    return report(result, clients, checked, database, len(content), load)


def report(
    result: Result,
    clients: dict[str, Client],
    checked: dict[str, Any],
    database: str,
    size: int,
    load: dict[str, float],
) -> int:
    def series(label: str, part: str) -> list[list[float]]:
        return clients[label].times[part]

    named = {label: series(label, "request") for label in THROUGH_SITE}
    named.update({f"direct {part}": series("direct", part) for part in DIRECT_PARTS})

    def per_round(values: list[list[float]], p: float) -> list[float]:
        return [percentile(round_values, p) * 1000 for round_values in values]

    def med(values: list[list[float]], p: float) -> float:
        return rounded(median(per_round(values, p)), 1)

    def ratio(over: str, under: str, p: float) -> float:
        # Per round, then the median of the rounds: both sides come from the same minutes.
        ratios = [a / b for a, b in zip(per_round(named[over], p), per_round(named[under], p), strict=True)]
        return rounded(median(ratios), 1)

    for label, values in named.items():
        result.add(f"{label} p50 / p95", med(values, 50), "ms", note=f"p95 {med(values, 95)} ms")
    headline = min(ratio("inline-db", "direct site", 50), ratio("inline-bucket", "direct site", 50))
    result.add(
        "inline ÷ direct site requests (p50)",
        headline,
        "x",
        target=f">= {TARGET_SPEEDUP:g}",
        met=headline >= TARGET_SPEEDUP,
        note=(
            f"the lower of inline-db {ratio('inline-db', 'direct site', 50)}x and inline-bucket "
            f"{ratio('inline-bucket', 'direct site', 50)}x; p95: {ratio('inline-db', 'direct site', 95)}x and "
            f"{ratio('inline-bucket', 'direct site', 95)}x"
        ),
    )
    result.add(
        "queued through the dyno ÷ direct site requests (p50)",
        ratio("queued-bucket", "direct site", 50),
        "x",
        note=f"queued-db ÷ direct site {ratio('queued-db', 'direct site', 50)}x",
    )
    result.add("inline ÷ queued through the dyno (p50), for section 1", ratio("inline-db", "queued-db", 50), "x")
    result.details = {
        "image": {"name": PHOTO_12MP.filename, "bytes": size, "width": PHOTO_12MP.width, "height": PHOTO_12MP.height},
        "web_command": procfile_line("web"),
        "database": database,
        "storage": {
            "inline-db, queued-db": "DatabaseStorage (the default deploy)",
            "inline-bucket, queued-bucket, direct": "S3Storage on a moto server process (python -m moto.server)",
        },
        "direct site": "POST /upload/presign/ + POST /upload/complete/ (no file bytes)",
        "direct bucket": "the browser's POST of the presigned form with the file, to moto, not the dyno",
        "direct browser": "presign + bucket + complete: what the person waits for before the image is queued",
        "rounds": {
            label: [
                {"p50_ms": rounded(p50, 1), "p95_ms": rounded(p95, 1)}
                for p50, p95 in zip(per_round(values, 50), per_round(values, 95), strict=True)
            ]
            for label, values in named.items()
        },
        "ratios_p50": {
            "inline-db / direct site": ratio("inline-db", "direct site", 50),
            "inline-bucket / direct site": ratio("inline-bucket", "direct site", 50),
            "queued-db / direct site": ratio("queued-db", "direct site", 50),
            "queued-bucket / direct site": ratio("queued-bucket", "direct site", 50),
            "inline-db / queued-db": ratio("inline-db", "queued-db", 50),
            "inline-bucket / queued-bucket": ratio("inline-bucket", "queued-bucket", 50),
        },
        "ratios_p95": {
            "inline-db / direct site": ratio("inline-db", "direct site", 95),
            "inline-bucket / direct site": ratio("inline-bucket", "direct site", 95),
        },
        "iterations_per_round": ITERATIONS_PER_ROUND,
        "warmup_iterations": WARMUP_ITERATIONS,
        "figures_are": (
            "median over rounds of each round's percentile; ratios: median over rounds of each round's ratio"
        ),
        "checked": checked,
        "load_average_1min": load,
        "all_ms": {label: [rounded(v * 1000, 1) for r in values for v in r] for label, values in named.items()},
    }
    return result.finish()


if __name__ == "__main__":
    sys.exit(main())
