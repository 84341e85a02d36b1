"""Thumbnail formats: bytes a gallery page transfers, quality and encode time, ours against libvips.

    .venv/bin/python -m media_tasks.bench.thumbnail_formats

A 20-image gallery of mixed sources, cut from one photo-like picture (media_tasks/bench/images.py): 14
JPEGs from 1200x900 to 24 MP (one portrait), 2 cut-out PNGs with transparency (12 MP, as in the
issue, and 2 MP), 3 flat graphics with transparency (logos, diagrams) and an animated GIF (the
thumbnail is its first frame). Each image's thumbnail set (media_tasks.conf.THUMBNAIL_SIZES) is made in
three formats:

- today: JPEG quality 85 (optimised, progressive), PNG at zlib level 6 where there is alpha,
  what the worker wrote before WebP;
- webp: lossy WebP with lossless alpha (media_tasks.rendering.webp_quality: WEBP_QUALITY for
  opaque pictures, WEBP_QUALITY_TRANSPARENT for ones with alpha; WEBP_METHOD);
- avif: AVIF (AVIF_QUALITY, AVIF_SPEED), if Pillow has libavif.

Each by two pipelines from the same bytes in memory: ours (`render_thumbnails`, what the worker
runs, with the format's encoder) and libvips (`thumbnail_buffer` once per size, then the same
format with the same settings: WebP Q and effort = method with lossless alpha; AVIF Q with
effort = 9 - speed, 4:2:0, 8-bit).

Figures:

- bytes transferred to show the gallery: for each image, the thumbnail a browser picks from the
  gallery's srcset (the smallest whose width covers the slot, `sizes="(max-width: 40rem) 100vw,
  14rem"` in media_tasks/_image.html) for a desktop at 1x and 2x (a 224 px slot) and a phone
  (390 px wide at 3x), summed over the 20 images; and every thumbnail's bytes;
- quality: SSIM (Gaussian window of 11, sigma 1.5, on luma, as in Wang et al. 2004) and PSNR of
  every thumbnail against a reference made from the full decode by one Lanczos resize. Pictures
  with alpha are compared composited over white and over black, and the lower score is kept, so
  that an error in alpha or in colour under transparency counts;
- encode time: wall time to make the whole gallery's thumbnail sets (decode, resize, encode),
  the median of the rounds for each image, summed; and the 12 MP PNG with alpha alone, whose
  target is to be no slower than libvips.

About 6 minutes on 2 busy cores (2 rounds); needs numpy (requirements-bench.txt) for SSIM.
"""

from __future__ import annotations

import io
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from bench.common import QUICK, Result, median, rounded
from media_tasks.bench.images import SOURCE_QUALITY, make_photo_like_image
from media_tasks.bench.thumbnail_pipeline import Output, Pipeline, configure_django_settings, pyvips_available

# What the worker wrote before WebP (the values media_tasks/thumbnails.py had, now rendering.py).
TODAY_JPEG_QUALITY = 85
TODAY_PNG_COMPRESS_LEVEL = 6
AVIF_QUALITY = 60
# libavif's speed 0 (slowest) to 10; 8 measured as small as 6 here at a fifth of the time.
AVIF_SPEED = 8
ROUNDS = 2
# The gallery's srcset slot (CSS px) and device pixel ratios: desktop 1x, desktop 2x, phone.
VIEWPORTS = {"desktop 1x": 224 * 1, "desktop 2x": 224 * 2, "phone 390 px at 3x": 390 * 3}
TARGET_BYTES_RATIO = 0.5
SSIM_TOLERANCE = 0.002
if QUICK:
    ROUNDS = 1


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # photo, alpha photo, alpha graphic, gif
    data: bytes


# --- The gallery -------------------------------------------------------------------------


def _jpeg(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=SOURCE_QUALITY)
    return buffer.getvalue()


def _region(master: Image.Image, width: int, height: int, rng: random.Random) -> Image.Image:
    """A part of the master photo, `width` x `height` or reduced to it, at a random place."""
    scale = min(1.0, master.width / width, master.height / height) * rng.uniform(0.6, 1.0)
    crop_width, crop_height = max(width, round(width * scale)), max(height, round(height * scale))
    crop_width, crop_height = min(crop_width, master.width), min(crop_height, master.height)
    left, top = rng.randrange(master.width - crop_width + 1), rng.randrange(master.height - crop_height + 1)
    region = master.crop((left, top, left + crop_width, top + crop_height))
    return region if region.size == (width, height) else region.resize((width, height), Image.Resampling.LANCZOS)


