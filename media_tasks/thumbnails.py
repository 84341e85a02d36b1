"""Pillow work for thumbnails: pure functions from bytes to bytes, no Django models."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
# Pillow warns above ~89 MP and raises above twice that; refuse well before either.
MAX_PIXELS = 60_000_000
JPEG_QUALITY = 85
# EXIF orientations that turn the picture a quarter, swapping width and height.
ROTATED_ORIENTATIONS = frozenset({5, 6, 7, 8})


class UnreadableImage(Exception):
    """The bytes are not an image this project accepts; the message is for a person."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


@dataclass(frozen=True)
class RenderedThumbnail:
    size: int
    width: int
    height: int
    content: bytes
    extension: str


def inspect_image(source: IO[bytes]) -> ImageInfo:
    """Check the header and structure without decoding pixels, so it is cheap in a request."""
    try:
        with Image.open(source) as im:
            im.verify()
            info = ImageInfo(format=im.format or "", width=im.width, height=im.height)
    except Image.DecompressionBombError as exc:
        raise UnreadableImage("The image has too many pixels to process.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage("The file is not an image we can read (JPEG, PNG, WebP or GIF).") from exc
    finally:
        source.seek(0)
    if info.format not in ALLOWED_FORMATS:
        raise UnreadableImage(f"{info.format or 'This'} images are not supported; use JPEG, PNG, WebP or GIF.")
    if info.width * info.height > MAX_PIXELS:
        raise UnreadableImage(
            f"The image is {info.width}×{info.height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels."
        )
    return info


def render_thumbnails(source: IO[bytes], sizes: Sequence[int]) -> list[RenderedThumbnail]:
    """Make one thumbnail per size (longest edge), largest first, each resized from the last."""
    sizes = sorted(sizes, reverse=True)
    try:
        with Image.open(source) as im:
            if im.format not in ALLOWED_FORMATS:
                raise UnreadableImage(f"{im.format} images are not supported.")
            if im.width * im.height > MAX_PIXELS:
                raise UnreadableImage("The image has too many pixels to process.")
            full_width, full_height = im.size
            if im.getexif().get(ExifTags.Base.Orientation) in ROTATED_ORIENTATIONS:
                full_width, full_height = full_height, full_width
            # JPEG can decode straight to a smaller scale: far less memory and time.
            im.draft("RGB", (sizes[0], sizes[0]))
            frame = ImageOps.exif_transpose(im)
            frame = _normalise_mode(frame)
            # Target sizes come from the full-size dimensions, so the cascade never
            # compounds rounding; each step still resizes from the previous, smaller one.
            rendered = []
            for size in sizes:
                target = _fit(full_width, full_height, size)
                if target != frame.size:
                    frame = frame.resize(target, Image.Resampling.LANCZOS)
                rendered.append(_encode(frame, size))
            return rendered
    except Image.DecompressionBombError as exc:
        raise UnreadableImage("The image has too many pixels to process.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage(f"The image data is damaged and cannot be decoded ({exc}).") from exc


def _fit(width: int, height: int, size: int) -> tuple[int, int]:
    scale = min(1.0, size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _normalise_mode(im: Image.Image) -> Image.Image:
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        return im.convert("RGBA")
    if im.mode in ("RGB", "L"):
        return im.copy()
    return im.convert("RGB")


def _encode(frame: Image.Image, size: int) -> RenderedThumbnail:
    buffer = io.BytesIO()
    if frame.mode == "RGBA":
        frame.save(buffer, "PNG", optimize=True)
        extension = "png"
    else:
        frame.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        extension = "jpg"
    return RenderedThumbnail(
        size=size, width=frame.width, height=frame.height, content=buffer.getvalue(), extension=extension
    )
