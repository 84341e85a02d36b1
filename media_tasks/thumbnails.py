"""Pillow work for thumbnails: pure functions from bytes to bytes, no Django models."""

from __future__ import annotations

import io
import re
import struct
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
# Refuse long before Pillow's own decompression-bomb limits (89 MP warning, 179 MP error).
MAX_PIXELS = 60_000_000
# Smaller than this is not a picture anyone meant to upload (tracking pixels, broken exports).
MIN_EDGE = 16
JPEG_QUALITY = 85
# zlib's default level, without Pillow's optimize=True (level 9 plus a filter search): measured
# (bench/thumbnail_pipeline.py) 1.6 times faster on a photo with transparency, and 1% smaller
# there; up to 4% larger on flat graphics, where the search pays. PNG is lossless either way.
PNG_COMPRESS_LEVEL = 6
# EXIF orientations that turn the picture a quarter, swapping width and height.
ROTATED_ORIENTATIONS = frozenset({5, 6, 7, 8})
SIXTEEN_BIT_GRAY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
NOT_AN_IMAGE = "The file is not an image we can read. Upload a JPEG, PNG, WebP or GIF."
DAMAGED = "The image file is damaged or incomplete."
TOO_MANY_PIXELS = f"The image has more than {MAX_PIXELS // 1_000_000} megapixels; please upload a smaller one."

# Markup hidden in an image file (a "polyglot") is how an upload becomes a stored XSS page if
# the bytes are ever served as HTML; such files are refused even though Pillow can read them.
HIDDEN_MARKUP = re.compile(rb"<\s*(?:script|html|svg|iframe|object|embed|body|\?php|!doctype)\b", re.IGNORECASE)
HIDDEN_MARKUP_MESSAGE = "The file has web page content hidden in it; please export the image again and upload that."

_SRGB = ImageCms.createProfile("sRGB")


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


@contextmanager
def _opened(source: IO[bytes]) -> Iterator[Image.Image]:
    """Image.open with Pillow's bomb warning turned into the error it should be."""
    source.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as im:
                yield im
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnreadableImage(TOO_MANY_PIXELS) from exc
    except UnidentifiedImageError as exc:
        raise UnreadableImage(NOT_AN_IMAGE) from exc
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise UnreadableImage(f"{DAMAGED} ({exc})") from exc
    finally:
        source.seek(0)


def inspect_image(source: IO[bytes]) -> ImageInfo:
    """Decide in the web request whether the bytes are an image worth queueing.

    The format comes from the bytes, never the name or declared type, and the file is checked
    to its end without decoding pixels (JPEG end marker, PNG checksums, WebP length), so that a
    truncated upload is refused here while the request stays a few milliseconds long. Damage
    inside the compressed pixels is found by the worker, which marks the image failed with why.
    """
    with _opened(source) as im:
        info = ImageInfo(format=im.format or "", width=im.width, height=im.height)
        if info.format not in ALLOWED_FORMATS:
            raise UnreadableImage(f"{info.format} files are not supported. Upload a JPEG, PNG, WebP or GIF.")
        if info.width * info.height > MAX_PIXELS:
            raise UnreadableImage(TOO_MANY_PIXELS)
        if min(info.width, info.height) < MIN_EDGE:
            raise UnreadableImage(
                f"The image is only {info.width}×{info.height} pixels; it must be at least "
                f"{MIN_EDGE} pixels on each side."
            )
        source.seek(0)
        data = source.read()
        try:
            _check_complete(im, data)
        except (OSError, SyntaxError, ValueError, struct.error) as exc:
            raise UnreadableImage(DAMAGED) from exc
    if HIDDEN_MARKUP.search(data):
        raise UnreadableImage(HIDDEN_MARKUP_MESSAGE)
    source.seek(0)
    return info


def _check_complete(im: Image.Image, data: bytes) -> None:
    if im.format == "JPEG":
        if not _jpeg_has_end_marker(data):
            raise ValueError("JPEG file ends before its end-of-image marker")
    elif im.format == "PNG":
        im.verify()
    elif im.format == "GIF":
        im.load()
    elif im.format == "WEBP":
        declared = struct.unpack("<I", data[4:8])[0] + 8
        if data[:4] != b"RIFF" or len(data) < declared:
            raise ValueError("WebP file is shorter than its header says")


