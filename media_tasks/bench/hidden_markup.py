"""The hidden-markup check on genuine photos: false refusals and time, against searching the whole file.

    .venv/bin/python -m media_tasks.bench.hidden_markup [count]

Makes the same corpus as media_tasks/tests/test_hidden_markup.py (devtools/images.photo_corpus: JPEG,
PNG and WebP of noise-rich pictures, whose compressed bytes look random), and counts the photos
refused by hidden_markup.has_hidden_markup and by the old check, HIDDEN_MARKUP searched over the
whole file. Then times both, and the whole of inspect_image, on photos of about 3 MB.
"""

from __future__ import annotations

import io
import random
import statistics
import sys
import time
from collections.abc import Callable

from devtools import images
from media_tasks import hidden_markup, upload_checks

SEED = 12
ROUNDS = 50


def whole_file_search(data: bytes) -> bool:
    return hidden_markup.HIDDEN_MARKUP.search(data) is not None


def milliseconds(check: Callable[[bytes], object], data: bytes) -> str:
    """Median and fastest of ROUNDS runs: on a shared machine the fastest is the cost without others' load."""
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        check(data)
        times.append(time.perf_counter() - started)
    return f"{statistics.median(times) * 1000:.2f} ms (fastest {min(times) * 1000:.2f})"


def three_megabyte_photos() -> dict[str, bytes]:
    rng = random.Random(SEED)  # noqa: S311 - test pictures, not secrets
    picture = images.noisy_photo(rng, 2400, 1600)
    return {
        "JPEG 2400x1600 q97": images.encode(picture, "JPEG", quality=97),
        "JPEG 2400x1600 q97 progressive": images.encode(picture, "JPEG", quality=97, progressive=True),
        "PNG 1400x1000": images.encode(picture.resize((1400, 1000)), "PNG"),
        "WebP 2400x1600 lossy q98": images.encode(picture, "WEBP", quality=98, method=0),
    }


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    started = time.perf_counter()
    total = refused_now = 0
    refused_before = []
    for photo in images.photo_corpus(count, SEED):
        total += len(photo.data)
        refused_now += hidden_markup.has_hidden_markup(photo.data)
        match = hidden_markup.HIDDEN_MARKUP.search(photo.data)
        if match:
            refused_before.append(f"{photo.description}: {match.group()!r} at {match.start()} of {len(photo.data)}")
    print(f"{count} photos, {total / 1e6:.1f} MB, made and checked in {time.perf_counter() - started:.1f} s")
    print(f"refused by has_hidden_markup: {refused_now}")
    print(f"refused by HIDDEN_MARKUP over the whole file: {len(refused_before)}")
    for line in refused_before:
        print("   ", line)
    print(f"expected by chance for the whole-file search: {total / (512 * 2**20):.2f} (one per 512 MiB)")
    for name, data in three_megabyte_photos().items():
        inspect = lambda data: upload_checks.inspect_image(io.BytesIO(data))  # noqa: E731
        check = milliseconds(hidden_markup.has_hidden_markup, data)
        print(
            f"{name}, {len(data) / 1e6:.1f} MB: has_hidden_markup {check},"
            f" whole-file search {milliseconds(whole_file_search, data)},"
            f" inspect_image {milliseconds(inspect, data)}"
        )


if __name__ == "__main__":
    main()
