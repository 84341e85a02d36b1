"""Pillow behaviour of the thumbnail pipeline: what a person sees in the gallery."""

from __future__ import annotations

import io
import math
import random

import pytest
from PIL import Image, ImageChops, ImageFilter, ImageStat

from media_tasks import rendering, upload_checks
from tests.support import images
from tests.support.images import BLUE, GREEN, RED, WHITE

SIZES = (1600, 800, 400)


def render(data: bytes, sizes=SIZES) -> list[rendering.RenderedThumbnail]:
    return rendering.render_thumbnails(io.BytesIO(data), sizes)


def smallest(data: bytes) -> Image.Image:
    return images.open_bytes(render(data)[-1].content)


def close(actual, expected, tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_gives_an_upright_thumbnail(orientation):
    shown = smallest(images.camera_jpeg(orientation, images.quadrants(300, 200))).convert("RGB")

    assert shown.size == (300, 200)
    w, h = shown.size
    corners = [shown.getpixel((w // 4, h // 4)), shown.getpixel((3 * w // 4, h // 4))]
    corners += [shown.getpixel((w // 4, 3 * h // 4)), shown.getpixel((3 * w // 4, 3 * h // 4))]
    for actual, expected in zip(corners, [RED, GREEN, BLUE, WHITE], strict=True):
        assert close(actual, expected), (orientation, corners)


def test_every_size_is_made_in_the_original_aspect_ratio():
    made = render(images.jpeg_bytes(3000, 2000))

    assert [(t.size, t.width, t.height) for t in made] == [(1600, 1600, 1067), (800, 800, 533), (400, 400, 267)]


def test_small_images_are_not_enlarged():
    made = render(images.jpeg_bytes(500, 300))

    assert {(t.width, t.height) for t in made} == {(500, 300), (400, 240)}


def test_gps_and_other_exif_are_stripped():
    shown = smallest(images.jpeg_with_gps())

    assert "exif" not in shown.info
    assert not shown.getexif()


def test_colour_profiles_are_converted_to_srgb_and_not_embedded():
    red_in_swapped_space = images.encode(
        Image.new("RGB", (64, 64), RED), "JPEG", quality=95, icc_profile=images.swapped_primaries_profile()
    )

    shown = smallest(red_in_swapped_space)

    assert close(shown.getpixel((10, 10)), GREEN)
    assert "icc_profile" not in shown.info


def test_cmyk_jpeg_keeps_its_colours():
    red_cmyk = images.encode(Image.new("CMYK", (64, 64), (0, 255, 255, 0)), "JPEG", quality=95)

    made = render(red_cmyk)[-1]

    assert made.extension == "webp"
    assert close(images.open_bytes(made.content).convert("RGB").getpixel((10, 10)), RED)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_transparency_is_kept_in_webp(mode):
    im = Image.new(mode, (64, 64))
    im.putpixel((5, 5), (255, 255) if mode == "LA" else (255, 0, 0, 255))

    made = render(images.encode(im, "PNG"))[-1]
    shown = images.open_bytes(made.content)

    assert made.extension == "webp"
    assert shown.format == "WEBP"
    assert shown.mode == "RGBA"
    assert shown.getpixel((40, 40))[3] == 0


def test_palette_image_with_transparency_keeps_it():
    im = Image.new("P", (64, 64), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (32, 0, 64, 64))
    data = images.encode(im, "PNG", transparency=0)

    shown = images.open_bytes(render(data)[-1].content)

    assert shown.getpixel((10, 10))[3] == 0
    assert close(shown.getpixel((50, 10)), (0, 0, 255, 255))


def test_sixteen_bit_png_is_scaled_not_clipped():
    data = images.encode(Image.new("I;16", (64, 64), 32768), "PNG")

    shown = smallest(data).convert("RGB")

    assert all(120 <= value <= 136 for value in shown.getpixel((10, 10)))


def test_grayscale_stays_grey():
    # WebP has no greyscale mode: grey pixels come back as equal red, green and blue.
    made = render(images.encode(Image.new("L", (64, 64), 90), "JPEG"))[-1]

    assert made.extension == "webp"
    red, green, blue = images.open_bytes(made.content).convert("RGB").getpixel((10, 10))
    assert red == green == blue
    assert abs(red - 90) <= 3


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animations_use_their_first_frame(fmt):
    shown = smallest(images.animated(fmt, [RED, BLUE])).convert("RGB")

    assert close(shown.getpixel((10, 10)), RED)


def test_damage_found_only_while_decoding_is_a_readable_failure():
    whole = images.jpeg_bytes(2000, 1500)

    with pytest.raises(upload_checks.UnreadableImage, match="damaged or incomplete"):
        render(whole[: len(whole) // 3])


def test_a_jpeg_with_html_appended_is_refused_in_the_request_and_never_copied_by_the_worker():
    data = images.jpeg_bytes(400, 300) + images.HTML_PAGE

    with pytest.raises(upload_checks.UnreadableImage, match="web page content hidden"):
        upload_checks.inspect_image(io.BytesIO(data))
    # Should one reach storage some other way, its thumbnails are pixels only.
    for made in render(data):
        assert b"<script" not in made.content
        # A WebP file is one RIFF chunk: nothing can follow the length its header declares.
        assert len(made.content) == 8 + int.from_bytes(made.content[4:8], "little")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not an image"),
        (images.SVG_PLAIN, "not an image"),
        (images.SVG_SCRIPT, "not an image"),
        (images.HTML_PAGE, "not an image"),
        (images.PDF_DOCUMENT, "not an image"),
        (b"just some text pretending to be a JPEG", "not an image"),
        (images.jpeg_bytes(1200, 900)[:3000], "damaged or incomplete"),
        (images.encode(Image.new("RGB", (1, 1)), "PNG"), "at least 16 pixels"),
        (images.encode(Image.new("RGB", (64, 64)), "BMP"), "BMP files are not supported"),
        (images.encode(Image.new("RGB", (64, 64)), "TIFF"), "TIFF files are not supported"),
        (images.png_bomb(9000, 8000), "more than 60 megapixels"),
        (images.png_bomb(12000, 10000), "more than 60 megapixels"),
        (images.png_bomb(30000, 30000), "more than 60 megapixels"),
    ],
    ids=[
        *("empty", "svg", "svg-script", "html", "pdf", "text", "truncated-jpeg", "one-pixel", "bmp", "tiff"),
        *("png-72mp", "png-120mp-pillow-warns", "png-900mp-pillow-refuses"),
    ],
)
def test_hostile_files_are_refused_with_a_readable_reason(data, message):
    with pytest.raises(upload_checks.UnreadableImage, match=message):
        upload_checks.inspect_image(io.BytesIO(data))


def test_a_cut_jpeg_is_refused_even_when_its_header_holds_an_end_marker():
    # Camera files carry an EXIF thumbnail, a whole JPEG with its own end marker, in the header.
    photo = images.encode(images.quadrants(800, 600), "JPEG", comment=b"thumbnail \xff\xd9 end", progressive=True)

    with pytest.raises(upload_checks.UnreadableImage, match="damaged or incomplete"):
        upload_checks.inspect_image(io.BytesIO(photo[: len(photo) * 2 // 3]))
    assert upload_checks.inspect_image(io.BytesIO(photo)).width == 800


def test_a_jpeg_with_a_camera_trailer_after_its_end_is_accepted():
    # Phones append data (depth maps, Samsung trailers) after the end-of-image marker.
    data = images.jpeg_bytes(640, 480) + b"SEFT" + bytes(range(256)) * 8

    assert upload_checks.inspect_image(io.BytesIO(data)).height == 480


def test_decompression_bombs_stay_small_on_disk():
    assert len(images.png_bomb(30000, 30000)) < 200_000


@pytest.mark.slow
def test_a_50_megapixel_jpeg_becomes_thumbnails():
    big = Image.linear_gradient("L").resize((8660, 5774)).convert("RGB")
    data = images.encode(big, "JPEG", quality=80)

    info = upload_checks.inspect_image(io.BytesIO(data))
    made = render(data)

    assert (info.width, info.height) == (8660, 5774)
    assert [(t.width, t.height) for t in made] == [(1600, 1067), (800, 533), (400, 267)]


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P"])
def test_converting_and_resizing_in_bands_gives_the_same_pixels_as_one_resize_of_the_whole(mode):
    # The pipeline never holds a full-size converted copy (see rendering._shrink); that must
    # cost nothing in quality.
    picture = images.quadrants(3000, 2000).rotate(17, expand=False, fillcolor=(40, 90, 200))
    if mode == "RGBA":
        picture.putalpha(Image.linear_gradient("L").resize(picture.size))
    elif mode == "P":
        picture = picture.quantize(64)
    data = images.encode(picture, "PNG")
    decoded = images.open_bytes(data)
    expected_mode = "RGB" if mode == "P" else mode

    # Written losslessly, so that the pixels the pipeline made are compared, not an encoder's.
    largest = rendering.render_thumbnails(io.BytesIO(data), SIZES, encoder=lossless_png)[0]

    expected = decoded.convert(expected_mode).resize((1600, 1067), Image.Resampling.LANCZOS)
    assert images.open_bytes(largest.content).tobytes() == expected.tobytes()


def lossless_png(frame: Image.Image) -> tuple[bytes, str]:
    return images.encode(frame, "PNG"), "png"


def test_a_transparent_png_becomes_webp_thumbnails_that_keep_its_alpha_in_a_fraction_of_the_bytes():
    rng = random.Random(15)  # noqa: S311 - test pictures
    picture = images.noisy_photo(rng, 2000, 1400, alpha=False).filter(ImageFilter.GaussianBlur(2))
    picture.putalpha(Image.radial_gradient("L").resize(picture.size).point(lambda v: 255 - v))
    data = images.encode(picture, "PNG")

    made = render(data)

    assert [(t.size, t.extension) for t in made] == [(1600, "webp"), (800, "webp"), (400, "webp")]
    for thumb in made:
        shown = images.open_bytes(thumb.content)
        assert shown.format == "WEBP" and shown.mode == "RGBA"
        expected = picture.resize(shown.size, Image.Resampling.LANCZOS)
        # Alpha is written losslessly: the vignette's transparency is the resized original's, give or take rounding.
        alpha_error = ImageChops.difference(shown.getchannel("A"), expected.getchannel("A")).getextrema()[1]
        assert alpha_error <= 2, (thumb.size, alpha_error)
        assert shown.getpixel((0, 0))[3] == 0  # a corner, transparent in the original
    # What the worker wrote before WebP for the same pixels: PNG.
    as_png = sum(len(lossless_png(images.open_bytes(t.content))[0]) for t in made)
    assert sum(len(t.content) for t in made) < as_png / 4


def test_a_photo_becomes_webp_thumbnails_smaller_than_the_jpeg_ones_were():
    rng = random.Random(16)  # noqa: S311 - test pictures
    picture = images.noisy_photo(rng, 1800, 1200).filter(ImageFilter.GaussianBlur(1))
    data = images.encode(picture, "JPEG", quality=92)

    made = render(data)

    assert [t.extension for t in made] == ["webp"] * 3
    sizes = []  # (WebP bytes, JPEG bytes)
    for thumb in made:
        shown = images.open_bytes(thumb.content)
        assert shown.format == "WEBP" and shown.mode == "RGB"
        reference = images.open_bytes(data).resize(shown.size, Image.Resampling.LANCZOS)
        # The JPEG the worker wrote before (quality 85, optimised, progressive) of the same pixels.
        as_jpeg = images.encode(reference, "JPEG", quality=85, optimize=True, progressive=True)
        sizes.append((len(thumb.content), len(as_jpeg)))
        # Lossy at a high quality: within a few dB of the JPEG (docs/performance.md has SSIM on a gallery).
        assert psnr(shown, reference) >= min(38.0, psnr(images.open_bytes(as_jpeg), reference) - 2.5), thumb.size
    # At the quality that matches the JPEGs' SSIM, WebP saves little on a photo (the gallery's
    # halving comes from pictures with transparency), but never costs more.
    assert all(webp < jpeg for webp, jpeg in sizes), sizes
    assert sum(webp for webp, _ in sizes) < 0.85 * sum(jpeg for _, jpeg in sizes), sizes


def psnr(a: Image.Image, b: Image.Image) -> float:
    mse = sum(value**2 for value in ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).rms) / 3
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)