def _jpeg_has_end_marker(data: bytes) -> bool:
    """True if an end-of-image marker follows the first scan: the file was not cut short.

    Header segments are skipped by their lengths, since an embedded EXIF thumbnail has markers
    of its own. Inside compressed scan data every 0xFF byte is followed by 0x00 or a restart
    marker, so FF D9 after the first start-of-scan can only be the real end (bytes.find runs
    at memory speed; decoding the pixels to learn the same took 35 ms for 12 MP).
    """
    position = 2  # after the start-of-image marker, which Pillow has already read
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return False
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        position += 2 + length
        if marker == 0xDA:  # start of scan: compressed data follows the header
            return data.find(b"\xff\xd9", position) != -1
    return False


def render_thumbnails(source: IO[bytes], sizes: Sequence[int]) -> list[RenderedThumbnail]:
    """Make one thumbnail per size (longest edge), largest first, each resized from the last.

    Outputs are re-encoded from pixels only: upright (EXIF orientation applied), in sRGB, with
    no EXIF, GPS or other metadata, PNG where there is transparency and JPEG otherwise.
    """
    sizes = sorted(sizes, reverse=True)
    with _opened(source) as im:
        if im.format not in ALLOWED_FORMATS:
            raise UnreadableImage(f"{im.format} files are not supported.")
        if im.width * im.height > MAX_PIXELS:
            raise UnreadableImage(TOO_MANY_PIXELS)
        try:
            full_width, full_height = im.size
            if im.getexif().get(ExifTags.Base.Orientation) in ROTATED_ORIENTATIONS:
                full_width, full_height = full_height, full_width
            # JPEG can decode straight to a smaller scale (1/2, 1/4, 1/8) that still covers the
            # largest thumbnail: a quarter of the memory and time for a photo, or less.
            im.draft(im.mode, _fit(im.width, im.height, sizes[0]))
            frame = ImageOps.exif_transpose(im)
            frame = _to_srgb(frame, im.info.get("icc_profile"))
            frame = _normalise_mode(frame)
        except (OSError, SyntaxError, ValueError) as exc:
            raise UnreadableImage(f"{DAMAGED} ({exc})") from exc
    # Target sizes come from the full-size dimensions, so the cascade never compounds rounding;
    # each step still resizes from the previous, smaller one.
    rendered = []
    for size in sizes:
        target = _fit(full_width, full_height, size)
        if target != frame.size:
            frame = frame.resize(target, Image.Resampling.LANCZOS)
        rendered.append(_encode(frame, size))
    return rendered


def _fit(width: int, height: int, size: int) -> tuple[int, int]:
    scale = min(1.0, size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_srgb(im: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert colour pixels from an embedded profile to sRGB, so outputs need no profile."""
    if not icc_profile or im.mode not in ("RGB", "RGBA", "CMYK"):
        return im
    try:
        source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        output_mode = "RGBA" if im.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(im, source_profile, _SRGB, outputMode=output_mode) or im
    except (ImageCms.PyCMSError, OSError, ValueError):
        return im  # a broken profile is not worth failing a thumbnail over


def _normalise_mode(im: Image.Image) -> Image.Image:
    if im.mode in SIXTEEN_BIT_GRAY_MODES:
        # Scale 16-bit samples down instead of clipping them, which would turn the image white.
        return im.convert("I").point(lambda value: value / 256).convert("L")
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        return im.convert("RGBA")
    if im.mode in ("RGB", "L"):
        return im  # already a decoded copy, detached from the file; another would only cost memory
    return im.convert("RGB")


def _encode(frame: Image.Image, size: int) -> RenderedThumbnail:
    buffer = io.BytesIO()
    if frame.mode == "RGBA":
        frame.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
        extension = "png"
    else:
        frame.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        extension = "jpg"
    return RenderedThumbnail(
        size=size, width=frame.width, height=frame.height, content=buffer.getvalue(), extension=extension
    )
