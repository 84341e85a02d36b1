"""Time to make the full thumbnail set, against naive Pillow and against libvips, on the same bytes.

    .venv/bin/python -m media_tasks.bench.thumbnail_pipeline

For each test image (media_tasks/bench/images.py) three pipelines make the sizes in media_tasks.conf.THUMBNAIL_SIZES
from the same bytes in memory, in turn, round after round:

- ours: `media_tasks.rendering.render_thumbnails`, what the worker runs;
- naive Pillow: open the file and `Image.thumbnail()` once per size, as most tutorials do;
- libvips: `pyvips.Image.thumbnail_buffer` once per size, as its docs recommend, with its
  default thread pool (one thread per CPU) and its operation cache off (a cache hit on the
  same bytes would be free and flatter it).

Every pipeline writes the worker's format with the same settings: lossy WebP at
media_tasks.rendering.webp_quality (WEBP_QUALITY, or WEBP_QUALITY_TRANSPARENT where there is
alpha) and WEBP_METHOD (libvips's Q and effort), with the alpha channel lossless where there is
one, and no metadata. So the comparison is of decoding and
resizing, not of encoders. (Before issue 15 it was JPEG quality 85 and PNG zlib level 6, the
formats the worker wrote then; media_tasks/bench/thumbnail_formats.py compares the formats themselves.)
Output quality is checked too: PSNR of every thumbnail against a reference made from the full
decode by one Lanczos resize, so that a faster pipeline cannot win by being blurrier.

Wall time and CPU time (all threads) are both recorded: libvips spreads work over threads,
so on a busy worker dyno its CPU time is what it really costs.
"""

from __future__ import annotations

import io
import math
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageChops, ImageOps, ImageStat

from bench.common import QUICK, Result, median, rounded
from media_tasks.bench.images import ALL_IMAGES, LARGE_PNG, PHOTO_12MP, PHOTO_50MP, TestImage, image_bytes

# Rounds per image: enough for a stable median, fewer where one round takes seconds.
ROUNDS = {PHOTO_12MP.name: 9, LARGE_PNG.name: 3, PHOTO_50MP.name: 3}
DEFAULT_ROUNDS = 5
TARGET_IMAGE = PHOTO_12MP
TARGET_RATIO = 1.0
# Anything this much below libvips's PSNR is treated as a loss of quality, not noise.
PSNR_TOLERANCE_DB = 0.5
PSNR_IDENTICAL = 99.0
if QUICK:
    # A smoke test (bench.run --quick): the least that still runs every code path.
    ROUNDS, DEFAULT_ROUNDS = dict.fromkeys(ROUNDS, 1), 1


@dataclass(frozen=True)
class Output:
    size: int
    width: int
    height: int
    content: bytes


Pipeline = Callable[[bytes, tuple[int, ...]], list[Output]]


