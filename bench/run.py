"""Run every benchmark, print one table, and write bench/results/latest.json.

    .venv/bin/python -m bench.run                      # all of them, about 17 minutes on 2 cores
    .venv/bin/python -m bench.run --only throughput    # one (or several: --only a --only b); its
                                                       # entry in latest.json is replaced, the rest kept
    .venv/bin/python -m bench.run --quick              # smoke test: every code path, least work, about
                                                       # 2 minutes; results in a temporary folder

Each benchmark is a module of bench/ or of an app's own bench/ package (whose __init__.py lists
them) run as its own process (Django is set up once per process)
in its own throwaway environment (bench/common.py): a temporary SQLite database, the Redis
server dev.py would start, on a free port, DJANGO_ENV_FILE=/dev/null. PostgreSQL is used only if DATABASE_URL is
set in the environment of this command. Test files are made once, in a temporary folder, by the
first benchmark that needs each, and every later benchmark of the run reads the same files.

--quick sets BENCH_QUICK=1 for each benchmark, which then does one round of the fewest jobs,
requests or samples that still exercise all of its code (each module's `if QUICK:` block), and
BENCH_RESULTS_DIR to a new temporary folder, where its results and latest.json go: a quick
run's figures are noise, and bench/results/ keeps the measured ones.

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
from pathlib import Path
from typing import Any

from bench.common import (
    QUICK_VARIABLE,
    RESULTS_DIR,
    RESULTS_DIR_VARIABLE,
    ROOT,
    SHARED_FILES_VARIABLE,
    benchmark_modules,
    machine,
    procfile_line,
)

# The apps' benchmarks (<app>/bench/) first, then bench/'s own: worker_shutdown is
# the safety check behind the Procfile's worker.
MODULES = benchmark_modules()
BENCHMARKS = tuple(MODULES)


def run_one(name: str, env: dict[str, str], results: Path) -> tuple[int, dict[str, Any] | None, float]:
    path = results / f"{name}.json"
    before = path.stat().st_mtime if path.exists() else 0.0
    started = time.monotonic()
    print(f"\n=== {name} ===", flush=True)
    returncode = subprocess.call([sys.executable, "-m", MODULES[name]], cwd=ROOT, env=env)  # noqa: S603
    seconds = time.monotonic() - started
    # A result file from this run, not a stale one: a benchmark that crashed writes nothing.
    if not path.exists() or path.stat().st_mtime <= before:
        return returncode, None, seconds
    return returncode, json.loads(path.read_text()), seconds


def figures_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    # An entry kept from a latest.json older than the common format (one benchmark's, from
    # before it used bench/common.py's Result) has no figures: the next full run replaces it.
    return data.get("figures", [])


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
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: least work per benchmark, results not kept in bench/results"
    )
    options = parser.parse_args(argv)
    selected = [name for name in BENCHMARKS if not options.only or name in options.only]
    # A quick run's figures must never replace measured ones, nor be merged with them.
    # BENCH_RESULTS_DIR keeps a separate set, e.g. figures measured with DATABASE_URL set.
    results = (
        Path(tempfile.mkdtemp(prefix="bench-quick-results-"))
        if options.quick
        else Path(os.environ.get(RESULTS_DIR_VARIABLE) or RESULTS_DIR)
    )
    latest = results / "latest.json"

    started = time.monotonic()
    report: dict[str, Any] = {
        "command": ".venv/bin/python -m bench.run"
        + (" --quick" if options.quick else "")
        + "".join(f" --only {n}" for n in options.only or []),
        "quick": options.quick,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "procfile_worker": procfile_line("worker"),
        "database": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "SQLite (a throwaway file per benchmark)",
        "benchmarks": {},
        "figures": [],
    }
    failed = []
    with tempfile.TemporaryDirectory(prefix="bench-files-") as shared:
        # Each benchmark makes the test files it needs here, once for the whole run.
        env = {**os.environ, SHARED_FILES_VARIABLE: shared, RESULTS_DIR_VARIABLE: str(results)}
        if options.quick:
            env[QUICK_VARIABLE] = "1"
        else:
            # Inherited from the shell, it would make a full run's figures quick ones.
            env.pop(QUICK_VARIABLE, None)
        for name in selected:
            load_before = os.getloadavg()[0]
            returncode, data, seconds = run_one(name, env, results)
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
                report["figures"].extend(figures_of(data))
            report["benchmarks"][name] = entry
    report["seconds"] = round(time.monotonic() - started, 1)
    if options.only and latest.exists():
        # A partial run updates its benchmarks in the last full report and keeps the others,
        # each with its own measured_at, so latest.json always holds every benchmark's latest.
        previous = json.loads(latest.read_text())
        merged = {**previous.get("benchmarks", {}), **report["benchmarks"]}
        report["benchmarks"] = {name: merged[name] for name in BENCHMARKS if name in merged}
        report["figures"] = []
        for entry in report["benchmarks"].values():
            if "result" in entry:
                report["figures"].extend(figures_of(entry["result"]))
        report["updated_by_partial_run"] = list(options.only)
    results.mkdir(parents=True, exist_ok=True)
    latest.write_text(json.dumps(report, indent=2) + "\n")

    print_table(report["figures"])
    shown = latest.relative_to(ROOT) if latest.is_relative_to(ROOT) else latest
    print(f"\n{len(selected)} benchmark(s) in {report['seconds']:.0f} s; results in {shown}")
    if options.quick:
        print("Quick run: a smoke test, not a measurement; bench/results/ was left as it was.")
    if failed:
        print(f"FAILED to run: {', '.join(failed)}")
        return 2
    return 0 if all(figure["met"] is not False for figure in report["figures"]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
