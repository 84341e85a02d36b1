"""Does an idle worker dyno stop promptly when Heroku stops it? The Procfile's, against a plain rq pool.

    .venv/bin/python -m bench.worker_shutdown

Heroku stops a dyno by sending SIGTERM to every process in it, and SIGKILL 30 s later. Each
trial starts the worker command, waits until its workers are idle, sends SIGTERM to every
process of the tree at once, and times the exit. The comparison is the same rqworker-pool
command with rq's own HerokuWorker, whose listener thread can swallow the signals (see
media_tasks/workers.py). A stop that takes longer than STOP_LIMIT_SECONDS counts as hung; on
Heroku it would end in SIGKILL, with any started job lost to the sweeper's lease.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from bench.common import (
    Dyno,
    Figure,
    Result,
    environment,
    median,
    print_figures,
    procfile_command,
    procfile_line,
    rounded,
    wait_for_workers,
)

TRIALS = 6
STOP_LIMIT_SECONDS = 8
SETTLE_SECONDS = 1.0


def rq_pool_command() -> list[str]:
    argv = procfile_command("worker")
    if "--worker-class" in argv:
        argv[argv.index("--worker-class") + 1] = "rq.worker.HerokuWorker"
    return argv


def worker_count(argv: list[str]) -> int:
    if "--num-workers" in argv:
        return int(argv[argv.index("--num-workers") + 1])
    return 2 if "rqworker-pool" in argv else 1


def trial(env: dict[str, str], argv: list[str], redis_url: str, log: Any) -> tuple[bool, float]:
    from redis import Redis

    Redis.from_url(redis_url).flushdb()
    dyno = Dyno(argv, env, log)
    try:
        wait_for_workers(redis_url, worker_count(argv))
        # Idle in BLPOP, where a worker spends its quiet hours.
        time.sleep(SETTLE_SECONDS)
        started = time.monotonic()
        dyno.signal(signal.SIGTERM)
        try:
            dyno.popen.wait(STOP_LIMIT_SECONDS)
            return dyno.popen.returncode == 0, time.monotonic() - started
        except subprocess.TimeoutExpired:
            return False, time.monotonic() - started
    finally:
        dyno.stop(timeout=1)


def main() -> int:
    configs = {"procfile": procfile_command("worker"), "rq-heroku-pool": rq_pool_command()}
    result = Result(
        name="worker_shutdown",
        description="idle worker dyno stopped with SIGTERM to every process: clean exits and time",
        command=".venv/bin/python -m bench.worker_shutdown",
    )
    outcomes: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    with environment("shutdown") as env:
        for number in range(TRIALS):
            for name, argv in configs.items():
                clean, seconds = trial(env.env, argv, env.redis_url, env.workdir / f"{name}-{number}.log")
                outcomes[name].append({"clean": clean, "seconds": rounded(seconds, 2)})
            print(f"trial {number + 1}/{TRIALS}: " + ", ".join(f"{n} {o[-1]}" for n, o in outcomes.items()))
    for name, runs in outcomes.items():
        clean_runs = [run for run in runs if run["clean"]]
        result.figures.append(
            Figure(
                "worker shutdown",
                f"clean stops, {name}",
                len(clean_runs),
                f"of {len(runs)}",
                target=f"{len(runs)} of {len(runs)}" if name == "procfile" else "",
                met=len(clean_runs) == len(runs) if name == "procfile" else None,
                note=f"median stop {rounded(median([r['seconds'] for r in clean_runs]), 2)} s" if clean_runs else "",
            )
        )
    result.details = {
        "commands": {"procfile": procfile_line("worker"), "rq-heroku-pool": " ".join(configs["rq-heroku-pool"][1:])},
        "stop_limit_seconds": STOP_LIMIT_SECONDS,
        "trials": outcomes,
    }
    path = result.write()
    print("\nSummary:")
    print_figures(result.figures)
    print(f"Results written to {path.relative_to(path.parents[2])}")
    return 0 if all(f.met for f in result.figures if f.met is not None) else 1


if __name__ == "__main__":
    sys.exit(main())
