"""A real browser (Debian's headless Chromium, driven by Playwright) against real processes.

gunicorn serves the site as the Procfile's web process does, a Procfile worker makes the
thumbnails, and a real SMTP server catches the confirmation email. Screenshots of the final
gallery (desktop and phone widths) are written to artifacts/ and their paths printed.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support import images
from tests.support.processes import Process, procfile_command, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    *("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"),
    *("--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"),
]
ARTIFACTS = ROOT / "artifacts"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium); CI has it"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def site(worker_env, smtp_server) -> Iterator[str]:
    """The web process (gunicorn, as in the Procfile) and a worker, sharing only the database and Redis."""
    port = free_port()
    env = {
        **worker_env,
        **smtp_server.env,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        # The browser talks plain HTTP to 127.0.0.1, which it treats as a secure context, so
        # Secure cookies still work; only the redirect to https (Heroku's router) is left out.
        "DJANGO_SECURE_SSL_REDIRECT": "0",
    }
    # What the buildpack does at build time: the manifest static storage needs it.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    web_argv = procfile_command("web")
    web = Process([gunicorn, *web_argv[1:]], env)
    worker = Process(procfile_command("worker"), env)
    try:
        wait_until(lambda: _listening(port), 30, "gunicorn to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        web.stop()
        worker.stop()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_person_signs_up_confirms_logs_in_uploads_and_watches_thumbnails_appear(site, smtp_server, tmp_path, capsys):
    from playwright.sync_api import expect, sync_playwright

    jpeg = tmp_path / "holiday.jpg"
    jpeg.write_bytes(images.encode(images.quadrants(1800, 1200), "JPEG", quality=90))
    png = tmp_path / "diagram.png"
    png.write_bytes(images.encode(images.quadrants(900, 900).convert("RGBA"), "PNG"))
    fake = tmp_path / "notes.jpg"
    fake.write_bytes(b"these are my meeting notes, not a photo")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh, empty profile
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 900},
        )
        page = browser.new_page()

        page.goto(site + "/signup/")
        page.fill("input[name=email]", "grace@example.com")
        page.fill("input[name=password]", "correct-horse-battery")
        page.click("button[type=submit]")
        expect(page.locator("main")).to_contain_text("Check your inbox")
        expect(page.locator("nav")).to_contain_text("Log in")  # signing up does not log in

        [message] = smtp_server.wait_for_messages(1, timeout=30)
        body = message.get_body(preferencelist=("plain",)).get_content()
        link = re.search(r"(http://\S+/confirm/\S+/)", body).group(1)
        page.goto(link)
        expect(page.locator("main")).to_contain_text("grace@example.com is confirmed")

        page.click("main a.login")
        page.fill("input[name=username]", "grace@example.com")
        page.fill("input[name=password]", "correct-horse-battery")
        page.click("main button[type=submit]")
        expect(page.locator("nav")).to_contain_text("grace@example.com")
        expect(page.locator(".banner")).to_have_count(0)
        for upload in (jpeg, png):
            page.set_input_files("input[type=file]", str(upload))
            page.click("button:has-text('Upload')")
            expect(page.locator(".messages")).to_contain_text("is uploaded")
        # No reload from here on: the page's own script must bring the thumbnails in.
        thumbnails = page.locator(".gallery li.image img")
        expect(thumbnails).to_have_count(2, timeout=30_000)
        expect(page.locator(".gallery .status-ready")).to_have_count(2)
        for index in range(2):
            assert thumbnails.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")

        page.set_input_files("input[type=file]", str(fake))
        page.click("button:has-text('Upload')")
        expect(page.locator(".form-errors")).to_contain_text("not an image we can read")
        expect(page.locator(".gallery li.image")).to_have_count(2)

        ARTIFACTS.mkdir(exist_ok=True)
        page.goto(site + "/")
        expect(thumbnails).to_have_count(2)
        desktop = ARTIFACTS / "gallery-desktop.png"
        page.screenshot(path=str(desktop), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.reload()
        expect(thumbnails).to_have_count(2)
        mobile = ARTIFACTS / "gallery-phone.png"
        page.screenshot(path=str(mobile), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
        browser.close()

    with capsys.disabled():
        print(f"\nbrowser screenshots: {desktop} {mobile}")
