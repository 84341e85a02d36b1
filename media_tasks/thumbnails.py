"""Pillow work for thumbnails: pure functions from bytes to bytes, no Django models."""

from __future__ import annotations

import io
import math
import re
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
# Refuse long before Pillow's own decompression-bomb limits (89 MP warning, 179 MP error).
MAX_PIXELS = 60_000_000
# Smaller than this is not a picture anyone meant to upload (tracking pixels, broken exports).
MIN_EDGE = 16
# Thumbnails are WebP, lossy, with the alpha channel kept losslessly where the picture has one:
# every browser in use has shown WebP since 2020, so no fallback is made. Measured on a 20-image
# gallery (bench/thumbnail_formats.py, docs/performance.md, section 8) against the JPEG (quality
# 85) and PNG thumbnails they replaced: under half the bytes a page fetches at every viewport.
# Opaque pictures (photos, a GIF's first frame) at 88, the lowest quality at which the photos'
# SSIM matches the JPEGs' (0.0005 below it; 85 was 0.0105 below): there WebP is barely smaller
# than JPEG, so the halving comes from the transparent pictures. AVIF was smaller still, but
# browsers have had it only since 2024, so it would need a fallback: two files per size.
WEBP_QUALITY = 88
# Pictures with transparency were lossless PNGs, which no lossy quality matches (even 100 is
# 0.005 SSIM below on a cut-out photo, and lossless WebP is 0.8 times the PNG): 85 makes them
# a twelfth of the PNG, and a higher quality would cost the gallery its halving (88: 0.50x).
WEBP_QUALITY_TRANSPARENT = 85
# libwebp's effort, 0 (fastest) to 6: 0 made transparent pictures 40% larger, 6 took seconds a
# set for 3-4% fewer bytes (docs/performance.md, section 8).
WEBP_METHOD = 4
# Thumbnails made before WebP were JPEG (opaque) and PNG (alpha); their rows keep those names,
# which the media view and the storages still serve by their extension.
CONTENT_TYPES = {"webp": "image/webp", "jpg": "image/jpeg", "png": "image/png"}
# EXIF orientations that turn the picture a quarter, swapping width and height.
ROTATED_ORIENTATIONS = frozenset({5, 6, 7, 8})
SIXTEEN_BIT_GRAY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
NOT_AN_IMAGE = "The file is not an image we can read. Upload a JPEG, PNG, WebP or GIF."
DAMAGED = "The image file is damaged or incomplete."
TOO_MANY_PIXELS = f"The image has more than {MAX_PIXELS // 1_000_000} megapixels; please upload a smaller one."
# The largest thumbnail (settings.THUMBNAIL_SIZES); JPEG's reduced-scale decoding depends on it.
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
# decoded picture exists at full size (see _shrink).
_BAND_BYTES = 4 * MIB

# Markup hidden in an image file (a "polyglot") is how an upload becomes a stored XSS page if
# the bytes are ever served as HTML; such files are refused even though Pillow can read them.
# This pattern is looked for only where a file holds text or anything at all (metadata, and
# whatever follows the image's end; see has_hidden_markup): compressed pixels are random-like
# bytes, in which "<svg" and a non-letter turn up once per 512 MiB, and refused one genuine
# photo in 3,000 (issue 12).
HIDDEN_MARKUP = re.compile(rb"<\s*(?:script|html|svg|iframe|object|embed|body|\?php|!doctype)\b", re.IGNORECASE)
# Looked for everywhere, compressed pixels included: pixel data can spell anything (a PNG's
# stored deflate blocks hold pixel bytes as they are, and the well-known PNG IDAT payloads spell
# "<SCRIPT"), yet tag names of six letters turn up in random bytes about once per 500 TB.
UNMISTAKABLE_MARKUP = re.compile(rb"<\s*(?:script|iframe|object|!doctype)\b", re.IGNORECASE)
HIDDEN_MARKUP_MESSAGE = "The file has web page content hidden in it; please export the image again and upload that."

_SRGB = ImageCms.createProfile("sRGB")


class UnreadableImage(Exception):
    """The bytes are not an image this project accepts; the message is for a person."""


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
        _check_budget(im, data, largest, info.width, info.height)
    if has_hidden_markup(data):
        raise UnreadableImage(HIDDEN_MARKUP_MESSAGE)
    source.seek(0)
    return info


