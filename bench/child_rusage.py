"""Run one command and record the largest max RSS the kernel saw in its process tree.

    python -m bench.child_rusage RESULT.json -- COMMAND [ARG ...]

This is its own short-lived process on purpose: RUSAGE_CHILDREN keeps the largest max RSS
of every child ever reaped, so in the benchmark process itself an earlier child (migrate,
a previous worker) would hide a smaller figure. Here the only child is the command, and its
own reaped children (rq's work horse) are folded into it by the kernel when it exits.
It imports nothing heavy, and its own memory is not part of RUSAGE_CHILDREN anyway.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

USAGE = "usage: python -m bench.child_rusage RESULT.json -- COMMAND [ARG ...]"


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(USAGE, file=sys.stderr)
        return 2
    result_path, command = Path(argv[0]), argv[2:]
    started = time.monotonic()
    # Inherits stdout/stderr, so the caller decides where the worker's log goes.
    returncode = subprocess.call(command)  # noqa: S603 - the command comes from the benchmark itself
    wall_seconds = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {"returncode": returncode, "ru_maxrss_kib": usage.ru_maxrss, "wall_seconds": wall_seconds}
    result_path.write_text(json.dumps(result))
    return returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
