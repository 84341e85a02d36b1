"""The gallery page: database queries for 10 and for 200 images, and its render time for 200.

    .venv/bin/python -m media_tasks.bench.gallery

Two users get 10 and 200 images (a quarter each ready with three thumbnails, pending,
processing, failed; rows only, since the page never reads the files), and the page is requested
through Django's full stack in this process (middleware, session, the view, the template), with
production settings (DEBUG off). Queries are counted with CaptureQueriesContext on one request
each; times are of RENDERS requests after WARMUP, without capturing. media_tasks/tests/test_gallery_queries.py
asserts the equal query count in the test suite.
"""

from __future__ import annotations

import secrets
import sys
import time
from typing import Any

from bench.common import QUICK, Result, environment, percentile, rounded, setup_django

WARMUP = 5
RENDERS = 40
if QUICK:
    # A smoke test (bench.run --quick): the least that still runs every code path.
    WARMUP, RENDERS = 1, 2


def add_images(owner: Any, count: int) -> None:
    """Rows for every status, three thumbnails for each ready one; media_tasks/tests/test_gallery_queries.py
    makes its rows with this too, so that the figure and the test's assertion describe one page.
    Tokens are unique, so each user's numbers start past the last user's."""
    from media_tasks.models import Image, Thumbnail

    statuses = (Image.Status.READY, Image.Status.PENDING, Image.Status.PROCESSING, Image.Status.FAILED)
    start = Image.objects.count()
    failed = "The image file is damaged or incomplete."
    images = Image.objects.bulk_create(
        Image(
            owner=owner,
            token=f"{n:032x}",
            original_name=f"photo-{n}.jpg",
            original=f"originals/{owner.pk}/{n:032x}",
            width=1200,
            height=800,
            status=statuses[n % len(statuses)],
            failure_reason=failed if statuses[n % len(statuses)] == "failed" else "",
        )
        for n in range(start, start + count)
    )
    Thumbnail.objects.bulk_create(
        Thumbnail(
            image=image,
            size=size,
            file=f"thumbnails/{owner.pk}/{image.token}-{size}.jpg",
            width=size,
            height=size * 2 // 3,
        )
        for image in images
        if image.status == Image.Status.READY
        for size in (1600, 800, 400)
    )


def client_for(owner: Any) -> Any:
    from django.test import Client

    # Heroku's router says the request came over HTTPS; without it the site redirects.
    client = Client(headers={"Host": "127.0.0.1", "X-Forwarded-Proto": "https"})
    client.force_login(owner)
    return client


def count_queries(client: Any) -> tuple[int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("gallery"))
    if response.status_code != 200:
        raise RuntimeError(f"the gallery answered {response.status_code}")
    return len(captured.captured_queries), len(response.content)


def render_times(client: Any) -> list[float]:
    from django.urls import reverse

    path = reverse("gallery")
    for _ in range(WARMUP):
        client.get(path)
    times = []
    for _ in range(RENDERS):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"the gallery answered {response.status_code}")
    return times


def main() -> int:
    result = Result("gallery", "gallery", "gallery page: query count for 10 and 200 images, render time")
    with environment("gallery") as env:
        setup_django(env.env)
        from django.core.management import call_command

        from accounts.models import User

        # Production settings serve hashed static files, whose manifest a deploy's build makes
        # (staticfiles/ is git-ignored): without it a fresh clone's page cannot render.
        call_command("collectstatic", interactive=False, verbosity=0)

        measured: dict[int, dict[str, Any]] = {}
        for count in (10, 200):
            owner = User.objects.create_user(email=f"gallery-{count}@example.com", password=secrets.token_hex(16))
            add_images(owner, count)
            client = client_for(owner)
            queries, size = count_queries(client)
            times = render_times(client)
            measured[count] = {
                "queries": queries,
                "html_bytes": size,
                "p50_ms": rounded(percentile(times, 50) * 1000),
                "p95_ms": rounded(percentile(times, 95) * 1000),
            }
            print(f"{count} images: {measured[count]}", flush=True)
        database = env.database

    same = measured[10]["queries"] == measured[200]["queries"]
    result.add(
        "queries, 10 / 200 images",
        measured[200]["queries"],
        "queries",
        target="same for 10 and 200",
        met=same,
        note=f"{measured[10]['queries']} for 10 images",
    )
    result.add(
        "render p50, 200 images",
        measured[200]["p50_ms"],
        "ms",
        note=f"p95 {measured[200]['p95_ms']} ms; 10 images: p50 {measured[10]['p50_ms']} ms",
    )
    result.details = {"database": database, "renders": RENDERS, "pages": measured}
    return result.finish()


if __name__ == "__main__":
    sys.exit(main())
