"""A real browser (Debian's headless Chromium, driven by Playwright) against real processes.

gunicorn serves the site as the Procfile's web process does, a Procfile worker makes the
thumbnails, and a real SMTP server catches the confirmation email. Every page is checked with
axe-core (axe-playwright-python's bundled axe.min.js): no serious or critical violation. The
README's screenshots (desktop, phone, dark) are taken by this test: into its temporary folder,
or, with REFRESH_SCREENSHOTS=1, over the committed ones in docs/screenshots/ (README, "Tests").
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

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
from tests.support.web import collect_static, free_port, listening

COMMITTED_SCREENSHOTS = ROOT / "docs" / "screenshots"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium); CI has it"),
]


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
    collect_static(env)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    web_argv = procfile_command("web")
    web = Process([gunicorn, *web_argv[1:]], env)
    worker = Process(procfile_command("worker"), env)
    try:
        wait_until(lambda: listening(port), 30, "gunicorn to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        web.stop()
        worker.stop()


def check_accessibility(page, checked: dict[str, list]) -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    grave = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    checked[page.url] = [(v["id"], v["impact"]) for v in results.response["violations"]]
    assert grave == [], f"{page.url}: {results.generate_report()}"


def test_a_person_signs_up_uploads_several_files_at_once_opens_and_deletes_one(site, smtp_server, tmp_path, capsys):
    from playwright.sync_api import expect, sync_playwright

    screenshots = COMMITTED_SCREENSHOTS if os.environ.get("REFRESH_SCREENSHOTS") == "1" else tmp_path / "screenshots"

    holiday = images.encode(images.quadrants(1800, 1200), "JPEG", quality=90)
    diagram = images.encode(images.quadrants(900, 900).convert("RGBA"), "PNG")
    portrait = images.encode(images.quadrants(900, 1350), "JPEG", quality=85)
    fake = b"these are my meeting notes, not a photo"
    checked: dict[str, list] = {}

    with sync_playwright() as playwright:
        browser = launch(playwright, tmp_path, "profile")
        page = browser.new_page()
        page.add_init_script(COUNT_PROGRESS)

        page.goto(site + "/")
        expect(page.locator("main")).to_contain_text("Watch a worker make its thumbnails")
        check_accessibility(page, checked)
        favicon = page.request.get(site + "/favicon.ico")
        assert favicon.status == 200 and favicon.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
        screenshots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshots / "landing-desktop.png"), full_page=True)

        page.click("main a:has-text('Sign up to try it')")
        # The rules are on screen before anything is typed.
        expect(page.locator("main")).to_contain_text("at least 8 characters")
        check_accessibility(page, checked)
        page.fill("input[name=email]", "grace@example.com")
        page.fill("input[name=password]", "correct-horse-battery")
        page.click("main button[type=submit]")
        expect(page.locator("main")).to_contain_text("Check your inbox")
        expect(page.locator("nav")).to_contain_text("Log in")  # signing up does not log in
        check_accessibility(page, checked)

        [message] = smtp_server.wait_for_messages(1, timeout=30)
        body = message.get_body(preferencelist=("plain",)).get_content()
        link = re.search(r"(http://\S+/confirm/\S+/)", body).group(1)
        page.goto(link)
        expect(page.locator("main")).to_contain_text("grace@example.com is confirmed")
        check_accessibility(page, checked)

        page.click("main a.login")
        check_accessibility(page, checked)
        page.fill("input[name=username]", "grace@example.com")
        page.fill("input[name=password]", "correct-horse-battery")
        page.click("main button[type=submit]")
        expect(page.locator("nav")).to_contain_text("grace@example.com")
        expect(page.locator(".banner")).to_have_count(0)
        expect(page.locator(".empty")).to_contain_text("No images yet")
        check_accessibility(page, checked)

        # Four files dropped at once: three images and one that only pretends to be.
        drop_files(
            page,
            ".dropzone",
            [
                ("holiday.jpg", "image/jpeg", holiday),
                ("diagram.png", "image/png", diagram),
                ("notes.jpg", "image/jpeg", fake),
                ("portrait.jpg", "image/jpeg", portrait),
            ],
        )
        rows = page.locator(".queue li")
        expect(rows).to_have_count(4)
        for name in ("holiday.jpg", "diagram.png", "portrait.jpg"):
            expect(rows.filter(has_text=name).locator(".state")).to_have_text("Ready", timeout=60_000)
            assert rows.filter(has_text=name).locator("progress").evaluate("bar => bar.value") == 100
        expect(rows.filter(has_text="notes.jpg").locator(".state.failed")).to_contain_text("not an image we can read")
        progress = page.evaluate("window.progressEvents")
        assert all(progress.get(name, 0) >= 1 for name in ("holiday.jpg", "diagram.png", "portrait.jpg")), progress
        # The live region said so to screen readers.
        expect(page.locator("#announcer[aria-live=polite]")).not_to_be_empty()
        thumbnails = page.locator(".gallery li.image img")
        expect(thumbnails).to_have_count(3)
        expect(page.locator(".gallery .status-ready")).to_have_count(3)
        for index in range(3):
            assert thumbnails.nth(index).evaluate("img => img.complete && img.naturalWidth > 0 && img.alt !== ''")
        check_accessibility(page, checked)

        page.screenshot(path=str(screenshots / "upload-desktop.png"), full_page=True)

        # A file that is plainly not an image is caught before any byte is sent.
        drop_files(page, ".dropzone", [("readme.txt", "text/plain", b"hello")])
        expect(page.locator(".queue li", has_text="readme.txt").locator(".state.failed")).to_contain_text(
            "Only JPEG, PNG, WebP and GIF"
        )
        assert "readme.txt" not in page.evaluate("window.progressEvents")
        # So is one over the size limit (the limit is in the form; the bytes are made in the page).
        drop_a_file_over_the_limit(page, "huge.jpg")
        expect(page.locator(".queue li", has_text="huge.jpg").locator(".state.failed")).to_contain_text("MB limit")
        assert "huge.jpg" not in page.evaluate("window.progressEvents")

        # The keyboard alone: Tab to the picker, open it, choose a file, Tab to Upload, Enter.
        small = tmp_path / "keyboard.png"
        small.write_bytes(images.encode(images.quadrants(500, 400), "PNG"))
        page.goto(site + "/")
        page.keyboard.press("Tab")
        for _ in range(20):
            if page.evaluate("document.activeElement.type") == "file":
                break
            page.keyboard.press("Tab")
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Space")
        chooser.value.set_files(str(small))
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Upload"
        page.keyboard.press("Enter")
        expect(page.locator(".queue li", has_text="keyboard.png").locator(".state")).to_have_text(
            "Ready", timeout=60_000
        )

        page.goto(site + "/")
        expect(page.locator(".gallery li.image")).to_have_count(4)
        # Cards are as tall as their own content, not the tallest in their row.
        heights = page.locator(".gallery li.image").evaluate_all(
            "items => items.map(i => i.getBoundingClientRect().height)"
        )
        assert len(set(round(h) for h in heights)) > 1, heights
        page.screenshot(path=str(screenshots / "gallery-desktop.png"), full_page=True)

        # The image page: the largest thumbnail, its dimensions, status and attempts.
        page.click(".gallery a.name:has-text('holiday.jpg')")
        expect(page.locator("main h2")).to_have_text("holiday.jpg")
        shown = page.locator(".image-page figure img")
        expect(shown).to_have_attribute("width", "1600")
        assert shown.evaluate("img => img.complete && img.naturalWidth === 1600")
        facts = page.locator(".facts")
        expect(facts).to_contain_text("1800 × 1200 px")
        expect(facts).to_contain_text("Ready")
        expect(facts).to_contain_text("Attempts")
        check_accessibility(page, checked)

        # Delete, after a confirmation.
        page.click("main a:has-text('Delete')")
        expect(page.locator("main h2")).to_have_text("Delete “holiday.jpg”?")
        check_accessibility(page, checked)
        page.click("main button:has-text('Delete')")
        expect(page.locator(".messages")).to_contain_text("“holiday.jpg” is deleted.")
        expect(page.locator(".gallery li.image")).to_have_count(3)
        expect(page.locator(".gallery")).not_to_contain_text("holiday.jpg")
        check_accessibility(page, checked)
        page.click(".messages .dismiss")
        expect(page.locator(".messages")).to_have_count(0)

        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.reload()
        expect(page.locator(".gallery li.image img")).to_have_count(3)
        page.screenshot(path=str(screenshots / "gallery-phone.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
        # The header on a phone: the brand clear of the top edge, the address and Log out on one row below it.
        brand, who, log_out = (page.locator(s).bounding_box() for s in (".brand", "nav .who", "nav button"))
        assert brand["y"] >= 6, brand
        assert who["y"] >= brand["y"] + brand["height"], (brand, who)
        assert abs((who["y"] + who["height"] / 2) - (log_out["y"] + log_out["height"] / 2)) < 4, (who, log_out)
        assert log_out["x"] + log_out["width"] <= 390 - 12, log_out
        browser.close()

        dark = launch(playwright, tmp_path, "dark-profile", color_scheme="dark")
        page = dark.new_page()
        log_in(page, site, "grace@example.com", "correct-horse-battery")
        expect(page.locator(".gallery li.image img")).to_have_count(3)
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(246, 247, 251)"
        check_accessibility(page, checked)
        page.screenshot(path=str(screenshots / "gallery-dark.png"), full_page=True)
        page.click("nav button:has-text('Log out')")
        for path in ("/login/", "/signup/"):
            page.goto(site + path)
            check_accessibility(page, checked)
        page.screenshot(path=str(screenshots / "signup-dark.png"), full_page=True)

        # The password pages, with the rules shown before a new one is typed.
        page.goto(site + "/password/reset/")
        check_accessibility(page, checked)
        page.fill("input[name=email]", "grace@example.com")
        page.click("main button[type=submit]")
        expect(page.locator("main")).to_contain_text("Check your inbox")
        check_accessibility(page, checked)
        reset = smtp_server.wait_for_messages(2, timeout=30)[-1]
        body = reset.get_body(preferencelist=("plain",)).get_content()
        page.goto(re.search(r"(http://\S+/password/reset/\S+/)", body).group(1))
        expect(page.locator("main")).to_contain_text("at least 8 characters")
        check_accessibility(page, checked)
        page.fill("input[name=new_password1]", "another-horse-battery")
        page.fill("input[name=new_password2]", "another-horse-battery")
        page.click("main button[type=submit]")
        expect(page.locator("main")).to_contain_text("Your password is changed")
        check_accessibility(page, checked)
        dark.close()

    with capsys.disabled():
        print(f"\naxe-core, no serious or critical violation on {len(checked)} pages; all findings: {checked}")
        print(f"browser screenshots in {screenshots}")


def test_without_javascript_the_plain_form_uploads_and_reload_shows_the_thumbnails(site, tmp_path, django_user_model):
    from django.utils import timezone
    from playwright.sync_api import expect, sync_playwright

    django_user_model.objects.create_user(
        email="ada@example.com", password="a-long-passphrase-42", email_confirmed_at=timezone.now()
    )
    jpeg = tmp_path / "plain.jpg"
    jpeg.write_bytes(images.encode(images.quadrants(1200, 800), "JPEG", quality=90))

    with sync_playwright() as playwright:
        browser = launch(playwright, tmp_path, "profile", java_script_enabled=False)
        page = browser.new_page()
        log_in(page, site, "ada@example.com", "a-long-passphrase-42")
        expect(page.locator(".dismiss")).to_be_hidden()  # a button that could do nothing is not shown
        page.set_input_files("input[type=file]", str(jpeg))
        page.click("button:has-text('Upload')")
        expect(page.locator(".messages")).to_contain_text("“plain.jpg” is uploaded.")
        expect(page.locator(".gallery li.image")).to_have_count(1)
        for _ in range(60):
            if page.locator(".gallery .status-ready").count():
                break
            page.wait_for_timeout(1000)
            page.reload()
        expect(page.locator(".gallery li.image img")).to_have_count(1)
        browser.close()


def make_thumbnails(image) -> None:
    from django.db import connection

    from media_tasks import jobs

    try:
        jobs.make_thumbnails(image.pk)
    finally:
        connection.close()


def test_the_image_page_shows_the_thumbnail_when_it_is_made_without_a_reload(site, tmp_path, django_user_model):
    from django.core.files.base import ContentFile
    from django.urls import reverse
    from django.utils import timezone
    from playwright.sync_api import expect, sync_playwright

    from media_tasks.models import Image

    owner = django_user_model.objects.create_user(
        email="lin@example.com", password="a-long-passphrase-42", email_confirmed_at=timezone.now()
    )
    # Stored but not queued, so that it is still pending when the page opens; the test makes
    # the thumbnails itself afterwards, as the worker would.
    image = Image(owner=owner, token="a" * 32, original_name="harbour.jpg", width=1800, height=1200)
    image.original.save(image.token, ContentFile(images.encode(images.quadrants(1800, 1200), "JPEG")), save=False)
    image.save()

    with sync_playwright() as playwright:
        browser = launch(playwright, tmp_path, "profile")
        page = browser.new_page()
        log_in(page, site, "lin@example.com", "a-long-passphrase-42")
        page.goto(site + reverse("image_detail", args=[image.pk]))
        expect(page.locator(".facts .status")).to_have_text("Queued")
        expect(page.locator(".image-page figure img")).to_have_count(0)
        page.wait_for_timeout(1500)  # it has asked at least once and found nothing new

        # In a thread of its own: Playwright's sync API keeps an event loop in this one, where
        # Django refuses database calls.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(make_thumbnails, image).result()

        shown = page.locator(".image-page figure img")
        expect(shown).to_have_attribute("width", "1600", timeout=15_000)
        expect(page.locator(".facts .status")).to_have_text("Ready")
        expect(page.locator(".facts")).to_contain_text("1600 × 1067")
        expect(page.locator("#announcer[aria-live=polite]")).to_have_text("Status: Ready")
        page.wait_for_function("document.querySelector('.image-page figure img').naturalWidth === 1600")
        check_accessibility(page, {})
        browser.close()
