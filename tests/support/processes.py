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
    "ROOT",
    "SHUTDOWN_GRACE_SECONDS",
    "Process",
    "ProcessTree",
    "procfile_command",
    "procfile_line",
    "read_procfile",
    "wait_until",
]


class Process(ProcessTree):
    """A worker for the fault tests, its output in a temporary file."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        env = dict(env)
        # Not deleted: output() reads it by name, and it is still there to read after a failure.
        descriptor, log_name = tempfile.mkstemp(prefix="worker-", suffix=".log")
        os.close(descriptor)
        super().__init__(argv, env, Path(log_name))
