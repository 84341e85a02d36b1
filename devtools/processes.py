"""Processes started the way a dyno starts them: the Procfile as Heroku reads it, and the process
tree the fault tests, the deploy simulation (tests/support/heroku.py) and bench/ build their dynos on."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Self

import psutil

from dev import read_procfile as read_procfile  # one reader of the Procfile, dev.py's

ROOT = Path(__file__).resolve().parents[1]


# Heroku stops a dyno's processes with SIGTERM and sends SIGKILL 30 s later.
# https://devcenter.heroku.com/articles/dynos#graceful-shutdown-with-sigterm
SHUTDOWN_GRACE_SECONDS = 30


def procfile_line(process_type: str) -> str:
    try:
        return read_procfile()[process_type]
    except KeyError:
        raise LookupError(f"Procfile has no {process_type}: process") from None


def procfile_command(process_type: str) -> list[str]:
    argv = shlex.split(procfile_line(process_type))
    # `python` on a dyno is the app's Python; here it is this virtualenv's.
    return [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]


class ProcessTree:
    """A process started like everything on one dyno: in its own session, its output in a file.

    It and its descendants are signalled and stopped together, as Heroku does with a dyno.
    Shared by the fault tests (tests.support.processes.Process), the deploy simulation
    (heroku.Dyno) and the benchmarks (bench.common.Dyno).
    """

    # What stop() waits after SIGTERM before it sends SIGKILL, unless told otherwise.
    grace_seconds: float = SHUTDOWN_GRACE_SECONDS

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        cwd: Path = ROOT,
        stdin: int | None = None,
    ) -> None:
        self.argv = argv
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.popen = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=stdin, start_new_session=True
        )

    def processes(self) -> list[psutil.Process]:
        """The root process and every descendant, parents first; empty once the root is gone."""
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def session(self) -> list[psutil.Process]:
        """Every process still in the dyno's session, its parent gone or not.

        A worker the pool forked just before its parent was killed lives on with PID 1 as its
        parent, where parentage no longer finds it; it keeps the session it was born in.
        """
        members = []
        for process in psutil.process_iter():
            with contextlib.suppress(OSError, psutil.Error):
                if os.getsid(process.pid) == self.popen.pid:
                    members.append(process)
        return members

    def signal_dyno(self, signum: int) -> None:
        """Signal every process of the dyno, as Heroku does at a restart or a crash.

        rq's work horse calls setsid(), so it is not in the worker's process group: find it
        (and any other descendant) by parentage, and the rest by session. A process forked while
        the signals go out is caught by the next pass.
        """
        signalled: set[int] = set()
        for _ in range(3):
            found = [process for process in [*self.processes(), *self.session()] if process.pid not in signalled]
            if not found:
                return
            for process in found:
                signalled.add(process.pid)
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.send_signal(signum)

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def stop(self, grace: float | None = None) -> int:
        """SIGTERM, then SIGKILL after the grace period, like Heroku; safe to call twice."""
        # The whole tree, not just the root: work horses left behind (a SIGKILLed worker's) die with
        # their dyno.
        if self.popen.poll() is None:
            self.signal_dyno(signal.SIGTERM)
            try:
                self.popen.wait(self.grace_seconds if grace is None else grace)
            except subprocess.TimeoutExpired:
                self.signal_dyno(signal.SIGKILL)
                self.popen.wait()
        # Nothing of the dyno outlives it: a process orphaned by an earlier SIGKILL included.
        for process in self.session():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        # Only this side's handle: the log stays readable, and anything left running keeps its own.
        self._log.close()
        return self.popen.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def wait_until[T](
    condition: Callable[[], T],
    timeout: float,
    message: str,
    every: float = 0.2,
    *,
    error: type[Exception] = AssertionError,
) -> T:
    """Poll `condition` until it returns something truthy, which is returned; `error` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise error(f"timed out after {timeout} s waiting for {message}")
        time.sleep(every)
