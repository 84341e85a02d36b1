"""What several of the demo's test modules share (test modules never import each other)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from emails.models import OutgoingEmail
from media_tasks.models import Image
from tests.support import images
from tests.support.backend import visitor
from tests.support.processes import ROOT

# Worker processes started with this folder on PYTHONPATH load its sitecustomize.py, which slows
# each thumbnail down by FAULT_SLOW_SECONDS (slowed_thumbnails()).
FAULTS = Path(__file__).resolve().parent / "faults"
# Made once: a test times the site, not Pillow encoding the upload. 640 px wide: two thumbnails.
PHOTO = images.jpeg_bytes(640, 480)


def slowed_thumbnails(seconds: float) -> dict[str, str]:
    """The environment of a worker whose every thumbnail takes `seconds` longer (see FAULTS)."""
    return {"FAULT_SLOW_SECONDS": str(seconds), "PYTHONPATH": f"{FAULTS}:{ROOT}"}


def stored_failed_image(owner, name: str = "broken-before.jpg") -> Image:
    image = Image(owner=owner, token=secrets.token_hex(16), original_name=name, status=Image.Status.FAILED)
    image.original.save(image.token, ContentFile(images.jpeg_bytes(640, 480)), save=False)
    image.failure_reason = "Simulated earlier failure."
    image.attempts = 5
    image.save()
    return image


def unfinished() -> int:
    images_left = Image.objects.exclude(status=Image.Status.READY).count()
    return images_left + OutgoingEmail.objects.exclude(status=OutgoingEmail.Status.SENT).count()


def sign_up(n: int) -> None:
    signed_up = visitor().post(reverse("signup"), {"email": f"user-{n}@example.com", "password": "a-long-pass-42x"})
    assert signed_up.status_code == 302


def _jpeg_with_script() -> bytes:
    # A polyglot: a real JPEG whose comment segment a browser would run as a page.
    return images.jpeg_with_segment(images.jpeg_bytes(300, 200), 0xFE, b"<script>alert(document.cookie)</script>")


HOSTILE = [
    pytest.param("notes.jpg", lambda: b"just some text, named like a photo\n" * 20, id="text-named-jpg"),
    pytest.param("polyglot.jpg", _jpeg_with_script, id="polyglot"),
    pytest.param("cut.jpg", lambda: images.jpeg_bytes(1200, 900)[:-4000], id="truncated-jpeg"),
    pytest.param("bomb.png", lambda: images.png_bomb(9000, 8000), id="pixel-bomb-png"),
    pytest.param("budget.png", lambda: images.large_png(7000, 8430), id="over-the-decode-budget"),
]
