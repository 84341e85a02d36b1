"""The test images every benchmark uses, made here so that nothing has to be downloaded.

    .venv/bin/python -m media_tasks.bench.images DIR     # make them in DIR (the runner does this once a run)

Photo-like: smooth gradients, blotchy mid-scale texture and per-pixel grain, so the files
compress (about 2 bits a pixel at quality 90) and decode like camera JPEGs instead of like
flat colour, which would flatter every decoder. The pixels are random, so two runs never
share files; the runner makes one set per run and passes it to each benchmark, so the
comparisons inside a run are on the very same bytes.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops

from bench.common import SHARED_FILES_VARIABLE

SOURCE_QUALITY = 90
# Per-pixel sensor-like grain (standard deviation in 8-bit levels).
GRAIN_SIGMA = 8.0


@dataclass(frozen=True)
class TestImage:
    name: str
    width: int
    height: int
    format: str
    alpha: bool = False

    @property
    def filename(self) -> str:
        return f"{self.name}.{'jpg' if self.format == 'JPEG' else 'png'}"

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


# 4:3 phone and 3:2 camera shapes. The PNG has an alpha channel, so the pipeline keeps it and
# writes PNG thumbnails: the slow path, which a JPEG-only benchmark would never show.
PHOTO_12MP = TestImage("photo-12mp", 4000, 3000, "JPEG")
PHOTO_24MP = TestImage("photo-24mp", 6000, 4000, "JPEG")
LARGE_PNG = TestImage("large-rgba-png", 4000, 3000, "PNG", alpha=True)
PHOTO_50MP = TestImage("photo-50mp", 8660, 5774, "JPEG")
ALL_IMAGES = (PHOTO_12MP, PHOTO_24MP, LARGE_PNG, PHOTO_50MP)


def make_photo_like_image(width: int, height: int) -> Image.Image:
    """An RGB picture with a photograph's mix of detail, made with Pillow's own generators.

    numpy is not a project dependency, so this uses Image.effect_noise and gradients.
    """

    def full(im: Image.Image, resample: Image.Resampling = Image.Resampling.BICUBIC) -> Image.Image:
        return im.resize((width, height), resample)

    # Shared by the three bands so shapes have one luminance, as objects in a scene do.
    coarse = full(Image.effect_noise((width // 256 + 2, height // 256 + 2), 50))
    mid = full(Image.effect_noise((width // 32, height // 32), 40))
    texture = Image.blend(coarse, mid, 0.4)
    gradients = [
        Image.linear_gradient("L"),
        Image.radial_gradient("L"),
        Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90),
    ]
    bands = []
    for gradient in gradients:
        band = Image.blend(full(gradient, Image.Resampling.BILINEAR), texture, 0.55)
        # effect_noise is centred on 128: the offset makes the grain zero-mean.
        bands.append(ImageChops.add(band, Image.effect_noise((width, height), GRAIN_SIGMA), 1.0, -128))
    return Image.merge("RGB", bands)


def make_photo_like_jpeg(width: int, height: int, quality: int = SOURCE_QUALITY) -> bytes:
    buffer = io.BytesIO()
    make_photo_like_image(width, height).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def encode(image: TestImage) -> bytes:
    picture = make_photo_like_image(image.width, image.height)
    buffer = io.BytesIO()
    if image.format == "JPEG":
        picture.save(buffer, "JPEG", quality=SOURCE_QUALITY)
    else:
        if image.alpha:
            # A soft vignette of transparency, as a cut-out product shot or a logo has.
            picture.putalpha(Image.radial_gradient("L").resize(picture.size).point(lambda v: 255 - v))
        # Pillow's default zlib level (6), what most tools write.
        picture.save(buffer, "PNG")
    return buffer.getvalue()


def ensure_images(directory: Path, wanted: tuple[TestImage, ...] = ALL_IMAGES) -> dict[str, Path]:
    """Make each wanted image in directory unless a previous benchmark of this run already did."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for image in wanted:
        path = directory / image.filename
        if not path.exists():
            print(f"Making {image.filename} ({image.width}x{image.height}) ...", flush=True)
            # Written under a temporary name: a half-written file must never pass for an image.
            partial = path.with_suffix(".partial")
            partial.write_bytes(encode(image))
            partial.rename(path)
        paths[image.name] = path
    return paths


@contextmanager
def image_directory() -> Iterator[Path]:
    """The run's shared folder if the runner gave one, else a throwaway one for this benchmark alone."""
    configured = os.environ.get(SHARED_FILES_VARIABLE)
    if configured:
        yield Path(configured)
        return
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        yield Path(tmp)


def image_bytes(image: TestImage) -> bytes:
    """One test image's bytes, made by the first benchmark of the run that needs it."""
    with image_directory() as directory:
        return ensure_images(directory, (image,))[image.name].read_bytes()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m media_tasks.bench.images DIR")
    for name, path in ensure_images(Path(sys.argv[1])).items():
        print(f"{name}: {path} ({path.stat().st_size:,} bytes)")
