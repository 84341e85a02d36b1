"""What making an image's thumbnails costs in memory, reckoned from its header without decoding it.

The web request refuses what would not fit (upload_checks.py) and the worker checks again before
it decodes (rendering.py); the pipeline's shape (bands, output mode, fitted size) lives here so the
estimate and the pipeline it estimates cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

SIXTEEN_BIT_GRAY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
# The largest thumbnail (conf.THUMBNAIL_SIZES); JPEG's reduced-scale decoding depends on it.
LARGEST_THUMBNAIL = 1600

MIB = 1024 * 1024
# What one image's pixels may cost a worker: the decoder's buffers, the decoded picture, the
# copies the pipeline makes and the compressed bytes it holds, as estimate_decode() reckons them
# from the header. A Procfile worker is about 60 MiB before its first job (docs/performance.md),
# so this keeps its peak resident memory within 256 MiB, half a 512 MB dyno, with room to spare
# for the allocator and for what the estimate cannot see (measured: docs/performance.md, "Decode
# budget"). A fixed pixel cap cannot do this: 60 MP costs 11 MiB as a baseline JPEG decoded at
# reduced scale, 57 MiB as a GIF and about 900 MiB as a WebP.
DECODE_BUDGET_BYTES = 150 * MIB
# Bytes per pixel of Pillow's image memory by mode: 1, 2 or 4 (RGB is stored as 4, like RGBA).
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# Decoding a WebP holds libwebp's animation canvas and the canvas it keeps for disposal, the
# frame Pillow copies out of it as bytes, and the image made from them (4 bytes a pixel each),
# and for a lossless file the VP8L decoder's own full-size ARGB buffer: measured at 15.3 bytes a
# pixel for lossy and lossless files alike (docs/performance.md), rounded up.
_WEBP_DECODE_BYTES_PER_PIXEL = 17
# The pipeline converts and resizes a picture in bands of rows this large, so that only the
# decoded picture exists at full size (see rendering._shrink).
BAND_BYTES = 4 * MIB


@dataclass(frozen=True)
class DecodeCost:
    """What making thumbnails of one image would cost in memory, reckoned from its header."""

    decoding: int  # the decoder's own buffers and the decoded picture
    pipeline: int  # conversion bands, the half-resized picture, the thumbnails and their encoding
    source: int  # the compressed bytes, held by the storage, Pillow and the checks

    @property
    def total(self) -> int:
        return self.decoding + self.pipeline + self.source

    @property
    def within_budget(self) -> bool:
        return self.total <= DECODE_BUDGET_BYTES


def estimate_decode(im: Image.Image, data: bytes, largest: int = LARGEST_THUMBNAIL) -> DecodeCost:
    """What render_thumbnails would hold in memory at once for this image, from its header alone.

    An upper bound, summed over the stages of the pipeline although they overlap only in part.
    Only the first frame of an animation is ever decoded, so frames do not count. For a JPEG it
    asks libjpeg for reduced-scale decoding (Image.draft), as rendering does, and leaves it asked.
    """
    width, height = im.size
    target_width, target_height = fit(width, height, largest)
    if im.format == "JPEG":
        im.draft(im.mode, (target_width, target_height))
    decoded_width, decoded_height = im.size
    if im.format == "WEBP":
        decoding = width * height * _WEBP_DECODE_BYTES_PER_PIXEL
    else:
        decoding = decoded_width * decoded_height * pixel_bytes(im.mode)
        if im.format == "JPEG" and _jpeg_is_multiscan(im, data):
            decoding += _jpeg_coefficient_bytes(im, width, height)
    output_bytes = pixel_bytes(output_mode(im))
    rows = band_rows(decoded_width)
    # A band as cropped, converted and premultiplied at full width, then resized to the target width.
    bands = rows * (decoded_width * (pixel_bytes(im.mode) + 4 + 4) + target_width * 4)
    # The picture resized across but not yet down (see rendering._shrink).
    half_resized = target_width * decoded_height * output_bytes
    # The largest thumbnail, its unpremultiplied or upright copy, and the encoder's buffers.
    thumbnail = target_width * target_height * (2 * output_bytes + 4)
    return DecodeCost(decoding=decoding, pipeline=bands + half_resized + thumbnail, source=3 * len(data))


def pixel_bytes(mode: str) -> int:
    return _PIXEL_BYTES.get(mode, 4)


def band_rows(width: int) -> int:
    return max(1, BAND_BYTES // (4 * width))


def _jpeg_is_multiscan(im: Image.Image, data: bytes) -> bool:
    """True if libjpeg must hold every DCT coefficient of the image before it can output a row.

    A progressive JPEG always has several scans; a sequential one may too. Inside compressed
    scan data 0xFF is always followed by 0x00 or a restart marker, so another start-of-scan
    before the first end-of-image is a real scan (camera trailers and MPF pictures come after).
    """
    if im.info.get("progressive"):
        return True
    position = jpeg_first_scan(data)
    if position is None:
        return True  # cannot tell: assume the dearer case
    scan = data.find(b"\xff\xda", position)
    end = data.find(b"\xff\xd9", position)
    return scan != -1 and (end == -1 or scan < end)


def _jpeg_coefficient_bytes(im: Image.Image, width: int, height: int) -> int:
    """libjpeg's whole-image coefficient buffer: 64 two-byte coefficients per 8x8 block of each component.

    Reduced-scale decoding does not shrink it: a 60 MP 4:2:0 photo needs 180 MB, 4:4:4 360 MB.
    """
    layers = getattr(im, "layer", None) or [("", 1, 1, 0)] * 3
    h_max = max(layer[1] for layer in layers)
    v_max = max(layer[2] for layer in layers)
    mcu_columns = -(-width // (8 * h_max))
    mcu_rows = -(-height // (8 * v_max))
    return sum(mcu_columns * layer[1] * mcu_rows * layer[2] * 64 * 2 for layer in layers)


def jpeg_first_scan(data: bytes) -> int | None:
    """Where the compressed data of the first scan starts, or None if the headers end first.

    Header segments are skipped by their lengths, since an embedded EXIF thumbnail has markers
    of its own.
    """
    position = 2  # after the start-of-image marker, which Pillow has already read
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
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
            return position
    return None


def fit(width: int, height: int, size: int) -> tuple[int, int]:
    scale = min(1.0, size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def output_mode(im: Image.Image) -> str:
    if im.mode in SIXTEEN_BIT_GRAY_MODES:
        return "L"
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        return "RGBA"
    if im.mode in ("RGB", "L"):
        return im.mode
    return "RGB"
