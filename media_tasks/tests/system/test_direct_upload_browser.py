"""Direct uploads in a real browser: the page on gunicorn, the bucket on an S3 server process.

The bucket's CORS rule is set by `manage.py s3_cors` as on a deploy. The page's POST to the bucket
is preflighted (its XHR listens to upload progress). Under LocalStack (S3_TEST_SERVER=localstack,
as in CI's LocalStack step) the bucket answers the preflight and the POST by that rule, as S3
does, so this test shows the rule lets the site's origin in. moto 5.2.5 does not apply the rule
to a form POST (it adds no CORS headers to that answer, whatever the rule) and keeps its global
CORS, which allows every origin: under moto the test shows the browser's path end to end only.
Another origin refused: test_direct_upload.py, under LocalStack.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from media_tasks.tests.support import HOSTILE
from media_tasks.tests.system.browser import (
    CHROMIUM,
    COUNT_PROGRESS,
    drop_a_file_over_the_limit,
    drop_files,
    launch,
    log_in,
)
from tests.support import images
from tests.support.processes import ROOT, Process, procfile_command, wait_until
from tests.support.s3 import ACCESS_KEY, BUCKET, ON_LOCALSTACK, REGION, SECRET_KEY
from tests.support.web import collect_static, free_port, listening

# What acceptance names: text named .jpg, a polyglot, a truncated JPEG, a pixel bomb (the
# over-budget PNG is left to test_direct_upload.py: making its 59 MP takes long on a busy machine).
HOSTILE_FILES = [param.values for param in HOSTILE if param.id != "over-the-decode-budget"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium); CI has it"),
]


@pytest.fixture
def bucket_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """An S3 server as its own process, as a bucket is another host the browser reaches.

    LocalStack's (its own process already; emptied around the test), or a moto server process.
    """
    if ON_LOCALSTACK:
        yield request.getfixturevalue("s3_endpoint")
        return
    port = free_port()
    env = dict(os.environ)
    server = Process([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env)
    try:
        wait_until(lambda: listening(port), 30, "moto to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket_site(worker_env, bucket_endpoint) -> Iterator[tuple[str, Process, dict[str, str]]]:
    """gunicorn and a worker storing media in the bucket; gunicorn logs each request's body length."""
    boto3.client(
        "s3",
        endpoint_url=bucket_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    ).create_bucket(Bucket=BUCKET)
    port = free_port()
    env = {
        **worker_env,
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_S3_ENDPOINT_URL": bucket_endpoint,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
    }
    site = f"http://127.0.0.1:{port}"
    collect_static(env)
    # What a deploy runs once: the bucket accepts POSTs from the site's origin, and only from it.
    subprocess.run([sys.executable, "manage.py", "s3_cors", "--origin", site], cwd=ROOT, env=env, check=True)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    log_format = "ACCESS %(m)s %(U)s %(s)s body=%({content-length}i)s"
    web = Process([gunicorn, *procfile_command("web")[1:], "--access-logformat", log_format], env)
    worker = Process(procfile_command("worker"), env)
    try:
        wait_until(lambda: listening(port), 30, "gunicorn to listen")
        yield site, web, env
    finally:
        web.stop()
        worker.stop()


