"""Making thumbnails: Pillow work from an image's bytes to WebP files, no Django models."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from PIL import ExifTags, Image, ImageCms

from media_tasks.decode_budget import SIXTEEN_BIT_GRAY_MODES, band_rows, fit, output_mode
from media_tasks.upload_checks import (
    ALLOWED_FORMATS,
    DAMAGED,
    MAX_PIXELS,
    TOO_MANY_PIXELS,
    UnreadableImage,
    check_budget,
    opened,
)

# Thumbnails are WebP, lossy, with the alpha channel kept losslessly where the picture has one:
# every browser in use has shown WebP since 2020, so no fallback is made. Measured on a 20-image
# gallery (media_tasks/bench/thumbnail_formats.py, docs/performance.md, section 8) against the JPEG (quality
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

_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class RenderedThumbnail:
    size: int
    width: int
    height: int
    content: bytes
    extension: str


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
        target = fit(full_width, full_height, size)
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
    with opened(source) as im:
        if im.format not in ALLOWED_FORMATS:
            raise UnreadableImage(f"{im.format} files are not supported.")
        if im.width * im.height > MAX_PIXELS:
            raise UnreadableImage(TOO_MANY_PIXELS)
        full_width, full_height = im.size
        # Also asks JPEG for reduced-scale decoding (1/2, 1/4, 1/8) that still covers the largest
        # thumbnail: a quarter of the memory and time for a photo, or less.
        check_budget(im, data, largest, full_width, full_height)
        del data
        try:
            im.load()
            orientation = im.getexif().get(ExifTags.Base.Orientation)
            frame = _shrink(im, fit(full_width, full_height, largest), im.info.get("icc_profile"))
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
    mode = output_mode(im)
    transform = _srgb_transform(im.mode, icc_profile, mode)
    # Premultiplied alpha, so that the colour of transparent pixels does not bleed into edges
    # (what Image.resize does for RGBA on its own).
    working = "RGBa" if mode == "RGBA" else mode
    across = Image.new(working, (target_width, height))
    rows = band_rows(width)
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
