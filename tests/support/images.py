"""Images made on the fly, so the tests need no binary fixtures."""

from __future__ import annotations

import io

from PIL import Image

ORIENTATION_TAG = 0x0112


def jpeg_bytes(width: int, height: int, *, orientation: int | None = None) -> bytes:
    """A JPEG whose left half is red and right half blue, optionally with an EXIF orientation."""
    im = Image.new("RGB", (width, height), "blue")
    im.paste((255, 0, 0), (0, 0, width // 2, height))
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    im.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def png_bytes(width: int, height: int, mode: str = "RGBA") -> bytes:
    im = Image.new(mode, (width, height))
    buffer = io.BytesIO()
    im.save(buffer, "PNG")
    return buffer.getvalue()


def open_bytes(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im
