"""Driving Debian's headless Chromium with Playwright, for the demo's browser tests."""

from __future__ import annotations

import base64
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    *("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"),
    *("--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"),
]
# Counts the upload progress events of every XMLHttpRequest, so the test knows each bar moved.
COUNT_PROGRESS = """
(() => {
  window.progressEvents = {};
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (body) {
    const name = body instanceof FormData && body.get("file") ? body.get("file").name : "";
    this.upload.addEventListener("progress", () => {
      window.progressEvents[name] = (window.progressEvents[name] || 0) + 1;
    });
    return send.call(this, body);
  };
})();
"""


def drop_files(page, selector: str, files: list[tuple[str, str, bytes]]) -> None:
    """Drop files on an element as a person dragging them from their desktop would."""
    payload = [{"name": name, "type": kind, "data": base64.b64encode(data).decode()} for name, kind, data in files]
    transfer = page.evaluate_handle(
        """files => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, { type: f.type }));
            }
            return transfer;
        }""",
        payload,
    )
    page.dispatch_event(selector, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def drop_a_file_over_the_limit(page, name: str) -> None:
    """A JPEG one byte over the form's limit, made in the page (the limit is in the form)."""
    transfer = page.evaluate_handle(
        """([max, name]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(max + 1)], name, { type: "image/jpeg" }));
            return transfer;
        }""",
        [int(page.get_attribute("form.upload", "data-max-bytes")), name],
    )
    page.dispatch_event(".dropzone", "drop", {"dataTransfer": transfer})


def launch(playwright, tmp_path: Path, name: str, **options):
    return playwright.chromium.launch_persistent_context(
        str(tmp_path / name),  # a fresh, empty profile
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        viewport={"width": 1200, "height": 900},
        **options,
    )


def log_in(page, site: str, email: str, password: str) -> None:
    page.goto(site + "/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
