"""A PostgreSQL server of a test's own: a fresh `initdb` cluster on a free port in a temporary directory.

For tests that stop or restart the database: never the machine's own server (or a developer's),
which other tests, other checkouts and other programs use. PostgreSQL refuses to run as root, so
as root the cluster belongs to the `postgres` user (Debian's packages create it) and every
command runs through runuser.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.heroku import free_port


def find_bin_dir() -> Path | None:
    """The newest PostgreSQL's binaries: Debian keeps them out of PATH, under /usr/lib/postgresql/<major>/bin."""
    candidates = sorted(
        (Path(found).parent for found in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def unavailable_reason() -> str | None:
    """Why a throwaway server cannot be had here, or None if it can."""
    bin_dir = find_bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        return "needs PostgreSQL's initdb and pg_ctl (Debian: apt install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root needs a `postgres` user to own the cluster (PostgreSQL refuses root)"
        if not shutil.which("runuser"):
            return "running as root needs runuser to start PostgreSQL as the postgres user"
    return None


class ThrowawayPostgres:
    """initdb, start, restart and stop a cluster of this test's own; trust auth on 127.0.0.1 only."""

    def __init__(self) -> None:
        bin_dir = find_bin_dir()
        assert bin_dir is not None, unavailable_reason()
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tests-postgres-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", self._options, "-l", str(self.log), "-w", "start")

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_user, str(self.bin_dir / program), *args]
        # A file, not a pipe: the server pg_ctl starts inherits it, and a pipe would stay open while it runs.
        with tempfile.TemporaryFile() as output:
            returncode = subprocess.run(command, cwd=self.root, stdout=output, stderr=output, timeout=120).returncode
            output.seek(0)
            printed = output.read().decode(errors="replace")
        assert returncode == 0, f"{program} {' '.join(args)}: {printed}{self.server_log()}"

    def server_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def restart(self) -> None:
        """Stop (fast: every connection is cut, as at a real restart) and start again, on the same port."""
        data, log = str(self.data), str(self.log)
        self._run("pg_ctl", "-D", data, "-m", "fast", "-w", "restart", "-o", self._options, "-l", log)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
