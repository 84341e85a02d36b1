"""Real worker processes for fault tests, started the way the Procfile starts them."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
FAULTS = Path(__file__).resolve().parent / "faults"


def procfile_command(process_type: str) -> list[str]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            argv = shlex.split(command)
            # `python` on a dyno is the app's Python; here it is this virtualenv's.
            return [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    raise LookupError(f"Procfile has no {process_type}: process")


class Process:
    """A process in its own group, like everything on one dyno, with its output kept in a file."""

    def __init__(self, argv: list[str], env: dict[str, str], *, slow_seconds: float = 0) -> None:
        env = dict(env)
        if slow_seconds:
            env["FAULT_SLOW_SECONDS"] = str(slow_seconds)
            env["PYTHONPATH"] = os.pathsep.join([str(FAULTS), str(ROOT), env.get("PYTHONPATH", "")])
        self.log = tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log", delete=False)  # noqa: SIM115
        self.popen = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def signal_dyno(self, signum: int) -> None:
        """Signal every process of the dyno, as Heroku does at a restart or a crash.

        rq's work horse calls setsid(), so it is not in the worker's process group: find it
        (and any other descendant) by parentage instead.
        """
        try:
            tree = [psutil.Process(self.popen.pid)]
            tree += tree[0].children(recursive=True)
        except psutil.NoSuchProcess:
            return
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signum)

    def stop(self, timeout: float = 30) -> int:
        if self.popen.poll() is None:
            self.signal_dyno(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal_dyno(signal.SIGKILL)
                self.popen.wait()
        return self.popen.returncode

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


def wait_until(condition: Callable[[], bool], timeout: float, message: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(every)
