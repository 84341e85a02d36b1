"""Test images made on the fly, so nothing has to be downloaded: pictures of any size that cost
little memory to make, and photo-like ones with a real photo's grain. The tests (through
tests/support/images.py) and the benchmarks use the same ones."""

from __future__ import annotations

import io
import math
import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image


def encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **options)
    return buffer.getvalue()


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
