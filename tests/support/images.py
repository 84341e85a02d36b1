"""Images (and non-images) made on the fly, so the tests need no binary fixtures."""

from __future__ import annotations

import io
import struct
import zlib

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
