"""Direct uploads in a real browser: the page on gunicorn, the bucket on a moto server process.

The bucket's CORS rule is set by `manage.py s3_cors` as on a deploy, but moto 5.2.5 does not
apply it to a form POST to a bucket (it adds no CORS headers to that answer, whatever the rule),
so this moto keeps its global CORS, which allows every origin: the test shows the browser's path
end to end, not that S3 refuses another origin (the rule itself: test_direct_upload.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.conftest import ROOT
from tests.demo.test_browser import CHROMIUM, COUNT_PROGRESS, _listening, drop_files, free_port, launch, log_in
from tests.support import images
from tests.support.processes import Process, procfile_command, wait_until
from tests.test_s3_storage import ACCESS_KEY, BUCKET, REGION, SECRET_KEY

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium); CI has it"),
]


@pytest.fixture
def moto_process() -> Iterator[str]:
    """moto as its own server process, as a bucket is another host the browser reaches."""
    port = free_port()
    env = dict(os.environ)
    server = Process([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env)
    try:
        wait_until(lambda: _listening(port), 30, "moto to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket_site(worker_env, moto_process) -> Iterator[tuple[str, Process, dict[str, str]]]:
    """gunicorn and a worker storing media in the moto bucket; gunicorn logs each request's body length."""
    boto3.client(
        "s3",
        endpoint_url=moto_process,
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
        "AWS_S3_ENDPOINT_URL": moto_process,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
    }
    site = f"http://127.0.0.1:{port}"
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    # What a deploy runs once: the bucket accepts POSTs from the site's origin, and only from it.
    subprocess.run([sys.executable, "manage.py", "s3_cors", "--origin", site], cwd=ROOT, env=env, check=True)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    log_format = "ACCESS %(m)s %(U)s %(s)s body=%({content-length}i)s"
    web = Process([gunicorn, *procfile_command("web")[1:], "--access-logformat", log_format], env)
    worker = Process(procfile_command("worker"), env)
    try:
        wait_until(lambda: _listening(port), 30, "gunicorn to listen")
        yield site, web, env
    finally:
        web.stop()
        worker.stop()


def test_files_go_straight_to_the_bucket_a_jpeg_is_served_and_a_hostile_one_fails(
    bucket_site, django_user_model, tmp_path
):
    from django.utils import timezone
    from playwright.sync_api import expect, sync_playwright

    site, web, env = bucket_site
    django_user_model.objects.create_user(
        email="ada@example.com", password="a-long-passphrase-42", email_confirmed_at=timezone.now()
    )
    holiday = images.encode(images.quadrants(1800, 1200), "JPEG", quality=95)
    assert len(holiday) > 40_000
    fake = b"these are my meeting notes, not a photo\n" * 50

    with sync_playwright() as playwright:
        browser = launch(playwright, tmp_path, "profile")
        page = browser.new_page()
        page.add_init_script(COUNT_PROGRESS)
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.on(
            "requestfailed", lambda request: console.append(f"failed {request.method} {request.url} {request.failure}")
        )
        log_in(page, site, "ada@example.com", "a-long-passphrase-42")
        expect(page.locator("form.upload[data-direct-upload]")).to_have_count(1)

        drop_files(page, ".dropzone", [("holiday.jpg", "image/jpeg", holiday), ("notes.jpg", "image/jpeg", fake)])

        rows = page.locator(".queue li")
        expect(rows.filter(has_text="holiday.jpg").locator(".state")).to_have_text("Ready", timeout=60_000)
        failed = page.locator(".gallery li.image", has_text="notes.jpg")
        expect(failed.locator(".error")).to_contain_text("not an image we can read", timeout=60_000)
        assert page.evaluate("window.progressEvents").get("holiday.jpg", 0) >= 1
        thumbnail = page.locator(".gallery li.image img")
        expect(thumbnail).to_have_count(1)  # the hostile file has none
        assert thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
        assert thumbnail.get_attribute("src").startswith(env["AWS_S3_ENDPOINT_URL"] + f"/{BUCKET}/thumbnails/")
        browser.close()

    assert not [line for line in console if "CORS" in line], console
    log = web.output()
    posts = re.findall(r"ACCESS POST (\S+) (\d+) body=(\S+)", log)
    assert sorted({path for path, _, _ in posts}) == ["/login/", "/upload/complete/", "/upload/presign/"], log
    # No request to the site carried the file: every body is a few form fields.
    assert all(int(length) < 4_000 for _, _, length in posts), posts