def configure_django_settings() -> tuple[int, ...]:
    """Read THUMBNAIL_SIZES and the encoder settings the worker uses; nothing else of Django runs."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ["DJANGO_ENV_FILE"] = os.devnull
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    from media_tasks import conf

    return tuple(conf.THUMBNAIL_SIZES())


def ours(data: bytes, sizes: tuple[int, ...]) -> list[Output]:
    from media_tasks.rendering import render_thumbnails

    return [Output(t.size, t.width, t.height, t.content) for t in render_thumbnails(io.BytesIO(data), sizes)]


def naive_pillow(data: bytes, sizes: tuple[int, ...]) -> list[Output]:
    from media_tasks.rendering import WEBP_METHOD, webp_quality

    outputs = []
    for size in sizes:
        with Image.open(io.BytesIO(data)) as im:
            frame = ImageOps.exif_transpose(im)
            frame.thumbnail((size, size))
            buffer = io.BytesIO()
            if frame.mode not in ("RGB", "RGBA"):
                frame = frame.convert("RGBA" if frame.has_transparency_data else "RGB")
            quality = webp_quality(has_alpha=frame.mode == "RGBA")
            frame.save(buffer, "WEBP", quality=quality, method=WEBP_METHOD, alpha_quality=100)
            outputs.append(Output(size, frame.width, frame.height, buffer.getvalue()))
    return outputs


def libvips(data: bytes, sizes: tuple[int, ...]) -> list[Output]:
    import pyvips

    from media_tasks.rendering import WEBP_METHOD, webp_quality

    outputs = []
    for size in sizes:
        # Fits the longest edge to `size`, applies EXIF orientation, shrinks on load.
        im = pyvips.Image.thumbnail_buffer(data, size, height=size, size="down")
        quality = webp_quality(has_alpha=im.hasalpha())
        content = im.webpsave_buffer(Q=quality, effort=WEBP_METHOD, alpha_q=100, keep="none")
        outputs.append(Output(size, im.width, im.height, content))
    return outputs


def pyvips_available() -> str | None:
    """None when pyvips and libvips work, else why not."""
    try:
        import pyvips

        pyvips.cache_set_max(0)
        pyvips.cache_set_max_mem(0)
        pyvips.cache_set_max_files(0)
        pyvips.Image.black(2, 2).jpegsave_buffer()
    except (ImportError, OSError) as error:
        return f"{type(error).__name__}: {error}"
    except Exception as error:  # pyvips.Error: libvips loaded but cannot encode
        return f"{type(error).__name__}: {error}"
    return None


# --- Quality ------------------------------------------------------------------------------


class Reference:
    """The best thumbnail Pillow can make: the full decode, resized once with Lanczos."""

    def __init__(self, data: bytes) -> None:
        with Image.open(io.BytesIO(data)) as im:
            self.full = ImageOps.exif_transpose(im)
            self.full.load()
        self._cache: dict[tuple[int, int], Image.Image] = {}

    def at(self, width: int, height: int) -> Image.Image:
        key = (width, height)
        if key not in self._cache:
            self._cache[key] = self.full.resize(key, Image.Resampling.LANCZOS)
        return self._cache[key]


def psnr(output: Output, reference: Reference) -> float:
    with Image.open(io.BytesIO(output.content)) as decoded:
        decoded.load()
        expected = reference.at(decoded.width, decoded.height)
        mode = "RGBA" if "A" in expected.mode or "A" in decoded.mode else "RGB"
        difference = ImageChops.difference(decoded.convert(mode), expected.convert(mode))
    mse = sum(value**2 for value in ImageStat.Stat(difference).rms) / len(mode)
    # Identical pixels (a lossless PNG resized exactly as the reference was) have no finite PSNR;
    # JSON has no infinity, so it is reported as this ceiling.
    return PSNR_IDENTICAL if mse == 0 else min(PSNR_IDENTICAL, 10 * math.log10(255**2 / mse))


# --- Measuring ----------------------------------------------------------------------------


@dataclass
class Timing:
    wall: list[float]
    cpu: list[float]


def measure_image(image: TestImage, data: bytes, sizes: tuple[int, ...], pipelines: dict[str, Pipeline]) -> dict:
    rounds = ROUNDS.get(image.name, DEFAULT_ROUNDS)
    timings = {name: Timing([], []) for name in pipelines}
    last_outputs: dict[str, list[Output]] = {}
    names = list(pipelines)
    for number in range(rounds + 1):
        # Rotate the order so that no pipeline always runs right after a particular other one.
        order = names[number % len(names) :] + names[: number % len(names)]
        for name in order:
            wall, cpu = time.perf_counter(), time.process_time()
            outputs = pipelines[name](data, sizes)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if number == 0:
                # A warm-up round: imports, plugin registration and page faults are not the pipeline.
                last_outputs[name] = outputs
                continue
            timings[name].wall.append(wall)
            timings[name].cpu.append(cpu)
    reference = Reference(data)
    result: dict[str, Any] = {"rounds": rounds, "bytes": len(data), "pipelines": {}}
    for name, outputs in last_outputs.items():
        if sorted(o.size for o in outputs) != sorted(sizes):
            raise RuntimeError(f"{name} made sizes {[o.size for o in outputs]} for {image.name}")
        for output in outputs:
            if max(output.width, output.height) != min(output.size, max(image.width, image.height)):
                raise RuntimeError(
                    f"{name}: the {output.size} thumbnail of {image.name} is {output.width}x{output.height}"
                )
        result["pipelines"][name] = {
            "median_ms": rounded(median(timings[name].wall) * 1000, 1),
            "median_cpu_ms": rounded(median(timings[name].cpu) * 1000, 1),
            "runs_ms": [rounded(t * 1000, 1) for t in timings[name].wall],
            "output_bytes": {o.size: len(o.content) for o in outputs},
            "psnr_db": {o.size: rounded(psnr(o, reference), 2) for o in outputs},
            "formats": sorted({"WEBP" if o.content[8:12] == b"WEBP" else "other" for o in outputs}),
        }
    ours_ms = result["pipelines"]["ours"]["median_ms"]
    for name in pipelines:
        if name != "ours":
            result[f"ratio_ours_to_{name}"] = rounded(ours_ms / result["pipelines"][name]["median_ms"], 2)
    return result


def print_image(image: TestImage, measured: dict) -> None:
    print(f"\n{image.name} ({image.width}x{image.height}, {measured['bytes']:,} bytes, {measured['rounds']} rounds)")
    print(f"  {'pipeline':<14}{'median ms':>10}{'CPU ms':>9}   PSNR dB by size          output bytes")
    for name, figures in measured["pipelines"].items():
        psnrs = " ".join(f"{size}:{value:.1f}" for size, value in figures["psnr_db"].items())
        total = sum(figures["output_bytes"].values())
        print(f"  {name:<14}{figures['median_ms']:>10.1f}{figures['median_cpu_ms']:>9.1f}   {psnrs:<24} {total:,}")


def main() -> int:
    sizes = configure_django_settings()
    from media_tasks.rendering import WEBP_METHOD, WEBP_QUALITY, WEBP_QUALITY_TRANSPARENT

    pipelines: dict[str, Pipeline] = {"ours": ours, "naive_pillow": naive_pillow}
    unavailable = pyvips_available()
    if unavailable is None:
        import pyvips

        pipelines["libvips"] = libvips
        print(f"libvips {'.'.join(str(pyvips.version(i)) for i in range(3))}, {pyvips.concurrency_get()} threads")
    else:
        print(f"libvips is not available ({unavailable}); see docs/performance.md to install it.")

    result = Result(
        "thumbnail_pipeline",
        "thumbnail pipeline",
        "time to make the full thumbnail set from bytes in memory: ours, naive Pillow, libvips",
    )
    result.details.update(
        {
            "sizes": list(sizes),
            "webp_quality": WEBP_QUALITY,
            "webp_quality_transparent": WEBP_QUALITY_TRANSPARENT,
            "webp_method": WEBP_METHOD,
            "encoder_settings": f"WebP quality {WEBP_QUALITY} ({WEBP_QUALITY_TRANSPARENT} with alpha), "
            f"method (effort) {WEBP_METHOD}, lossless alpha; no metadata",
            "libvips_unavailable": unavailable,
            "images": {},
            "refused": {},
        }
    )
    from media_tasks.upload_checks import UnreadableImage

    for image in ALL_IMAGES:
        try:
            measured = measure_image(image, image_bytes(image), sizes, pipelines)
        except UnreadableImage as error:
            # The worker refuses it too (e.g. past the decode budget): there is no set to time.
            result.details["refused"][image.name] = str(error)
            print(f"\n{image.name}: refused by render_thumbnails, not timed: {error}")
            continue
        result.details["images"][image.name] = measured
        print_image(image, measured)

    images = result.details["images"]
    for image in ALL_IMAGES:
        if image.name not in images:
            result.add(f"{image.name}: ours", None, "ms", note="refused by render_thumbnails (details: refused)")
            continue
        measured = images[image.name]
        ours_figures = measured["pipelines"]["ours"]
        result.add(f"{image.name}: ours", ours_figures["median_ms"], "ms", note="median")
        if "libvips" in pipelines:
            ratio = measured["ratio_ours_to_libvips"]
            is_target = image is TARGET_IMAGE
            lowest_ours = min(ours_figures["psnr_db"].values())
            lowest_vips = min(measured["pipelines"]["libvips"]["psnr_db"].values())
            result.add(
                f"{image.name}: ours / libvips",
                ratio,
                "x",
                target=f"<= {TARGET_RATIO}, PSNR not lower" if is_target else "",
                met=(ratio <= TARGET_RATIO and lowest_ours >= lowest_vips - PSNR_TOLERANCE_DB) if is_target else None,
                note=f"libvips {measured['pipelines']['libvips']['median_ms']} ms; "
                f"lowest PSNR ours {lowest_ours} dB, libvips {lowest_vips} dB",
            )
        result.add(
            f"{image.name}: ours / naive Pillow",
            measured["ratio_ours_to_naive_pillow"],
            "x",
            note=f"naive {measured['pipelines']['naive_pillow']['median_ms']} ms",
        )
    if "libvips" not in pipelines:
        result.add(
            f"{TARGET_IMAGE.name}: ours / libvips",
            None,
            "x",
            target=f"<= {TARGET_RATIO}",
            met=None,
            note="libvips not installed",
        )
    return result.finish()


if __name__ == "__main__":
    sys.exit(main())
