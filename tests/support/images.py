"""Images (and non-images) made on the fly, so the tests need no binary fixtures."""

from __future__ import annotations

import io
import random
import re
import struct
import zlib

from PIL import Image, ImageCms, ImageOps

# Made for bench/ too, which must not import tests/: one copy, in devtools/, re-exported here.
from devtools.images import Photo as Photo
from devtools.images import _png_chunk
from devtools.images import encode as encode
from devtools.images import large_animated_gif as large_animated_gif
from devtools.images import large_jpeg as large_jpeg
from devtools.images import large_png as large_png
from devtools.images import noisy_photo as noisy_photo
from devtools.images import photo_corpus as photo_corpus

ORIENTATION_TAG = 0x0112
GPS_TAG = 0x8825
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def jpeg_bytes(width: int, height: int, *, orientation: int | None = None) -> bytes:
    """A JPEG whose left half is red and right half blue, optionally with an EXIF orientation."""
    im = Image.new("RGB", (width, height), "blue")
    im.paste(RED, (0, 0, width // 2, height))
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    return encode(im, "JPEG", quality=90, exif=exif.tobytes())


def quadrants(width: int = 300, height: int = 200) -> Image.Image:
    """Upright reference picture: red, green / blue, white."""
    im = Image.new("RGB", (width, height), WHITE)
    im.paste(RED, (0, 0, width // 2, height // 2))
    im.paste(GREEN, (width // 2, 0, width, height // 2))
    im.paste(BLUE, (0, height // 2, width // 2, height))
    return im


# What a camera stores for each EXIF orientation, given the upright picture: the inverse of
# the transpose a viewer applies (ImageOps.exif_transpose's table).
_STORED_FOR_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def camera_jpeg(orientation: int, upright: Image.Image) -> bytes:
    method = _STORED_FOR_ORIENTATION[orientation]
    stored = upright if method is None else upright.transpose(method)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    assert ImageOps.exif_transpose(open_bytes(data)).size == upright.size
    return data


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    exif.get_ifd(GPS_TAG)[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    return encode(quadrants(), "JPEG", exif=exif.tobytes())


def swapped_primaries_profile() -> bytes:
    """An RGB ICC profile whose red and green primaries trade places: red pixels mean green."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", data[128:132])[0]
    entries = {bytes(data[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    red, green = entries[b"rXYZ"], entries[b"gXYZ"]
    data[red + 4 : red + 12], data[green + 4 : green + 12] = data[green + 4 : green + 12], data[red + 4 : red + 12]
    return bytes(data)


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of huge dimensions that compresses to a few KB."""
    row = b"\0" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def animated(fmt: str, colours: list[tuple[int, int, int]]) -> bytes:
    frames = [Image.new("RGB", (64, 48), colour) for colour in colours]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


SVG_PLAIN = b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100"/></svg>'
SVG_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" onload="alert(1)">'
    b"<script>alert(document.cookie)</script></svg>"
)
HTML_PAGE = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
PDF_DOCUMENT = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def open_bytes(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def large_webp(width: int, height: int) -> bytes:
    """A lossless WebP of one colour: tens of bytes for any size (up to WebP's 16383 per side)."""
    return encode(Image.new("RGB", (width, height), (200, 30, 40)), "WEBP", lossless=True, quality=0, method=0)


# Pixel noise for noisy_photo: made once, sliced at random offsets (generating it per picture
# cost more than encoding the picture).
_NOISE = random.Random(20240612).randbytes(1500 * 1000 * 4 * 2)  # noqa: S311 - test pictures, not secrets


# Files hiding markup (or spelling text by chance) where an image format has room for it: spliced
# into genuine files, so that Pillow still reads them.

MARKUP = b'<svg onload="alert(document.cookie)"></svg>'


def jpeg_with_segment(data: bytes, marker: int, payload: bytes, *, before_scan: int = 0) -> bytes:
    """The JPEG with a segment added just before its start-of-scan number `before_scan` (0: the first)."""
    position = -1
    for _ in range(before_scan + 1):
        position = data.index(b"\xff\xda", position + 1)
    segment = bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
    return data[:position] + segment + data[position:]


def jpeg_scan_spelling(data: bytes, text: bytes, *, start: int = 0) -> bytes:
    """The JPEG with `text` written over compressed bytes of the first scan after `start`.

    It lands where no 0xFF is near, so the file's markers stay as they were: libjpeg decodes
    the blocks there wrongly, as it would a bit flipped on a disk.
    """
    scan = data.index(b"\xff\xda", start)
    scan += 2 + int.from_bytes(data[scan + 2 : scan + 4], "big")
    next_marker = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]").search(data, scan)
    assert next_marker is not None
    end = next_marker.start()
    position = (scan + end) // 2
    while b"\xff" in data[position - 1 : position + len(text) + 1]:
        position += 1
    assert position + len(text) < end
    return data[:position] + text + data[position + len(text) :]


def exif_with_thumbnail(thumbnail: bytes) -> bytes:
    """An APP1 EXIF payload that carries a JPEG thumbnail, as cameras write (the TIFF structure cut to a minimum)."""
    return b"Exif\0\0" + b"MM\0*\0\0\0\x08" + b"\0\0" + b"\0\0\0\0" + thumbnail


def png_with_chunk(data: bytes, kind: bytes, body: bytes, *, after_pixels: bool = False) -> bytes:
    """The PNG with a chunk added after its header, or just before IEND."""
    position = data.index(b"IEND") - 4 if after_pixels else 8 + 25
    return data[:position] + _png_chunk(kind, body) + data[position:]


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_spelling(text: bytes, width: int = 64, height: int = 64) -> bytes:
    """A grey PNG whose first row of pixels spells `text`, stored uncompressed (deflate's stored blocks)."""
    row = text + bytes(width - len(text))
    rows = b"".join(b"\x00" + (row if y == 0 else bytes([128]) * width) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(rows, 0)
    return _PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def gif_with_extension(data: bytes, label: int, payload: bytes, *, header: bytes = b"") -> bytes:
    """The GIF with an extension block before its first image or extension.

    The block is the extension's own header (a sub-block of its own, if any), then the payload
    cut into sub-blocks of 255 bytes, as encoders write it.
    """
    flags = data[10]
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    pieces = [payload[start : start + 255] for start in range(0, len(payload), 255)]
    if header:
        pieces.insert(0, header)
    blocks = b"".join(bytes([len(piece)]) + piece for piece in pieces) + b"\0"
    return data[:position] + bytes([0x21, label]) + blocks + data[position:]


def webp_with_chunk(data: bytes, kind: bytes, body: bytes) -> bytes:
    """The WebP with a chunk added at the end of its RIFF, whose length is raised to match."""
    chunk = kind + struct.pack("<I", len(body)) + body + b"\0" * (len(body) & 1)
    riff_end = 8 + struct.unpack("<I", data[4:8])[0]
    grown = data[:riff_end] + chunk + data[riff_end:]
    return grown[:4] + struct.pack("<I", riff_end - 8 + len(chunk)) + grown[8:]
