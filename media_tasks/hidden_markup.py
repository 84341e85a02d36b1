"""Looking for web-page markup hidden in an image file (a "polyglot"), without decoding it."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

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

MIB = 1024 * 1024
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
    position = min(len(data), 13 + gif_colour_table_bytes(data[10]))
    yield data, 0, position
    while position < len(data):
        introducer = data[position]
        if introducer == 0x21:  # extension: a label byte, then sub-blocks
            extension_end = min(len(data), gif_skip_sub_blocks(data, position + 2))
            yield data, position, extension_end
            joined = _gif_sub_block_contents(data, position + 2, extension_end)
            yield joined, 0, len(joined)
            position = extension_end
        elif introducer == 0x2C and position + 10 <= len(data):
            # The descriptor, a local colour table and the LZW code size, then the compressed pixels.
            pixels = min(len(data), position + 11 + gif_colour_table_bytes(data[position + 9]))
            yield data, position, pixels
            position = gif_skip_sub_blocks(data, pixels)
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


# GIF's block structure, walked here and by upload_checks.py to see that a file is whole.
def gif_colour_table_bytes(flags: int) -> int:
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0


def gif_skip_sub_blocks(data: bytes, position: int) -> int:
    """The position after a run of sub-blocks and its zero-length terminator; past the end if cut."""
    while position < len(data):
        size = data[position]
        position += 1 + size
        if size == 0:
            return position
    return len(data) + 1
