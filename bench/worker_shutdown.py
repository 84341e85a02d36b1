"""Does an idle worker dyno stop promptly when Heroku stops it? The Procfile's, against rq pools.

    .venv/bin/python -m bench.worker_shutdown

Heroku stops a dyno by sending SIGTERM to every process in it, and SIGKILL 30 s later. Each
trial starts a worker command, waits until its workers are idle, sends SIGTERM to every
process of the tree at once, and times the exit. Measured (bench/common.py's worker_setups):
the Procfile's worker, a pool of WORKER_CONCURRENCY (2) of the project's InProcessWorker; a pool
of two of the project's HerokuWorker, the forking alternative; and the same pool with rq's own
HerokuWorker, whose pub/sub listener thread can take the signals (workers/runtime.py says
why). The setups take turns, TRIALS times each. A stop that takes longer than STOP_LIMIT_SECONDS
counts as hung; on Heroku it would end in SIGKILL, taking any job a worker had started with it
(the sweeper requeues that work once its claim's lease runs out).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from bench.common import (
    QUICK,
    Environment,
    Result,
    WorkerSetup,
    describe_setups,
    environment,
    idle_dyno,
    median,
    rounded,
    setup_django,
    worker_setups,
)

TRIALS = 1 if QUICK else 5
STOP_LIMIT_SECONDS = 8
SETTLE_SECONDS = 1.0
SETUPS = ("procfile", "heroku-pool-2", "rq-heroku-pool-2")


def trial(env: Environment, setup: WorkerSetup, label: str) -> tuple[bool, float]:
    """(exited cleanly within the limit, seconds from SIGTERM to exit or to giving up)."""
    from redis import Redis

    Redis.from_url(env.redis_url).flushdb()
    # A hung dyno is killed a second after the limit: it has been counted as hung by then.
    with idle_dyno(env, setup, label, stop_timeout=1) as dyno:
        # Idle in BLPOP, where a worker spends its quiet hours.
        time.sleep(SETTLE_SECONDS)
        started = time.monotonic()
        dyno.signal_dyno(signal.SIGTERM)
        try:
            dyno.popen.wait(STOP_LIMIT_SECONDS)
            return dyno.popen.returncode == 0, time.monotonic() - started
        except subprocess.TimeoutExpired:
            return False, time.monotonic() - started


def main() -> int:
    result = Result(
        "worker_shutdown",
        "worker shutdown",
        "idle worker dyno stopped with SIGTERM to every process: clean exits and time",
    )
    with environment("shutdown") as env:
        setup_django(env.env)
        setups = worker_setups(*SETUPS)
        outcomes: dict[str, list[dict[str, Any]]] = {name: [] for name in setups}
        for number in range(TRIALS):
            for name, setup in setups.items():
                clean, seconds = trial(env, setup, f"{name}-{number}")
                outcomes[name].append({"clean": clean, "seconds": rounded(seconds, 2)})
            print(f"trial {number + 1}/{TRIALS}: " + ", ".join(f"{n} {o[-1]}" for n, o in outcomes.items()), flush=True)
    for name, runs in outcomes.items():
        clean_runs = [run for run in runs if run["clean"]]
        # Only the Procfile's worker must stop cleanly every time; the others are the comparison.
        judged = name == "procfile"
        result.add(
            f"clean stops, {name}",
            len(clean_runs),
            f"of {len(runs)}",
            target=f"{len(runs)} of {len(runs)}" if judged else "",
            met=len(clean_runs) == len(runs) if judged else None,
            note=f"median stop {rounded(median([r['seconds'] for r in clean_runs]), 2)} s" if clean_runs else "",
        )
    result.details = {
        "setups": describe_setups(setups),
        "stop_limit_seconds": STOP_LIMIT_SECONDS,
        "trials": outcomes,
    }
    return result.finish()


if __name__ == "__main__":
    sys.exit(main())