def cutout_png(master: Image.Image, width: int, height: int, rng: random.Random) -> bytes:
    """A cut-out product shot: a softer photo (a camera's detail, not its grain) in a feathered
    ellipse, fully transparent around it with the colour there cleared, as editors export them.

    The 12 MP one is 9 to 12 MB, within the decode budget (the grainy full-frame PNG of
    media_tasks/bench/images.py, 29.5 MB, is not: the worker refuses it).
    """
    picture = _region(master, width // 2, height // 2, rng).resize((width, height), Image.Resampling.BICUBIC)
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).ellipse((width * 0.12, height * 0.1, width * 0.88, height * 0.9), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(width / 200))
    picture.putalpha(mask)
    picture = Image.composite(picture, Image.new("RGBA", picture.size), mask.point(lambda v: 255 if v else 0))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def graphic_png(width: int, height: int, seed: int) -> bytes:
    """A logo or diagram: flat colours, anti-aliased shapes and strokes on a transparent ground."""
    rng = random.Random(seed)  # noqa: S311 - test pictures
    scale = 4  # drawn large and reduced, for anti-aliased edges
    canvas = Image.new("RGBA", (width * scale, height * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for _ in range(14):
        x0, y0 = rng.randrange(width * scale), rng.randrange(height * scale)
        x1, y1 = x0 + rng.randrange(40, width * 2), y0 + rng.randrange(40, height * 2)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256), rng.choice((255, 255, 180)))
        shape = rng.choice(("ellipse", "rectangle", "line"))
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rectangle":
            draw.rounded_rectangle((x0, y0, x1, y1), radius=8 * scale, fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=6 * scale)
    picture = canvas.resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def animated_gif(master: Image.Image, width: int, height: int, frames: int, rng: random.Random) -> bytes:
    """A photo reduced to 256 colours, panned a little each frame, as a GIF exported from a clip."""
    picture = _region(master, width + 8 * frames, height, rng)
    shots = [picture.crop((8 * n, 0, 8 * n + width, height)).quantize(256) for n in range(frames)]
    buffer = io.BytesIO()
    shots[0].save(buffer, "GIF", save_all=True, append_images=shots[1:], duration=100, loop=0)
    return buffer.getvalue()


def gallery() -> list[Source]:
    """The 20 images; one photo-like master is made and cut up, since making each costs seconds."""
    rng = random.Random(15)  # noqa: S311 - test pictures
    master = make_photo_like_image(6000, 4000)
    photos = [(4000, 3000)] * 3 + [(3000, 4000), (6000, 4000)] + [(3000, 2000)] * 3
    photos += [(2048, 1536)] * 3 + [(1200, 900)] * 3
    sources = [
        Source(f"photo {w}x{h} #{n}", "photo", _jpeg(_region(master, w, h, rng))) for n, (w, h) in enumerate(photos)
    ]
    for w, h in [(4000, 3000), (1600, 1200)]:
        sources.append(Source(f"alpha photo {w}x{h}", "alpha photo", cutout_png(master, w, h, rng)))
    for n, (w, h) in enumerate([(1200, 1200), (2400, 1600), (800, 600)]):
        sources.append(Source(f"alpha graphic {w}x{h}", "alpha graphic", graphic_png(w, h, seed=n)))
    sources.append(Source("animated GIF 1000x750, 6 frames", "gif", animated_gif(master, 1000, 750, 6, rng)))
    if QUICK:
        return [sources[13], sources[14], sources[-1]]  # a photo, the 12 MP cut-out, the GIF
    return sources


LARGE_ALPHA = "alpha photo 4000x3000"


# --- Encoders: the same settings for both pipelines ---------------------------------------


def today_encoder(frame: Image.Image) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if frame.mode == "RGBA":
        frame.save(buffer, "PNG", compress_level=TODAY_PNG_COMPRESS_LEVEL)
        return buffer.getvalue(), "png"
    frame.save(buffer, "JPEG", quality=TODAY_JPEG_QUALITY, optimize=True, progressive=True)
    return buffer.getvalue(), "jpg"


def avif_encoder(frame: Image.Image) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    # One thread, as a worker process is one of two on a dyno of two cores and libwebp uses one.
    frame.save(buffer, "AVIF", quality=AVIF_QUALITY, speed=AVIF_SPEED, subsampling="4:2:0", max_threads=1)
    return buffer.getvalue(), "avif"


