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