def test_files_go_straight_to_the_bucket_a_jpeg_is_served_and_hostile_ones_fail_unserved(
    bucket_site, django_user_model, tmp_path
):
    from django.utils import timezone
    from playwright.sync_api import expect, sync_playwright

    from media_tasks import upload_checks
    from media_tasks.models import Image

    site, web, env = bucket_site
    django_user_model.objects.create_user(
        email="ada@example.com", password="a-long-passphrase-42", email_confirmed_at=timezone.now()
    )
    holiday = images.encode(images.quadrants(1800, 1200), "JPEG", quality=95)
    assert len(holiday) > 40_000
    hostile = {name: make() for name, make in HOSTILE_FILES}
    # The words the upload through the site answers these bytes with; the worker must say the same.
    reasons = {}
    for name, data in hostile.items():
        with pytest.raises(upload_checks.UnreadableImage) as refused:
            upload_checks.inspect_image(io.BytesIO(data))
        reasons[name] = str(refused.value)
    bucket = boto3.client(
        "s3",
        endpoint_url=env["AWS_S3_ENDPOINT_URL"],
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )

    with sync_playwright() as playwright:
        browser = launch(playwright, tmp_path, "profile")
        page = browser.new_page()
        page.add_init_script(COUNT_PROGRESS)
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.on(
            "requestfailed", lambda request: console.append(f"failed {request.method} {request.url} {request.failure}")
        )
        # What the script sends the site (multipart forms), to look each key up afterwards.
        sent: dict[str, list[str]] = {"/upload/presign/": [], "/upload/complete/": []}

        def keep_form(request) -> None:
            path = request.url.removeprefix(site)
            if request.method == "POST" and path in sent:
                sent[path].append((request.post_data_buffer or b"").decode("utf-8", "replace"))

        page.on("request", keep_form)
        log_in(page, site, "ada@example.com", "a-long-passphrase-42")
        expect(page.locator("form.upload[data-direct-upload]")).to_have_count(1)

        # All at once, as a person dragging five files from their desktop.
        drop_files(
            page,
            ".dropzone",
            [("holiday.jpg", "image/jpeg", holiday)]
            + [(name, "image/png" if name.endswith(".png") else "image/jpeg", data) for name, data in hostile.items()],
        )

        rows = page.locator(".queue li")
        expect(rows.filter(has_text="holiday.jpg").locator(".state")).to_have_text("Ready", timeout=60_000)
        for name, reason in reasons.items():
            card = page.locator(".gallery li.image", has_text=name)
            expect(card.locator(".error")).to_have_text(reason, timeout=60_000)
            expect(card.locator("img")).to_have_count(0)
        assert page.evaluate("window.progressEvents").get("holiday.jpg", 0) >= 1
        thumbnail = page.locator(".gallery li.image img")
        expect(thumbnail).to_have_count(1)  # the hostile files have none
        # Loaded from the bucket and decoded; it may still be loading when its card appears.
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
        assert thumbnail.get_attribute("src").startswith(env["AWS_S3_ENDPOINT_URL"] + f"/{BUCKET}/thumbnails/")

        # Each hostile object went to the bucket; the site serves none of them (the bucket: below).
        completed = [re.search(r"uploads/\d+/[0-9a-f]{32}/[\w.-]+", body).group() for body in sent["/upload/complete/"]]
        assert len(completed) == 5, sent
        for key in completed:
            assert page.request.get(f"{site}/media/{key}").status == 404, key
        # A file over the limit is refused in the page: no presigned POST is even asked for.
        drop_a_file_over_the_limit(page, "huge.jpg")
        expect(rows.filter(has_text="huge.jpg").locator(".state.failed")).to_contain_text("MB limit")
        assert "huge.jpg" not in page.evaluate("window.progressEvents")
        assert not [body for body in sent["/upload/presign/"] if "huge.jpg" in body]
        browser.close()

    kept = sorted(thumb.file.name for thumb in Image.objects.get(original_name="holiday.jpg").thumbnails.all())

    def only_the_jpegs_thumbnails_left() -> bool:
        # Objects are deleted once the rows' commit is done, a moment after the card says so.
        return [item["Key"] for item in bucket.list_objects_v2(Bucket=BUCKET).get("Contents", [])] == kept

    wait_until(only_the_jpegs_thumbnails_left, 30, "the bucket to hold only the JPEG's thumbnails")
    failed = Image.objects.filter(status=Image.Status.FAILED)
    assert sorted(failed.values_list("original_name", flat=True)) == sorted(hostile)
    # The rows no longer name an object, and have no thumbnail to serve.
    assert set(failed.values_list("original", flat=True)) == {""}
    assert not failed.filter(thumbnails__isnull=False).exists()
    assert not [line for line in console if "CORS" in line], console
    log = web.output()
    posts = re.findall(r"ACCESS POST (\S+) (\d+) body=(\S+)", log)
    assert sorted({path for path, _, _ in posts}) == ["/login/", "/upload/complete/", "/upload/presign/"], log
    # No request to the site carried a file: every body is a few form fields.
    assert all(int(length) < 4_000 for _, _, length in posts), posts