def ours(encoder: Callable[[Image.Image], tuple[bytes, str]]) -> Pipeline:
    def pipeline(data: bytes, sizes: tuple[int, ...]) -> list[Output]:
        from media_tasks.rendering import render_thumbnails

        made = render_thumbnails(io.BytesIO(data), sizes, encoder=encoder)
        return [Output(t.size, t.width, t.height, t.content) for t in made]

    return pipeline


def libvips(fmt: str) -> Pipeline:
    def pipeline(data: bytes, sizes: tuple[int, ...]) -> list[Output]:
        import pyvips

        from media_tasks.rendering import WEBP_METHOD, webp_quality

        outputs: list[Output] = []
        for size in sorted(set(sizes), reverse=True):
            im = pyvips.Image.thumbnail_buffer(data, size, height=size, size="down")
            if outputs and (im.width, im.height) == (outputs[-1].width, outputs[-1].height):
                continue  # one thumbnail per distinct size, as ours
            if fmt == "today":
                if im.hasalpha():
                    content = im.pngsave_buffer(compression=TODAY_PNG_COMPRESS_LEVEL, keep="none")
                else:
                    content = im.jpegsave_buffer(
                        Q=TODAY_JPEG_QUALITY, optimize_coding=True, interlace=True, keep="none"
                    )
            elif fmt == "webp":
                quality = webp_quality(has_alpha=im.hasalpha())
                content = im.webpsave_buffer(Q=quality, effort=WEBP_METHOD, alpha_q=100, keep="none")
            else:
                content = im.heifsave_buffer(
                    compression="av1", Q=AVIF_QUALITY, effort=9 - AVIF_SPEED, subsample_mode="on", bitdepth=8,
                    keep="none",
                )  # fmt: skip
            outputs.append(Output(min(size, max(im.width, im.height)), im.width, im.height, content))
        return outputs

    return pipeline


# --- Quality -------------------------------------------------------------------------------


