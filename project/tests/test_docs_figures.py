"""The benchmark figures the docs quote are the ones in bench/results/, from the run the page names.

Every page that quotes a benchmark names its results file (`bench/results/<name>.json`) and the
run (`run of <date>`, the file's `measured_at`). QUOTED ties figures on the pages to the value
in their file, at least one for each file a page names, so a re-run that changes a figure fails
here until the page says the new one. The demo's entries go with it (dev.py remove-demo).
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CITED = re.compile(r"`(bench/results/[\w./-]+\.json)`")
RUN_OF = re.compile(r"run of (\d{4}-\d{2}-\d{2})")

# (page, words quoted there, the figure's number in them, results file, figure, pattern for the
# number in the figure's note, or None for its value). Whitespace in the page counts as one space.
QUOTED: list[tuple[str, str, str, str, str, str | None]] = [
    ("docs/performance.md", "5 of 5 clean stops in 1.5 s", "5", "worker_shutdown.json", "clean stops, procfile", None),
    (
        "docs/performance.md",
        "5 of 5 clean stops in 1.5 s",
        "1.5",
        "worker_shutdown.json",
        "clean stops, procfile",
        r"median stop ([\d.]+) s",
    ),
    # --- demo ---
    (
        "docs/performance.md",
        "5 of 5 / 1 of 5 clean",
        "1",
        "worker_shutdown.json",
        "clean stops, rq-heroku-pool-2",
        None,
    ),
    ("docs/index.md", "2.3 times as fast as stock", "2.3", "throughput.json", "Procfile / stock (thumbnails)", None),
    (
        "docs/performance.md",
        "**2.31×** (2.31, 2.46, 2.19)",
        "2.31",
        "throughput.json",
        "Procfile / stock (thumbnails)",
        None,
    ),
    ("docs/performance.md", "| 7.91 / 3.48 |", "7.91", "throughput.json", "thumbnail jobs/s, procfile", None),
    ("docs/performance.md", "| 7.91 / 3.48 |", "3.48", "throughput.json", "thumbnail jobs/s, stock", None),
    (
        "docs/performance.md",
        "**2.65×** (2.94, 2.65, 2.39)",
        "2.65",
        "postgresql/throughput.json",
        "Procfile / stock (thumbnails)",
        None,
    ),
    ("docs/performance.md", "| 29.2 / 37.9 ms |", "29.2", "upload_latency.json", "queued p50", None),
    ("docs/performance.md", "| 29.2 / 37.9 ms |", "37.9", "upload_latency.json", "queued p95", None),
    ("docs/performance.md", "| **7.0×** | **4.7×** |", "7.0", "upload_latency.json", "inline / queued (p50)", None),
    (
        "docs/performance.md",
        "| **7.0×** | **4.7×** |",
        "4.7",
        "postgresql/upload_latency.json",
        "inline / queued (p50)",
        None,
    ),
    (
        "docs/performance.md",
        "19.6× at p50 on SQLite",
        "19.6",
        "direct_upload.json",
        "inline ÷ direct site requests (p50)",
        None,
    ),
    (
        "docs/performance.md",
        "17.6× on PostgreSQL",
        "17.6",
        "postgresql/direct_upload.json",
        "inline ÷ direct site requests (p50)",
        None,
    ),
    ("docs/performance.md", "| **42.5 / 98.2 ms** |", "42.5", "direct_upload.json", "direct site p50 / p95", None),
    (
        "docs/storage-and-uploads.md",
        "take 42.5 ms at p50 (p95 98 ms) against 816 ms for the upload that makes its thumbnails inline and 87 ms",
        "98",
        "direct_upload.json",
        "direct site p50 / p95",
        r"p95 ([\d.]+) ms",
    ),
    (
        "docs/storage-and-uploads.md",
        "take 42.5 ms at p50 (p95 98 ms) against 816 ms for the upload that makes its thumbnails inline and 87 ms",
        "816",
        "direct_upload.json",
        "inline-db p50 / p95",
        None,
    ),
    (
        "docs/storage-and-uploads.md",
        "take 42.5 ms at p50 (p95 98 ms) against 816 ms for the upload that makes its thumbnails inline and 87 ms",
        "87",
        "direct_upload.json",
        "queued-db p50 / p95",
        None,
    ),
    (
        "docs/storage-and-uploads.md",
        "**19.6× faster than inline** on SQLite, 17.6× on PostgreSQL",
        "17.6",
        "postgresql/direct_upload.json",
        "inline ÷ direct site requests (p50)",
        None,
    ),
    (
        "docs/performance.md",
        "| **42.5 / 98.2 ms** |",
        "98.2",
        "direct_upload.json",
        "direct site p50 / p95",
        r"p95 ([\d.]+) ms",
    ),
    ("docs/performance.md", "| 450 / 548 / 798 ms |", "450", "thumbnail_pipeline.json", "photo-12mp: ours", None),
    (
        "docs/performance.md",
        "| 450 / 548 / 798 ms |",
        "548",
        "thumbnail_pipeline.json",
        "photo-12mp: ours / libvips",
        r"libvips ([\d.]+) ms",
    ),
    (
        "docs/performance.md",
        "| 450 / 548 / 798 ms |",
        "798",
        "thumbnail_pipeline.json",
        "photo-12mp: ours / naive Pillow",
        r"naive ([\d.]+) ms",
    ),
    (
        "docs/performance.md",
        "same quality (PSNR 40.1 / 41.9 / 42.0 dB, libvips 40.2 / 41.9 / 42.1) | **0.82** |",
        "0.82",
        "thumbnail_pipeline.json",
        "photo-12mp: ours / libvips",
        None,
    ),
    (
        "docs/performance.md",
        "(JPEG/PNG era; now section 8) | 2.45 |",
        "2.45",
        "latest.json",
        "large-rgba-png: ours / libvips",
        None,
    ),
    (
        "docs/performance.md",
        "| **114.9 MiB** | **134.3 MiB** |",
        "114.9",
        "thumbnail_memory.json",
        "worker tree peak RSS, 4 x 50 MP JPEG in a row",
        None,
    ),
    (
        "docs/performance.md",
        "| **114.9 MiB** | **134.3 MiB** |",
        "134.3",
        "postgresql/thumbnail_memory.json",
        "worker tree peak RSS, 4 x 50 MP JPEG in a row",
        None,
    ),
    ("docs/performance.md", "p50 4.6 ms** (p95 6.8 ms)", "4.6", "pickup_latency.json", "procfile, no-op p50", None),
    (
        "docs/performance.md",
        "p50 4.6 ms** (p95 6.8 ms)",
        "6.8",
        "pickup_latency.json",
        "procfile, no-op p50",
        r"p95 ([\d.]+) ms",
    ),
    (
        "docs/performance.md",
        "**4 queries for 10 images and 4 for 200**",
        "4",
        "gallery.json",
        "queries, 10 / 200 images",
        None,
    ),
    ("docs/performance.md", "41.4 ms (p95 129.6 ms;", "41.4", "gallery.json", "render p50, 200 images", None),
    (
        "docs/performance.md",
        "| **0.44, 0.42, 0.49** |",
        "0.44",
        "thumbnail_formats.json",
        "gallery bytes, desktop 1x: webp / today",
        None,
    ),
    (
        "docs/performance.md",
        "| **0.44, 0.42, 0.49** |",
        "0.49",
        "thumbnail_formats.json",
        "gallery bytes, phone 390 px at 3x: webp / today",
        None,
    ),
    (
        "docs/performance.md",
        "same settings | **0.76** |",
        "0.76",
        "thumbnail_formats.json",
        "12 MP PNG with alpha, WebP set: ours / libvips",
        None,
    ),
    (
        "docs/performance.md",
        "| 0.9662 → 0.9652;",
        "0.9652",
        "thumbnail_formats.json",
        "all thumbnails, SSIM mean: webp - today",
        r"^([\d.]+) against",
    ),
    # --- end demo ---
]


@cache
def page_text(page: str) -> str:
    return " ".join((ROOT / page).read_text(encoding="utf-8").split())


@cache
def results(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "bench" / "results" / name).read_text(encoding="utf-8"))
    return data


def cited() -> dict[str, list[str]]:
    """Each results file the pages name, with the pages that name it."""
    found: dict[str, list[str]] = {}
    for page in PAGES:
        for path in CITED.findall(page.read_text(encoding="utf-8")):
            found.setdefault(path.removeprefix("bench/results/"), []).append(page.relative_to(ROOT).as_posix())
    return found


def figure_value(name: str, figure: str, note_pattern: str | None) -> str:
    [entry] = [each for each in results(name)["figures"] if each["figure"] == figure]
    if note_pattern is None:
        return str(entry["value"])
    match = re.search(note_pattern, entry["note"])
    assert match, f"{name}: {figure!r}'s note {entry['note']!r} has no {note_pattern!r}"
    return match.group(1)


def test_every_results_file_a_page_names_exists_and_is_a_full_run():
    for name, pages in cited().items():
        assert (ROOT / "bench" / "results" / name).is_file(), f"{pages} name bench/results/{name}, which is missing"
        assert results(name)["quick"] is False, f"bench/results/{name} holds a --quick run's noise"


def test_every_results_file_a_page_names_has_a_quoted_figure_checked():
    checked = {entry[3] for entry in QUOTED}
    unchecked = {name: pages for name, pages in cited().items() if name not in checked}
    assert not unchecked, f"add a figure each of these files gives the pages to QUOTED: {unchecked}"


def test_the_run_a_page_names_is_its_results_files():
    for page in PAGES:
        for line in page.read_text(encoding="utf-8").splitlines():
            start = 0
            for run in RUN_OF.finditer(line):
                names = CITED.findall(line[start : run.start()])
                start = run.end()
                for path in names:
                    measured_at = results(path.removeprefix("bench/results/"))["measured_at"]
                    assert measured_at.startswith(run.group(1)), (
                        f"{page.name} says {path} is the run of {run.group(1)}; it holds the run of {measured_at}"
                    )


@pytest.mark.parametrize(
    ("page", "words", "number", "name", "figure", "note_pattern"),
    QUOTED,
    ids=[f"{entry[3]}:{entry[2]}" for entry in QUOTED],
)
def test_a_quoted_figure_is_its_results_files_value(page, words, number, name, figure, note_pattern):
    assert words in page_text(page), f"{page} no longer says {words!r}"
    assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", words), f"{number} is not in {words!r}"
    assert name in cited(), f"no page names bench/results/{name}, where {words!r} comes from"
    value = figure_value(name, figure, note_pattern)
    # Rounded as a reader rounds, half up (86.5 ms is "87 ms"), to the page's decimals.
    rounded = Decimal(str(value)).quantize(Decimal(number), rounding=ROUND_HALF_UP)
    assert rounded == Decimal(number), f"{page} says {number}; bench/results/{name} has {value}"
