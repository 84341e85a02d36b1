"""What a web request checks of an upload before it is stored: pure functions of the bytes, no Django models."""

from __future__ import annotations

import math
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from PIL import Image, UnidentifiedImageError

from media_tasks.decode_budget import DECODE_BUDGET_BYTES, LARGEST_THUMBNAIL, estimate_decode, jpeg_first_scan
from media_tasks.hidden_markup import (
    HIDDEN_MARKUP_MESSAGE,
    gif_colour_table_bytes,
    gif_skip_sub_blocks,
    has_hidden_markup,
)

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
# Refuse long before Pillow's own decompression-bomb limits (89 MP warning, 179 MP error).
MAX_PIXELS = 60_000_000
# Smaller than this is not a picture anyone meant to upload (tracking pixels, broken exports).
MIN_EDGE = 16
NOT_AN_IMAGE = "The file is not an image we can read. Upload a JPEG, PNG, WebP or GIF."
DAMAGED = "The image file is damaged or incomplete."
TOO_MANY_PIXELS = f"The image has more than {MAX_PIXELS // 1_000_000} megapixels; please upload a smaller one."


class UnreadableImage(Exception):
    """The bytes are not an image this project accepts; the message is for a person."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


@contextmanager
def opened(source: IO[bytes]) -> Iterator[Image.Image]:
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


def inspect_image(source: IO[bytes], *, largest: int = LARGEST_THUMBNAIL) -> ImageInfo:
    """Decide in the web request whether the bytes are an image worth queueing.

    The format comes from the bytes, never the name or declared type, and the file is checked
    to its end without decoding pixels (JPEG end marker, PNG checksums, the GIF block structure,
    WebP length), so that a truncated upload is refused here while the request stays a few
    milliseconds long. What making its thumbnails would cost in memory is reckoned from the
    header (estimate_decode), so a file a worker could not make within DECODE_BUDGET_BYTES is
    refused here too, with what to do instead. Damage inside the compressed pixels is found by
    the worker, which marks the image failed with why.
    """
    with opened(source) as im:
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
        check_budget(im, data, largest, info.width, info.height)
    if has_hidden_markup(data):
        raise UnreadableImage(HIDDEN_MARKUP_MESSAGE)
    source.seek(0)
    return info


def check_budget(im: Image.Image, data: bytes, largest: int, width: int, height: int) -> None:
    cost = estimate_decode(im, data, largest)
    if cost.within_budget:
        return
    kind = {"WEBP": "WebP"}.get(im.format or "", im.format or "image")
    if kind == "JPEG":
        # A baseline JPEG of any accepted size fits; only a progressive one can get here.
        kind, instead = "progressive JPEG", "save it as a baseline (not progressive) JPEG"
    else:
        instead = "save it as a JPEG"
    raise UnreadableImage(
        f"The image is too large to process: making thumbnails of this {width}×{height} {kind} would need "
        f"about {math.ceil(cost.total / 1e6)} MB of memory, more than the {DECODE_BUDGET_BYTES // 1_000_000} MB "
        f"we allow. Please upload a smaller image, or {instead}."
    )


def _check_complete(im: Image.Image, data: bytes) -> None:
    if im.format == "JPEG":
        if not _jpeg_has_end_marker(data):
            raise ValueError("JPEG file ends before its end-of-image marker")
    elif im.format == "PNG":
        im.verify()
    elif im.format == "GIF":
        if not _gif_is_complete(data):
            raise ValueError("GIF file ends before its trailer")
    elif im.format == "WEBP":
        declared = struct.unpack("<I", data[4:8])[0] + 8
        if data[:4] != b"RIFF" or len(data) < declared:
            raise ValueError("WebP file is shorter than its header says")


def _jpeg_has_end_marker(data: bytes) -> bool:
    """True if an end-of-image marker follows the first scan: the file was not cut short.

    Inside compressed scan data every 0xFF byte is followed by 0x00 or a restart marker, so
    FF D9 after the first start-of-scan can only be the real end (bytes.find runs at memory
    speed; decoding the pixels to learn the same took 35 ms for 12 MP).
    """
    position = jpeg_first_scan(data)
    return position is not None and data.find(b"\xff\xd9", position) != -1


def _gif_is_complete(data: bytes) -> bool:
    """True if the GIF's blocks run whole from its header to its trailer (0x3B).

    Walks the structure (screen descriptor, colour tables, extensions, image descriptors and
    the length-prefixed sub-blocks of their data) without decompressing anything: decoding the
    frames to learn the same cost a web process 54 MB for one 59.5 MP GIF.
    """
    if len(data) < 13:
        return False
    position = 13 + gif_colour_table_bytes(data[10])  # header (6) and logical screen descriptor (7)
    while position < len(data):
        introducer = data[position]
        if introducer == 0x3B:
            return True
        if introducer == 0x21:  # extension: a label byte, then sub-blocks
            position = gif_skip_sub_blocks(data, position + 2)
        elif introducer == 0x2C:  # image: a 10-byte descriptor, a colour table, the LZW code size, sub-blocks
            if position + 10 > len(data):
                return False
            position += 10 + gif_colour_table_bytes(data[position + 9])
            position = gif_skip_sub_blocks(data, position + 1)
        else:
            return False
    return False