def _gaussian_kernel(radius: int = 5, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


_KERNEL = _gaussian_kernel()


def _blur(a: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter, 'valid' region only (no padding effects)."""
    n = len(_KERNEL)
    rows = sum(_KERNEL[k] * a[:, k : a.shape[1] - n + 1 + k] for k in range(n))
    return sum(_KERNEL[k] * rows[k : rows.shape[0] - n + 1 + k, :] for k in range(n))


def ssim(x: np.ndarray, y: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _blur(x), _blur(y)
    sxx = _blur(x * x) - mx * mx
    syy = _blur(y * y) - my * my
    sxy = _blur(x * y) - mx * my
    index = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(index.mean())


def psnr(x: np.ndarray, y: np.ndarray) -> float:
    mse = float(((x - y) ** 2).mean())
    return 99.0 if mse == 0 else min(99.0, 10 * math.log10(255**2 / mse))


def _luma_over(im: Image.Image, background: tuple[int, int, int]) -> np.ndarray:
    if im.mode == "RGBA":
        ground = Image.new("RGBA", im.size, (*background, 255))
        im = Image.alpha_composite(ground, im)
    return np.asarray(im.convert("L"), dtype=np.float64)


class Reference:
    """The full decode, upright, resized once with Lanczos to each thumbnail's dimensions."""

    def __init__(self, data: bytes) -> None:
        with Image.open(io.BytesIO(data)) as im:
            full = ImageOps.exif_transpose(im)
            self.full = full.convert("RGBA" if full.has_transparency_data else "RGB")

    def compare(self, output: Output) -> tuple[float, float]:
        with Image.open(io.BytesIO(output.content)) as decoded:
            shown = decoded.convert("RGBA" if self.full.mode == "RGBA" else "RGB")
        expected = self.full.resize(shown.size, Image.Resampling.LANCZOS)
        grounds = [(255, 255, 255), (0, 0, 0)] if expected.mode == "RGBA" else [(255, 255, 255)]
        scores = [(_luma_over(shown, g), _luma_over(expected, g)) for g in grounds]
        return min(ssim(a, b) for a, b in scores), min(psnr(a, b) for a, b in scores)


# --- Measuring -----------------------------------------------------------------------------


def shown_bytes(outputs: list[Output], slot: int) -> int:
    """What a browser fetches for one image: the smallest candidate at least `slot` px wide, else the widest."""
    by_width = sorted(outputs, key=lambda o: o.width)
    chosen = next((o for o in by_width if o.width >= slot), by_width[-1])
    return len(chosen.content)


def measure(sources: list[Source], sizes: tuple[int, ...], pipelines: dict[str, Pipeline]) -> dict[str, Any]:
    times: dict[str, dict[str, list[float]]] = {name: {s.name: [] for s in sources} for name in pipelines}
    outputs: dict[str, dict[str, list[Output]]] = {name: {} for name in pipelines}
    names = list(pipelines)
    # Warm-up: imports, codec initialisation and page faults are not the pipeline.
    for name in names:
        pipelines[name](sources[-1].data, sizes)
    for number in range(ROUNDS):
        for source in sources:
            # Rotate the order so that no pipeline always runs right after a particular other one.
            order = names[number % len(names) :] + names[: number % len(names)]
            for name in order:
                started = time.perf_counter()
                made = pipelines[name](source.data, sizes)
                times[name][source.name].append(time.perf_counter() - started)
                outputs[name][source.name] = made
    per_image: dict[str, dict[str, Any]] = {}
    for source in sources:
        reference = Reference(source.data)
        entry: dict[str, Any] = {"kind": source.kind, "source_bytes": len(source.data)}
        for name in names:
            made = outputs[name][source.name]
            compared = [reference.compare(o) for o in made]
            entry[name] = {
                "median_ms": rounded(median(times[name][source.name]) * 1000, 1),
                "bytes": {o.size: len(o.content) for o in made},
                "ssim": {o.size: rounded(q[0], 4) for o, q in zip(made, compared, strict=True)},
                "psnr_db": {o.size: rounded(q[1], 2) for o, q in zip(made, compared, strict=True)},
                "shown_bytes": {view: shown_bytes(made, slot) for view, slot in VIEWPORTS.items()},
            }
        per_image[source.name] = entry
    return per_image


def summarise(per_image: dict[str, dict[str, Any]], names: list[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in names:
        entries = [entry[name] for entry in per_image.values()]
        ssims = [v for e in entries for v in e["ssim"].values()]
        by_kind: dict[str, dict[str, float]] = {}
        for entry in per_image.values():
            kind = by_kind.setdefault(entry["kind"], {"bytes": 0, "ms": 0.0, "ssim_min": 1.0, "ssim_sum": 0.0, "n": 0})
            figures = entry[name]
            kind["bytes"] += sum(figures["bytes"].values())
            kind["ms"] += figures["median_ms"]
            kind["ssim_min"] = min(kind["ssim_min"], *figures["ssim"].values())
            kind["ssim_sum"] += sum(figures["ssim"].values())
            kind["n"] += len(figures["ssim"])
        summary[name] = {
            "set_ms": rounded(sum(e["median_ms"] for e in entries), 1),
            "all_bytes": sum(sum(e["bytes"].values()) for e in entries),
            "shown_bytes": {view: sum(e["shown_bytes"][view] for e in entries) for view in VIEWPORTS},
            "ssim_mean": rounded(sum(ssims) / len(ssims), 4),
            "ssim_min": rounded(min(ssims), 4),
            "psnr_mean_db": rounded(sum(v for e in entries for v in e["psnr_db"].values()) / len(ssims), 2),
            "by_kind": {
                kind: {
                    "bytes": int(f["bytes"]),
                    "ms": rounded(f["ms"], 1),
                    "ssim_mean": rounded(f["ssim_sum"] / f["n"], 4),
                    "ssim_min": rounded(f["ssim_min"], 4),
                }
                for kind, f in by_kind.items()
            },
        }
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    views = list(VIEWPORTS)
    print(f"\n{'pipeline':<14}{'set ms':>9}{'all bytes':>12}" + "".join(f"{v:>22}" for v in views) + "   SSIM mean/min")
    for name, s in summary.items():
        shown = "".join(f"{s['shown_bytes'][v]:>22,}" for v in views)
        print(f"{name:<14}{s['set_ms']:>9.1f}{s['all_bytes']:>12,}{shown}   {s['ssim_mean']:.4f}/{s['ssim_min']:.4f}")
    print("\nby kind: bytes of all thumbnails, ms, SSIM mean/min")
    for name, s in summary.items():
        for kind, f in s["by_kind"].items():
            print(f"  {name:<14}{kind:<15}{f['bytes']:>12,}{f['ms']:>9.1f}   {f['ssim_mean']:.4f}/{f['ssim_min']:.4f}")


def main() -> int:
    sizes = configure_django_settings()
    from PIL import features

    from media_tasks.rendering import WEBP_METHOD, WEBP_QUALITY, WEBP_QUALITY_TRANSPARENT, encode_webp

    avif = features.check("avif")
    pipelines: dict[str, Pipeline] = {"ours today": ours(today_encoder), "ours webp": ours(encode_webp)}
    if avif:
        pipelines["ours avif"] = ours(avif_encoder)
    unavailable = pyvips_available()
    if unavailable is None:
        import pyvips

        pipelines |= {"libvips today": libvips("today"), "libvips webp": libvips("webp")}
        if avif:
            pipelines["libvips avif"] = libvips("avif")
        print(f"libvips {'.'.join(str(pyvips.version(i)) for i in range(3))}, {pyvips.concurrency_get()} threads")
    else:
        print(f"libvips is not available ({unavailable}); see docs/performance.md to install it.")
    print(f"Pillow AVIF: {features.version('avif') if avif else 'not built with libavif'}")

    started = time.monotonic()
    sources = gallery()
    print(f"Made {len(sources)} images in {time.monotonic() - started:.1f} s", flush=True)
    per_image = measure(sources, sizes, pipelines)
    summary = summarise(per_image, list(pipelines))
    print_summary(summary)

    result = Result(
        "thumbnail_formats",
        "thumbnail formats",
        "a 20-image gallery's thumbnails: bytes shown, SSIM, encode time; JPEG/PNG, WebP, AVIF; ours and libvips",
    )
    result.details.update(
        {
            "sizes": list(sizes),
            "rounds": ROUNDS,
            "settings": {
                "today": f"JPEG quality {TODAY_JPEG_QUALITY}, optimised, progressive; "
                f"PNG zlib {TODAY_PNG_COMPRESS_LEVEL}",
                "webp": f"quality {WEBP_QUALITY} ({WEBP_QUALITY_TRANSPARENT} with alpha), "
                f"method/effort {WEBP_METHOD}, lossless alpha",
                "avif": f"quality {AVIF_QUALITY}, speed {AVIF_SPEED} (effort {9 - AVIF_SPEED}), 4:2:0, 8-bit",
            },
            "avif_available": avif,
            "libvips_unavailable": unavailable,
            "viewports_px": VIEWPORTS,
            "summary": summary,
            "images": per_image,
        }
    )
    today, webp = summary["ours today"], summary["ours webp"]
    for view in VIEWPORTS:
        ratio = rounded(webp["shown_bytes"][view] / today["shown_bytes"][view], 3)
        result.add(
            f"gallery bytes, {view}: webp / today",
            ratio,
            "x",
            target=f"<= {TARGET_BYTES_RATIO}",
            met=ratio <= TARGET_BYTES_RATIO,
            note=f"{webp['shown_bytes'][view]:,} / {today['shown_bytes'][view]:,} bytes",
        )
    # Equal quality is asked of every kind of picture and of the gallery as a whole.
    kinds = [(f"{kind} thumbnails", today["by_kind"][kind], webp["by_kind"][kind]) for kind in today["by_kind"]]
    for label, before, after in [*kinds, ("all thumbnails", today, webp)]:
        difference = rounded(after["ssim_mean"] - before["ssim_mean"], 4)
        result.add(
            f"{label}, SSIM mean: webp - today",
            difference,
            "",
            target=f">= -{SSIM_TOLERANCE}",
            met=difference >= -SSIM_TOLERANCE,
            note=f"{after['ssim_mean']} against {before['ssim_mean']}",
        )
    result.add("gallery set: ours webp / ours today", rounded(webp["set_ms"] / today["set_ms"], 2), "x")
    if "libvips webp" in pipelines and LARGE_ALPHA in per_image:
        ours_ms = per_image[LARGE_ALPHA]["ours webp"]["median_ms"]
        vips_ms = per_image[LARGE_ALPHA]["libvips webp"]["median_ms"]
        ratio = rounded(ours_ms / vips_ms, 2)
        result.add(
            "12 MP PNG with alpha, WebP set: ours / libvips",
            ratio,
            "x",
            target="<= 1.0",
            met=ratio <= 1.0,
            note=f"{ours_ms} / {vips_ms} ms",
        )
        result.add(
            "gallery set, WebP: ours / libvips",
            rounded(webp["set_ms"] / summary["libvips webp"]["set_ms"], 2),
            "x",
        )
    return result.finish()


if __name__ == "__main__":
    sys.exit(main())