def estimate_decode(im: Image.Image, data: bytes, largest: int = LARGEST_THUMBNAIL) -> DecodeCost:
    """What render_thumbnails would hold in memory at once for this image, from its header alone.

    An upper bound, summed over the stages of the pipeline although they overlap only in part.
    Only the first frame of an animation is ever decoded, so frames do not count. For a JPEG it
    asks libjpeg for reduced-scale decoding (Image.draft), as rendering does, and leaves it asked.
    """
    width, height = im.size
    target_width, target_height = _fit(width, height, largest)
    if im.format == "JPEG":
        im.draft(im.mode, (target_width, target_height))
    decoded_width, decoded_height = im.size
    if im.format == "WEBP":
        decoding = width * height * _WEBP_DECODE_BYTES_PER_PIXEL
    else:
        decoding = decoded_width * decoded_height * _pixel_bytes(im.mode)
        if im.format == "JPEG" and _jpeg_is_multiscan(im, data):
            decoding += _jpeg_coefficient_bytes(im, width, height)
    output_bytes = _pixel_bytes(_output_mode(im))
    rows = _band_rows(decoded_width)
    # A band as cropped, converted and premultiplied at full width, then resized to the target width.
    bands = rows * (decoded_width * (_pixel_bytes(im.mode) + 4 + 4) + target_width * 4)
    # The picture resized across but not yet down (see _shrink).
    half_resized = target_width * decoded_height * output_bytes
    # The largest thumbnail, its unpremultiplied or upright copy, and the encoder's buffers.
    thumbnail = target_width * target_height * (2 * output_bytes + 4)
    return DecodeCost(decoding=decoding, pipeline=bands + half_resized + thumbnail, source=3 * len(data))


def _check_budget(im: Image.Image, data: bytes, largest: int, width: int, height: int) -> None:
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


def _pixel_bytes(mode: str) -> int:
    return _PIXEL_BYTES.get(mode, 4)


def _band_rows(width: int) -> int:
    return max(1, _BAND_BYTES // (4 * width))


def _jpeg_is_multiscan(im: Image.Image, data: bytes) -> bool:
    """True if libjpeg must hold every DCT coefficient of the image before it can output a row.

    A progressive JPEG always has several scans; a sequential one may too. Inside compressed
    scan data 0xFF is always followed by 0x00 or a restart marker, so another start-of-scan
    before the first end-of-image is a real scan (camera trailers and MPF pictures come after).
    """
    if im.info.get("progressive"):
        return True
    position = _jpeg_first_scan(data)
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


def _jpeg_first_scan(data: bytes) -> int | None:
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


def _jpeg_has_end_marker(data: bytes) -> bool:
    """True if an end-of-image marker follows the first scan: the file was not cut short.

    Inside compressed scan data every 0xFF byte is followed by 0x00 or a restart marker, so
    FF D9 after the first start-of-scan can only be the real end (bytes.find runs at memory
    speed; decoding the pixels to learn the same took 35 ms for 12 MP).
    """
    position = _jpeg_first_scan(data)
    return position is not None and data.find(b"\xff\xd9", position) != -1


def _gif_is_complete(data: bytes) -> bool:
    """True if the GIF's blocks run whole from its header to its trailer (0x3B).

    Walks the structure (screen descriptor, colour tables, extensions, image descriptors and
    the length-prefixed sub-blocks of their data) without decompressing anything: decoding the
    frames to learn the same cost a web process 54 MB for one 59.5 MP GIF.
    """
    if len(data) < 13:
        return False
    position = 13 + _gif_colour_table_bytes(data[10])  # header (6) and logical screen descriptor (7)
    while position < len(data):
        introducer = data[position]
        if introducer == 0x3B:
            return True
        if introducer == 0x21:  # extension: a label byte, then sub-blocks
            position = _gif_skip_sub_blocks(data, position + 2)
        elif introducer == 0x2C:  # image: a 10-byte descriptor, a colour table, the LZW code size, sub-blocks
            if position + 10 > len(data):
                return False
            position += 10 + _gif_colour_table_bytes(data[position + 9])
            position = _gif_skip_sub_blocks(data, position + 1)
        else:
            return False
    return False


def _gif_colour_table_bytes(flags: int) -> int:
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0


def _gif_skip_sub_blocks(data: bytes, position: int) -> int:
    """The position after a run of sub-blocks and its zero-length terminator; past the end if cut."""
    while position < len(data):
        size = data[position]
        position += 1 + size
        if size == 0:
            return position
    return len(data) + 1


# Text chunks are decompressed to be searched up to Pillow's own limit for one (ImageFile.SAFEBLOCK,
# beyond which Pillow refuses the file when it reads the chunk), and to this much in all.
_TEXT_CHUNK_LIMIT = 1 * MIB
_TEXT_TOTAL_LIMIT = 8 * MIB
# Inside a JPEG scan every 0xFF is followed by 0x00 (a stuffed byte), a restart marker or
# another 0xFF (fill); anything else is the marker that ends the scan.
_JPEG_MARKER_AFTER_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_START = b"\xff\xd8\xff"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks of compressed pixels: the image data and an APNG's frame data.
_PNG_PIXEL_CHUNKS = frozenset({b"IDAT", b"fdAT"})
_PNG_ZIPPED_TEXT = frozenset({b"zTXt", b"iTXt"})
# Chunks of compressed pixels: lossy and lossless bitstreams and the alpha plane.
_WEBP_PIXEL_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"ALPH"})

