"""The Procfile's web process (gunicorn and its worker class) for tests that talk HTTP to it."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.support.processes import ROOT, Process, procfile_command, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


_collected_in_this_process = False


@contextmanager
def static_files_lock() -> Iterator[None]:
    """Held by whoever runs collectstatic into the checkout's staticfiles/, one at a time."""
    static_root = ROOT / "staticfiles"
    static_root.mkdir(exist_ok=True)
    with open(static_root / ".collecting.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def collect_static(env: dict[str, str]) -> None:
    """What the buildpack does at build time (the manifest static storage needs it), once per test run.

    pytest-xdist's workers share one staticfiles/: two collectstatic at once, or one rewriting
    files another worker's gunicorn serves, broke a test (WhiteNoise's compressor found a file gone).
    """
    global _collected_in_this_process
    if _collected_in_this_process:
        return
    static_root = ROOT / "staticfiles"
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"process-{os.getpid()}")
    marker = static_root / f".collected-{run}"
    with static_files_lock():
        if not marker.exists():
            argv = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
            subprocess.run(argv, cwd=ROOT, env=env, check=True)
            for old in static_root.glob(".collected-*"):
                old.unlink()
            marker.touch()
    _collected_in_this_process = True


@dataclass
class WebDyno:
    process: Process
    port: int

    def workers(self) -> list[psutil.Process]:
        """gunicorn's worker processes (the master only forks them)."""
        return self.process.processes()[1:]

    def resident_bytes(self) -> int:
        return sum(_safely(lambda p: p.memory_info().rss, worker) for worker in self.workers())

    def spooled_bytes(self) -> int:
        """Bytes in deleted-but-open files of the workers: spooled request bodies on disk."""
        total = 0
        for worker in self.workers():
            fd_dir = Path(f"/proc/{worker.pid}/fd")
            try:
                descriptors = list(fd_dir.iterdir())
            except OSError:
                continue
            for descriptor in descriptors:
                try:
                    info = os.stat(descriptor)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode) and info.st_nlink == 0:
                    total += info.st_size
        return total


def _safely(read, process: psutil.Process) -> int:
    try:
        return read(process)
    except psutil.Error:
        return 0


@contextmanager
def procfile_web(env: dict[str, str]) -> Iterator[WebDyno]:
    """Start the Procfile's web line on a free port, as a dyno would, with two gunicorn workers."""
    port = free_port()
    env = {
        **env,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        # Plain HTTP on 127.0.0.1; Heroku's router would have redirected to https.
        "DJANGO_SECURE_SSL_REDIRECT": "0",
    }
    collect_static(env)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    assert gunicorn, "gunicorn is not installed beside this Python"
    argv = procfile_command("web")
    assert argv[0] == "gunicorn", argv
    process = Process([gunicorn, *argv[1:]], env)
    try:
        wait_until(lambda: listening(port), 60, "gunicorn to listen")
        dyno = WebDyno(process, port)
        # Forked is not loaded: under load a worker still importing the app grows for seconds.
        wait_until(
            lambda: process.output().count("Worker ready (pid: ") >= 2, 60, "gunicorn's two workers to load the app"
        )
        yield dyno
    finally:
        process.stop()
