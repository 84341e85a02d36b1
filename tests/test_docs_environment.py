"""The README's "Environment variables" table lists exactly the variables the code reads.

The code is what runs in a deploy or on a laptop: the settings, gunicorn.conf.py, dev.py and
the apps' modules (not the tests, not the benchmarks, not migrations). A read is
`os.environ.get("X")`, `os.environ["X"]`, `os.getenv("X")`, `"X" in os.environ`, a call of one
of the helpers below that read the environment with the name they are given, or
`dj_database_url.config()`, which reads DATABASE_URL (or the variable its `env` names).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("project", "accounts", "background", "files", "web", "media_tasks")
SCRIPTS = ("gunicorn.conf.py", "dev.py", "manage.py")

# Functions that read the environment variable named by their first argument.
ENV_READERS = {
    "env_bool": "project/settings.py",
    "env_list": "project/settings.py",
    "admins_from_env": "project/settings.py",
    "setting": "background/workers.py",  # a Django setting, else the variable of the same name
}

# Read by the code but not configuration: the platform sets them to say where the code runs,
# and nobody sets them by hand, so the README's table does not list them.
NOT_CONFIGURATION = {
    # Set by Heroku on every dyno (web.1, worker.1, ...): Postgres then requires TLS.
    "DYNO",
    # Set by CI services (Heroku CI among them), whose in-dyno Postgres has no TLS.
    "CI",
    # Set by Heroku's dyno metadata (labs:enable runtime-dyno-metadata): Sentry's release.
    "HEROKU_SLUG_COMMIT",
    # Set by pyenv's shims for the interpreter they run: dev.py sets it aside to choose another.
    "PYENV_VERSION",
}


def code_files() -> Iterator[Path]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path
    for name in SCRIPTS:
        yield ROOT / name


def _is_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and _is_os(node.value)


def _is_os(node: ast.AST) -> bool:
    return _is_name(node, "os")


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _constant(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def reads(path: Path) -> tuple[set[str], list[str]]:
    """The variables the file reads, and the reads whose name is not a string literal."""
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = path.relative_to(ROOT).as_posix()
    # Inside a reader helper, the name is its parameter: its callers are what is counted.
    helper_bodies = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and ENV_READERS.get(node.name) == relative
        for inner in ast.walk(node)
    }
    names: set[str] = set()
    dynamic: list[str] = []

    def name_argument(node: ast.AST, argument: ast.AST | None) -> None:
        name = _constant(argument) if argument is not None else None
        if name is not None:
            names.add(name)
        elif id(node) not in helper_bodies:
            dynamic.append(f"{relative}:{node.lineno}")  # type: ignore[attr-defined]

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            first = node.args[0] if node.args else None
            if (
                (isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value))
                or (isinstance(func, ast.Attribute) and func.attr == "getenv" and _is_os(func.value))
                or (isinstance(func, ast.Name) and ENV_READERS.get(func.id) == relative)
            ):
                name_argument(node, first)
            elif isinstance(func, ast.Attribute) and func.attr == "config" and _is_name(func.value, "dj_database_url"):
                env = next((keyword.value for keyword in node.keywords if keyword.arg == "env"), None)
                name_argument(node, env if env is not None else ast.Constant("DATABASE_URL"))
        elif isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
            name_argument(node, node.slice)
        elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
            name_argument(node, node.left)
    return names, dynamic


def variables_read() -> tuple[set[str], list[str]]:
    names: set[str] = set()
    dynamic: list[str] = []
    for path in code_files():
        found, unnamed = reads(path)
        names |= found
        dynamic += unnamed
    return names, dynamic


def readme_variables(text: str) -> set[str]:
    """Backticked names in the first column of the table under "## Environment variables"."""
    section = text.split("\n## Environment variables\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("|") or line.startswith("| ---"):
            continue
        first_column = line.split("|")[1]
        names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_column))
    return names


def test_every_read_names_its_variable() -> None:
    _, dynamic = variables_read()
    assert dynamic == [], (
        "These read the environment with a name that is not a string literal, so this test cannot "
        f"check the README lists it; name the variable, or add the helper to ENV_READERS: {dynamic}"
    )


def test_readme_lists_exactly_the_variables_the_code_reads() -> None:
    read, _ = variables_read()
    listed = readme_variables((ROOT / "README.md").read_text())
    configuration = read - NOT_CONFIGURATION
    missing, unread = sorted(configuration - listed), sorted(listed - configuration)
    assert not missing, f"read by the code but missing from the README's environment table: {missing}"
    assert not unread, f"in the README's environment table but read by no code: {unread}"


def test_the_readers_are_found() -> None:
    # The parsing itself: a variable each kind of read names, so a refactor cannot make this vacuous.
    read, _ = variables_read()
    assert {"DJANGO_SECRET_KEY", "DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS", "PORT", "WORKER_TTL_SECONDS"} <= read
    assert {"DYNO", "CI", "DEV_REDIS_PORT", "DATABASE_URL"} <= read
