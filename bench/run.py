"""Run every benchmark, print one table, and write bench/results/latest.json.

    .venv/bin/python -m bench.run                      # all of them, about 8 minutes on 2 cores
    .venv/bin/python -m bench.run --only throughput    # one (or several: --only a --only b)

Each benchmark is a module of bench/ run as its own process (Django is set up once per process)
in its own throwaway environment (bench/common.py): a temporary SQLite database, an embedded
Valkey on a free port, DJANGO_ENV_FILE=/dev/null. PostgreSQL is used only if DATABASE_URL is
set in the environment of this command. The test images are made once, in a temporary folder,
by the first benchmark that needs each, and every later benchmark of the run reads the same files.

Exit status: 0 when every target is met, 1 when one is not, 2 when a benchmark failed to run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import RESULTS_DIR, ROOT, machine, procfile_line
from bench.images import IMAGE_DIR_VARIABLE

# In the order of the issue; worker_shutdown is the safety check behind the Procfile's worker.
BENCHMARKS = (
    "upload_latency",
    "thumbnail_pipeline",
    "thumbnail_memory",
    "throughput",
    "pickup_latency",
    "gallery",
    "worker_shutdown",
)
LATEST = RESULTS_DIR / "latest.json"


def memory_figures(data: dict[str, Any]) -> list[dict[str, Any]]:
    """bench/thumbnail_memory.py predates the common format: its figures, in the table's terms."""
    job = data["job"]
    return [
        {
            "benchmark": "memory",
            "figure": "worker tree peak RSS, 50 MP JPEG",
            "value": job["median_tree_rss_peak_mib"],
            "unit": "MiB",
            "target": f"<= {data['target_mib']}",
            "met": data["target_met"],
            "note": f"PSS {job['median_tree_pss_sampled_mib']} MiB; job {job.get('median_job_seconds')} s",
        },
        {
            "benchmark": "memory",
            "figure": "work horse max RSS, 50 MP JPEG",
            "value": job["median_ru_maxrss_mib"],
            "unit": "MiB",
            "target": "",
            "met": None,
            "note": f"idle worker {data['idle']['median_ru_maxrss_mib']} MiB",
        },
    ]


def run_one(name: str, env: dict[str, str]) -> tuple[int, dict[str, Any] | None, float]:
    path = RESULTS_DIR / f"{name}.json"
    before = path.stat().st_mtime if path.exists() else 0.0
    started = time.monotonic()
    print(f"\n=== {name} ===", flush=True)
    returncode = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=ROOT, env=env)  # noqa: S603
    seconds = time.monotonic() - started
    # A result file from this run, not a stale one: a benchmark that crashed writes nothing.
    if not path.exists() or path.stat().st_mtime <= before:
        return returncode, None, seconds
    return returncode, json.loads(path.read_text()), seconds


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def print_table(figures: list[dict[str, Any]]) -> None:
    headings = ("benchmark", "figure", "value", "target", "met")
    rows = []
    for figure in figures:
        met = "" if figure["met"] is None else ("yes" if figure["met"] else "NO")
        rows.append(
            (
                figure["benchmark"],
                figure["figure"],
                f"{cell(figure['value'])} {figure['unit']}".strip(),
                figure["target"],
                met,
            )
        )
    widths = [max(len(str(row[i])) for row in [headings, *rows]) for i in range(len(headings))]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)")
    options = parser.parse_args(argv)
    selected = [name for name in BENCHMARKS if not options.only or name in options.only]

    started = time.monotonic()
    report: dict[str, Any] = {
        "command": ".venv/bin/python -m bench.run" + "".join(f" --only {n}" for n in options.only or []),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "procfile_worker": procfile_line("worker"),
        "database": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "SQLite (a throwaway file per benchmark)",
        "benchmarks": {},
        "figures": [],
    }
    failed = []
    with tempfile.TemporaryDirectory(prefix="bench-images-") as images:
        # Each benchmark makes the images it needs here, once for the whole run (bench/images.py).
        env = {**os.environ, IMAGE_DIR_VARIABLE: images}
        for name in selected:
            load_before = os.getloadavg()[0]
            returncode, data, seconds = run_one(name, env)
            entry: dict[str, Any] = {
                "exit_status": returncode,
                "seconds": round(seconds, 1),
                # Anything else running on the machine shows here: the figures assume it was idle.
                "load_average_1min_before": round(load_before, 2),
                "load_average_1min_after": round(os.getloadavg()[0], 2),
            }
            if data is None:
                failed.append(name)
                entry["error"] = "the benchmark did not finish; its output above says why"
            else:
                entry["result"] = data
                figures = memory_figures(data) if name == "thumbnail_memory" else data["figures"]
                report["figures"].extend(figures)
            report["benchmarks"][name] = entry
    report["seconds"] = round(time.monotonic() - started, 1)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    LATEST.write_text(json.dumps(report, indent=2) + "\n")

    print_table(report["figures"])
    print(f"\n{len(selected)} benchmark(s) in {report['seconds']:.0f} s; results in {LATEST.relative_to(ROOT)}")
    if failed:
        print(f"FAILED to run: {', '.join(failed)}")
        return 2
    return 0 if all(figure["met"] is not False for figure in report["figures"]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
