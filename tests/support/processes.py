"""Real workers for the fault tests; the rest lives in devtools/processes.py, which bench/ uses
too, and is re-exported here for the tests that import it from this module."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from devtools.processes import (
    ROOT,
    SHUTDOWN_GRACE_SECONDS,
    ProcessTree,
    procfile_command,
    procfile_line,
    read_procfile,
    wait_until,
)

__all__ = [
    "FAULTS",
    "ROOT",
    "SHUTDOWN_GRACE_SECONDS",
    "Process",
    "ProcessTree",
    "procfile_command",
    "procfile_line",
    "read_procfile",
    "wait_until",
]

FAULTS = Path(__file__).resolve().parent / "faults"


class Process(ProcessTree):
    """A worker for the fault tests, optionally slowed down, its output in a temporary file."""

    def __init__(self, argv: list[str], env: dict[str, str], *, slow_seconds: float = 0) -> None:
        env = dict(env)
        if slow_seconds:
            env["FAULT_SLOW_SECONDS"] = str(slow_seconds)
            env["PYTHONPATH"] = os.pathsep.join([str(FAULTS), str(ROOT), env.get("PYTHONPATH", "")])
        # Not deleted: output() reads it by name, and it is still there to read after a failure.
        descriptor, log_name = tempfile.mkstemp(prefix="worker-", suffix=".log")
        os.close(descriptor)
        super().__init__(argv, env, Path(log_name))
