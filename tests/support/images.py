"""Images (and non-images) made on the fly, so the tests need no binary fixtures."""

from __future__ import annotations

import io
import math
import random
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps

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


def encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **options)
    return buffer.getvalue()


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


def large_png(width: int, height: int, *, alpha: bool = True) -> bytes:
    """An 8-bit RGB(A) PNG of any size that compresses to a few hundred KB: a colour ramp across, each row as the last.

    Written row by row, so making a 60 MP file costs the test no more than a row of memory.
    """
    channels = 4 if alpha else 3
    first = bytes(
        value for x in range(width) for value in (x * 255 // width, 255 - x * 255 // width, 128, 255)[:channels]
    )
    same_as_above = b"\x02" + bytes(width * channels)  # filter 2 (Up) with zero differences
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(b"\x00" + first)]
    parts.extend(compressor.compress(same_as_above) for _ in range(height - 1))
    idat = b"".join(parts) + compressor.flush()
    colour_type = 6 if alpha else 2
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def large_animated_gif(width: int, height: int, frames: int) -> bytes:
    """An animated GIF: a first frame covering the whole canvas, then `frames - 1` small ones moving across it.

    Pillow would hold every frame at full size to write this; here only the first is made at
    full size (a palette image, one byte a pixel) and the others are 64x64 blocks placed by hand.
    """
    palette = [channel for index in range(256) for channel in (index, 255 - index, (index * 7) % 256)]
    canvas = Image.new("P", (width, height), 0)
    canvas.putpalette(palette)
    first = encode(canvas, "GIF")
    tile = Image.new("P", (64, 64), 0)
    tile.putpalette(palette)
    parts = [first[: first.rindex(b"\x3b")]]  # everything but the trailer
    for number in range(1, frames):
        tile.paste(number % 256, (0, 0, 64, 64))
        block = _gif_image_block(encode(tile, "GIF"))
        left, top = (number * 64) % (width - 64), (number * 64) % (height - 64)
        delay = struct.pack("<H", 10)
        parts.append(b"\x21\xf9\x04\x00" + delay + b"\x00\x00")  # graphic control extension: 0.1 s
        parts.append(block[:1] + struct.pack("<HH", left, top) + block[5:])
    return b"".join([*parts, b"\x3b"])


def _gif_image_block(data: bytes) -> bytes:
    """The image descriptor and data of a one-frame GIF, from its 0x2C to just before its trailer."""
    flags = data[10]
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while data[position] == 0x21:  # skip extensions: introducer, label, sub-blocks
        position += 2
        while data[position]:
            position += 1 + data[position]
        position += 1
    assert data[position] == 0x2C and data.endswith(b"\x3b")
    return data[position:-1]


def large_webp(width: int, height: int) -> bytes:
    """A lossless WebP of one colour: tens of bytes for any size (up to WebP's 16383 per side)."""
    return encode(Image.new("RGB", (width, height), (200, 30, 40)), "WEBP", lossless=True, quality=0, method=0)


def large_jpeg(width: int, height: int, *, progressive: bool = False) -> bytes:
    """A gradient JPEG, a few hundred KB however many pixels."""
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    return encode(gradient, "JPEG", quality=80, progressive=progressive)


# Pixel noise for noisy_photo: made once, sliced at random offsets (generating it per picture
# cost more than encoding the picture).
_NOISE = random.Random(20240612).randbytes(1500 * 1000 * 4 * 2)  # noqa: S311 - test pictures, not secrets


def noisy_photo(rng: random.Random, width: int, height: int, *, alpha: bool = False) -> Image.Image:
    """A picture with a photo's fine grain: smooth random colour patches under sensor-like noise.

    Its compressed bytes look random, like a real photo's, which is what a search of them for
    text by chance needs.
    """
    mode = "RGBA" if alpha else "RGB"
    channels = len(mode)
    cells = (max(2, width // rng.randint(8, 64)), max(2, height // rng.randint(8, 64)))
    patches = Image.frombytes(mode, cells, rng.randbytes(cells[0] * cells[1] * channels))
    patches = patches.resize((width, height), Image.Resampling.BILINEAR)
    offset = rng.randrange(len(_NOISE) - width * height * channels)
    grain = Image.frombytes(mode, (width, height), _NOISE[offset : offset + width * height * channels])
    return Image.blend(patches, grain, rng.uniform(0.05, 0.4))


@dataclass(frozen=True)
class Photo:
    description: str
    data: bytes


def photo_corpus(count: int, seed: int) -> Iterator[Photo]:
    """`count` genuine-looking photos of varied formats, encoder settings and sizes, the same for the same seed.

    Sizes run from 100x100 to 1500x1000, most of them small (area spread evenly on a log scale,
    one in sixteen from the large end) so that thousands encode in seconds.
    """
    rng = random.Random(seed)  # noqa: S311 - test pictures, not secrets
    for _ in range(count):
        low, high = (2e5, 1.5e6) if rng.random() < 1 / 16 else (1e4, 2e5)
        area = math.exp(rng.uniform(math.log(low), math.log(high)))
        aspect = rng.uniform(2 / 3, 3 / 2)
        width = min(1500, max(100, round(math.sqrt(area * aspect))))
        height = min(1000, max(100, round(area / width)))
        kind = rng.random()
        if kind < 0.55:
            options: dict[str, object] = {"quality": rng.randint(50, 98), "progressive": rng.random() < 0.4}
            if rng.random() < 0.5:
                options["optimize"] = True
            fmt, alpha = "JPEG", False
        elif kind < 0.75:
            fmt, alpha, options = "PNG", rng.random() < 0.4, {"compress_level": rng.choice([1, 6])}
        elif kind < 0.9:
            fmt, alpha, options = "WEBP", rng.random() < 0.3, {"quality": rng.randint(50, 95), "method": 0}
        else:
            fmt, alpha, options = "WEBP", rng.random() < 0.3, {"lossless": True, "quality": 0, "method": 0}
        described = " ".join(f"{key}={value}" for key, value in options.items())
        mode = "RGBA" if alpha else "RGB"
        picture = noisy_photo(rng, width, height, alpha=alpha)
        yield Photo(f"{width}x{height} {mode} {fmt} {described}", encode(picture, fmt, **options))


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