# A stretch of bytes to search: a span of the file (start, end), or text decompressed from it.
_Region = tuple[bytes, int, int]


class _UncheckableText(Exception):
    """A compressed text chunk larger than we decompress to search it."""


def has_hidden_markup(data: bytes) -> bool:
    """True if the bytes hide web-page markup where an image file can hold it.

    HIDDEN_MARKUP is searched for in metadata (JPEG header segments and those between scans,
    PNG chunks and their decompressed text, GIF extensions and descriptors, WebP chunks), in
    what follows the image's end (the file stays readable whatever is appended: HTML, or a
    camera's trailer) and in whatever the walk cannot make sense of. Compressed pixels are
    skipped, since any four bytes turn up in them by chance; they are searched for
    UNMISTAKABLE_MARKUP only. The walk follows lengths and markers and decodes nothing: about
    3 ms for a 3 MB photo, nearly all of it the two regular-expression searches. Nothing can
    come before the signature: Pillow reads it at offset 0 to pick the format. A text chunk too
    large to decompress and search counts as hiding markup, as no genuine file has one.
    """
    if UNMISTAKABLE_MARKUP.search(data):
        return True
    try:
        return any(HIDDEN_MARKUP.search(buffer, start, end) for buffer, start, end in _markup_regions(data))
    except _UncheckableText:
        return True


def _markup_regions(data: bytes) -> Iterator[_Region]:
    if data.startswith(_JPEG_START):
        spans: list[tuple[int, int]] = []
        _jpeg_file_spans(data, 0, len(data), spans, nested=False)
        yield from ((data, start, end) for start, end in spans)
    elif data.startswith(_PNG_SIGNATURE):
        yield from _png_regions(data)
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        yield from _gif_regions(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        yield from _webp_regions(data)
    else:
        yield data, 0, len(data)


def _jpeg_file_spans(data: bytes, start: int, end: int, spans: list[tuple[int, int]], *, nested: bool) -> None:
    """The spans to search of the JPEG at `start` and of what follows it up to `end`.

    A JPEG may be followed by more: an MPF second picture or the gain map of an Ultra HDR
    photo, each a whole JPEG with compressed scans of its own, walked alike.
    """
    position = start
    while True:
        position = _jpeg_segment_spans(data, position + 2, end, spans, nested=nested)
        if not data.startswith(_JPEG_START, position, end):
            break
    if position < end:
        spans.append((position, end))  # a trailer, or what the walk could not follow


def _jpeg_segment_spans(data: bytes, position: int, end: int, spans: list[tuple[int, int]], *, nested: bool) -> int:
    """Add the spans of the segments from `position` (after a start-of-image) on; return where the image ends.

    That is just after its end-of-image marker, or where the walk stopped making sense of it.
    Scan data is skipped up to the next real marker, so segments between scans are searched.
    """
    while position < end:
        if data[position] != 0xFF:
            # Bytes where a marker should be; libjpeg skips them to the next 0xFF ("extraneous data").
            found = data.find(b"\xff", position, end)
            stop = end if found == -1 else found
            spans.append((position, stop))
            position = stop
            continue
        if position + 1 >= end:
            return position
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == 0xD9:
            return position + 2
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            position += 2
            continue
        if position + 4 > end:
            return position
        segment_end = min(end, position + 2 + int.from_bytes(data[position + 2 : position + 4], "big"))
        thumbnail = -1
        if marker == 0xE1 and not nested and data.startswith(b"Exif\0\0", position + 4, segment_end):
            # A camera's EXIF holds a thumbnail: a JPEG, compressed scan and all.
            thumbnail = data.find(_JPEG_START, position + 10, segment_end)
        if thumbnail == -1:
            spans.append((position, segment_end))
        else:
            spans.append((position, thumbnail))
            _jpeg_file_spans(data, thumbnail, segment_end, spans, nested=True)
        position = segment_end
        if marker == 0xDA:  # start of scan: compressed data up to the next real marker
            found_marker = _JPEG_MARKER_AFTER_SCAN.search(data, position, end)
            position = end if found_marker is None else found_marker.start()
    return position


def _png_regions(data: bytes) -> Iterator[_Region]:
    """Every chunk but the compressed pixels, the text of compressed text chunks, and what follows IEND."""
    position = len(_PNG_SIGNATURE)
    decompressed = 0
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        chunk_end = position + 12 + length  # length, type, data, CRC
        if chunk_end > len(data):
            break
        if kind not in _PNG_PIXEL_CHUNKS:
            yield data, position, chunk_end
            text = _png_compressed_text(kind, data[position + 8 : chunk_end - 4]) if kind in _PNG_ZIPPED_TEXT else None
            if text is not None:
                decompressed += len(text)
                if decompressed > _TEXT_TOTAL_LIMIT:
                    raise _UncheckableText
                yield text, 0, len(text)
        position = chunk_end
        if kind == b"IEND":
            break
    yield data, position, len(data)


def _png_compressed_text(kind: bytes, body: bytes) -> bytes | None:
    """The decompressed text of a zTXt or iTXt chunk; None if it is not compressed or cannot be read."""
    _keyword, _, rest = body.partition(b"\0")
    if kind == b"zTXt":
        compressed = rest[1:]  # after the compression method
    elif rest[:1] == b"\x01":  # a compressed iTXt
        # After the flag and method: the language tag and translated keyword, then the text.
        compressed = rest[2:].split(b"\0", 2)[-1]
    else:
        return None  # the chunk's own bytes are its text, and were searched
    decompressor = zlib.decompressobj()
    try:
        text = decompressor.decompress(compressed, _TEXT_CHUNK_LIMIT)
    except zlib.error:
        return None  # nothing can read it as text either; its bytes were searched as they are
    if decompressor.unconsumed_tail:
        raise _UncheckableText
    return text


def _gif_regions(data: bytes) -> Iterator[_Region]:
    """Header, colour tables, descriptors and extensions (as stored and joined), and what follows the trailer.

    An extension's text is split into sub-blocks by length bytes, so it is searched both as
    stored and with them taken out; the LZW-compressed image data is skipped.
    """
    if len(data) < 13:
        yield data, 0, len(data)
        return
    position = min(len(data), 13 + _gif_colour_table_bytes(data[10]))
    yield data, 0, position
    while position < len(data):
        introducer = data[position]
        if introducer == 0x21:  # extension: a label byte, then sub-blocks
            extension_end = min(len(data), _gif_skip_sub_blocks(data, position + 2))
            yield data, position, extension_end
            joined = _gif_sub_block_contents(data, position + 2, extension_end)
            yield joined, 0, len(joined)
            position = extension_end
        elif introducer == 0x2C and position + 10 <= len(data):
            # The descriptor, a local colour table and the LZW code size, then the compressed pixels.
            pixels = min(len(data), position + 11 + _gif_colour_table_bytes(data[position + 9]))
            yield data, position, pixels
            position = _gif_skip_sub_blocks(data, pixels)
        else:
            break  # the trailer (0x3B), or what the walk cannot follow
    if position < len(data):
        yield data, position, len(data)


def _gif_sub_block_contents(data: bytes, position: int, end: int) -> bytes:
    parts = []
    while position < end and data[position]:
        size = data[position]
        parts.append(data[position + 1 : min(end, position + 1 + size)])
        position += 1 + size
    return b"".join(parts)


def _webp_regions(data: bytes) -> Iterator[_Region]:
    """The RIFF header, all chunks but compressed pixels (in animation frames too), and what follows the RIFF length."""
    declared_end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    yield data, 0, 12
    spans: list[tuple[int, int]] = []
    _riff_chunk_spans(data, 12, declared_end, spans, nested=False)
    yield from ((data, start, end) for start, end in spans)
    yield data, declared_end, len(data)


def _riff_chunk_spans(data: bytes, position: int, end: int, spans: list[tuple[int, int]], *, nested: bool) -> None:
    while position + 8 <= end:
        kind = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        chunk_end = min(end, position + 8 + size + (size & 1))  # chunks are padded to an even length
        if kind == b"ANMF" and not nested:
            # An animation frame: a 16-byte header, then chunks of its own (pixels, and perhaps unknown ones).
            header_end = min(chunk_end, position + 24)
            spans.append((position, header_end))
            _riff_chunk_spans(data, header_end, chunk_end, spans, nested=True)
        elif kind not in _WEBP_PIXEL_CHUNKS:
            spans.append((position, chunk_end))
        position = chunk_end
    if position < end:
        spans.append((position, end))


def render_thumbnails(
    source: IO[bytes], sizes: Sequence[int], *, encoder: Encoder | None = None
) -> list[RenderedThumbnail]:
    """Make one thumbnail per distinct size (longest edge), largest first, each resized from the last.

    Pictures are never enlarged, so the sizes a picture does not reach all come out at its own
    size: they are made once, as one thumbnail whose size is the picture's longest edge (a
    500 px picture gets 500 and 400 for sizes 1600, 800 and 400), and no two thumbnails have
    the same dimensions.

    Outputs are re-encoded from pixels only: upright (EXIF orientation applied), in sRGB, with
    no EXIF, GPS or other metadata, as WebP (encode_webp) unless another encoder is given
    (bench/ compares formats through the same pipeline).
    """
    encode = encoder or encode_webp
    sizes = sorted(set(sizes), reverse=True)
    frame, full_width, full_height = _largest_thumbnail(source, sizes[0])
    # Target sizes come from the full-size dimensions, so the cascade never compounds rounding;
    # each step still resizes from the previous, smaller one.
    rendered: list[RenderedThumbnail] = []
    for size in sizes:
        target = _fit(full_width, full_height, size)
        if rendered and target == (rendered[-1].width, rendered[-1].height):
            continue  # the same pixels again: a browser's srcset gains nothing from a second copy
        if target != frame.size:
            frame = frame.resize(target, Image.Resampling.LANCZOS)
        content, extension = encode(frame)
        rendered.append(RenderedThumbnail(min(size, max(target)), frame.width, frame.height, content, extension))
    return rendered


def _largest_thumbnail(source: IO[bytes], largest: int) -> tuple[Image.Image, int, int]:
    """Decode the picture and make its largest thumbnail: upright, in sRGB, in the output mode.

    Returns it with the picture's upright full size. The decoded picture is the only full-size
    buffer, and it is released when this returns, before the smaller sizes and the encoding.
    The same memory budget as the web request's is applied first: a file that reached storage
    some other way (or before the budget) is failed with the reason instead of exhausting the worker.
    """
    source.seek(0)
    data = source.read()
    with _opened(source) as im:
        if im.format not in ALLOWED_FORMATS:
            raise UnreadableImage(f"{im.format} files are not supported.")
        if im.width * im.height > MAX_PIXELS:
            raise UnreadableImage(TOO_MANY_PIXELS)
        full_width, full_height = im.size
        # Also asks JPEG for reduced-scale decoding (1/2, 1/4, 1/8) that still covers the largest
        # thumbnail: a quarter of the memory and time for a photo, or less.
        _check_budget(im, data, largest, full_width, full_height)
        del data
        try:
            im.load()
            orientation = im.getexif().get(ExifTags.Base.Orientation)
            frame = _shrink(im, _fit(full_width, full_height, largest), im.info.get("icc_profile"))
        except (OSError, SyntaxError, ValueError) as exc:
            raise UnreadableImage(f"{DAMAGED} ({exc})") from exc
    # Turning the thumbnail upright instead of the picture saves a full-size copy; resizing and
    # transposing commute.
    method = _UPRIGHT.get(orientation)
    if method is not None:
        frame = frame.transpose(method)
    if orientation in ROTATED_ORIENTATIONS:
        full_width, full_height = full_height, full_width
    return frame, full_width, full_height


# The transposition that makes each EXIF orientation upright (as ImageOps.exif_transpose); looked
# up with whatever the file's orientation tag holds, which need not be a number.
_UPRIGHT: dict[object, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _shrink(im: Image.Image, target: tuple[int, int], icc_profile: bytes | None) -> Image.Image:
    """Resize the decoded picture to `target` (Lanczos), converting it to sRGB and the output mode on the way.

    Converting the whole picture first would make full-size copies (a palette GIF's four times
    its own size; RGBA premultiplied for resizing, another). Instead bands of rows are
    converted and resized across one at a time into a picture of the target width, which is
    then resized down: Pillow's own resize makes the same two passes, so the result is the same.
    """
    width, height = im.size
    target_width, target_height = target
    mode = _output_mode(im)
    transform = _srgb_transform(im.mode, icc_profile, mode)
    # Premultiplied alpha, so that the colour of transparent pixels does not bleed into edges
    # (what Image.resize does for RGBA on its own).
    working = "RGBa" if mode == "RGBA" else mode
    across = Image.new(working, (target_width, height))
    rows = _band_rows(width)
    for top in range(0, height, rows):
        band = _convert(im.crop((0, top, width, min(height, top + rows))), mode, transform)
        if working != mode:
            band = band.convert(working)
        if target_width != width:
            band = band.resize((target_width, band.height), Image.Resampling.LANCZOS)
        across.paste(band, (0, top))
    if target_height != height:
        across = across.resize(target, Image.Resampling.LANCZOS)
    return across.convert(mode) if working != mode else across


def _fit(width: int, height: int, size: int) -> tuple[int, int]:
    scale = min(1.0, size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _output_mode(im: Image.Image) -> str:
    if im.mode in SIXTEEN_BIT_GRAY_MODES:
        return "L"
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        return "RGBA"
    if im.mode in ("RGB", "L"):
        return im.mode
    return "RGB"


def _srgb_transform(mode: str, icc_profile: bytes | None, output_mode: str) -> ImageCms.ImageCmsTransform | None:
    """A transform from an embedded colour profile to sRGB, so outputs need no profile."""
    if not icc_profile or mode not in ("RGB", "RGBA", "CMYK"):
        return None
    try:
        source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        return ImageCms.buildTransform(source_profile, _SRGB, mode, "RGBA" if output_mode == "RGBA" else "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None  # a broken profile is not worth failing a thumbnail over


def _convert(band: Image.Image, mode: str, transform: ImageCms.ImageCmsTransform | None) -> Image.Image:
    if transform is not None:
        band = ImageCms.applyTransform(band, transform) or band
    if band.mode in SIXTEEN_BIT_GRAY_MODES:
        # Scale 16-bit samples down instead of clipping them, which would turn the image white.
        return band.convert("I").point(lambda value: value / 256).convert("L")
    return band if band.mode == mode else band.convert(mode)


# Writes one thumbnail from its pixels (RGB, RGBA or L); returns the bytes and the file extension.
Encoder = Callable[[Image.Image], tuple[bytes, str]]


def webp_quality(*, has_alpha: bool) -> int:
    """The lossy WebP quality for a thumbnail (the same for ours and libvips's in bench/)."""
    return WEBP_QUALITY_TRANSPARENT if has_alpha else WEBP_QUALITY


def encode_webp(frame: Image.Image) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    # alpha_quality 100 (Pillow's default) keeps the alpha channel lossless: cut-out edges stay
    # exact, and alpha compresses well anyway.
    quality = webp_quality(has_alpha=frame.mode == "RGBA")
    frame.save(buffer, "WEBP", quality=quality, method=WEBP_METHOD, alpha_quality=100)
    return buffer.getvalue(), "webp"
