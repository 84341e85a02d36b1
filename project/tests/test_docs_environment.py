"""The docs' environment table (docs/environment.md) lists exactly the variables the code reads,
with the defaults the code has.

The code is what runs in a deploy or on a laptop: the settings, gunicorn.conf.py, dev.py and
the apps' modules (not the tests, not the benchmarks, not migrations). A read is
`os.environ.get("X")`, `os.environ["X"]`, `os.getenv("X")`, `"X" in os.environ`, a call of one
of the helpers below that read the environment with the name they are given, or
`dj_database_url.config()`, which reads DATABASE_URL (or the variable its `env` names).

A default is compared where the code writes it as a string: `os.environ.get("X", "10")`,
`os.environ.get("X") or "10"`, `str(10 * 1024)`, and `env_bool("X", False)` (off) or `True` (on);
and where an app's conf.py declares it, `Setting("X", 10)` (numbers, a string, a tuple of numbers
as `1,2`, arithmetic of digits).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT_PAGE = ROOT / "docs" / "environment.md"
APPS = ("project", "accounts", "emails", "files", "queues", "scheduling", "web", "work", "workers")
APPS += ("media_tasks",)  # demo
SCRIPTS = ("gunicorn.conf.py", "dev.py", "manage.py")

# Functions that read the environment variable named by their first argument.
ENV_READERS = {
    "env_bool": "project/settings.py",
    "env_list": "project/settings.py",
    "admins_from_env": "project/settings.py",
    "env_int": "project/settings.py",
    "env_float": "project/settings.py",
    "env_ints": "project/settings.py",
    "env_flag": "project/settings.py",
    "environment": "queues/conf.py",  # Setting's fallback: the variable of the setting's name
}

# Read by the code but not configuration: the platform sets them to say where the code runs,
# and nobody sets them by hand, so the docs' table does not list them.
NOT_CONFIGURATION = {
    # Set by Heroku on every dyno (web.1, worker.1, ...): Postgres then requires TLS.
    "DYNO",
    # Set by CI services (Heroku CI among them), whose in-dyno Postgres has no TLS.
    "CI",
    # Set by Heroku's dyno metadata (labs:enable runtime-dyno-metadata): Sentry's release.
    "HEROKU_SLUG_COMMIT",
    # Set by pyenv's shims for the interpreter they run: dev.py sets it aside to choose another.
    "PYENV_VERSION",
    # Set only by the conformance kit (work/conformance.py) on the worker processes it starts.
    "WORK_CONFORMANCE",
}


def code_files() -> Iterator[Path]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            # An app's tests and benchmarks (<app>/tests/, <app>/bench/) read variables of their own.
            if not {"migrations", "tests", "bench"} & set(path.relative_to(ROOT).parts):
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


def documented_rows(text: str) -> list[tuple[list[str], str]]:
    """Each row of the page's table: the backticked names in its first column, and its default column."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or line.startswith("| ---") or line.startswith("| Variable"):
            continue
        columns = line.split("|")
        rows.append((re.findall(r"`([A-Z][A-Z0-9_]*)`", columns[1]), columns[2].strip()))
    return rows


def documented_variables(text: str) -> set[str]:
    return {name for names, _ in documented_rows(text) for name in names}


def documented_defaults(text: str) -> dict[str, str | None]:
    """Each variable's documented default: its row's backticked value (by position when the row names
    several and as many values), or the word the column starts with ("off", "on", "empty", "unset",
    "none"), else None (prose)."""
    defaults: dict[str, str | None] = {}
    for names, column in documented_rows(text):
        values = re.findall(r"`([^`]*)`", column)
        word = re.match(r"(off|on|empty|unset|none)\b", column)
        for index, name in enumerate(names):
            if word:
                defaults[name] = word.group(1)
            elif len(values) == len(names):
                defaults[name] = values[index]
            elif len(values) == 1:
                defaults[name] = values[0]
            else:
                defaults[name] = None
    return defaults


def _literal(node: ast.AST | None) -> str | None:
    """A default the code writes as a string: a constant, or str() of constant arithmetic."""
    if node is None:
        return None
    if isinstance(node, ast.Call) and _is_name(node.func, "str") and len(node.args) == 1:
        expression = ast.unparse(node.args[0])
        if not re.fullmatch(r"[0-9 +*]+", expression):
            return None
        return str(eval(expression, {"__builtins__": {}}))  # noqa: S307  (digits, + and * only)
    return _constant(node)


def _environ_get(node: ast.AST) -> ast.Call | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and _is_environ(node.func.value)
        and node.args
    ):
        return node
    return None


def code_defaults(path: Path) -> dict[str, str]:
    """The variables this file reads with a default written as a string (see the module's docstring)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    defaults: dict[str, str] = {}
    for node in ast.walk(tree):
        name, default = None, None
        if (call := _environ_get(node)) is not None and len(call.args) == 2:
            name, default = _constant(call.args[0]), _literal(call.args[1])
        elif isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and len(node.values) == 2:
            call = _environ_get(node.values[0])
            if call is not None and len(call.args) == 1:
                name, default = _constant(call.args[0]), _literal(node.values[1])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"env_bool", "env_list"}
            and len(node.args) == 2
        ):
            value = node.args[1]
            if node.func.id == "env_bool" and isinstance(value, ast.Constant) and isinstance(value.value, bool):
                name, default = _constant(node.args[0]), "on" if value.value else "off"
            elif node.func.id == "env_list":
                name, default = _constant(node.args[0]), _literal(value)
        elif isinstance(node, ast.Call) and _is_name(node.func, "Setting") and len(node.args) == 2:
            name, default = _constant(node.args[0]), _declared(node.args[1])
        if name is not None and default is not None:
            defaults[name] = default
    return defaults


def _declared(node: ast.AST) -> str | None:
    """A conf.py default as the docs write it: 30.0 is `30`, (5, 20) is `5,20`."""
    if isinstance(node, ast.Tuple):
        items = [_declared(item) for item in node.elts]
        return None if None in items else ",".join(item for item in items if item is not None)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    expression = ast.unparse(node)
    if not re.fullmatch(r"[0-9 +*.]+", expression):
        return None
    value = eval(expression, {"__builtins__": {}})  # noqa: S307  (digits, ., + and * only)
    return str(int(value)) if float(value).is_integer() else str(value)


def _matches(documented: str | None, default: str) -> bool:
    if default == "":
        # No value: the docs say so, or say in words what happens instead, but name no other value.
        return documented in {None, "empty", "unset", "none", ""}
    return documented == default


def test_every_read_names_its_variable() -> None:
    _, dynamic = variables_read()
    assert dynamic == [], (
        "These read the environment with a name that is not a string literal, so this test cannot "
        f"check the docs list it; name the variable, or add the helper to ENV_READERS: {dynamic}"
    )


def test_the_docs_list_exactly_the_variables_the_code_reads() -> None:
    read, _ = variables_read()
    listed = documented_variables(ENVIRONMENT_PAGE.read_text())
    configuration = read - NOT_CONFIGURATION
    missing, unread = sorted(configuration - listed), sorted(listed - configuration)
    assert not missing, f"read by the code but missing from docs/environment.md's table: {missing}"
    assert not unread, f"in docs/environment.md's table but read by no code: {unread}"


def test_each_documented_default_is_the_codes() -> None:
    documented = documented_defaults(ENVIRONMENT_PAGE.read_text())
    wrong = []
    for path in code_files():
        for name, default in code_defaults(path).items():
            if name in documented and not _matches(documented[name], default):
                relative = path.relative_to(ROOT).as_posix()
                wrong.append(f"{name}: the code ({relative}) says {default!r}, the docs {documented[name]!r}")
    assert not wrong, "docs/environment.md's Default column differs from the code:\n" + "\n".join(wrong)


def test_the_defaults_are_found() -> None:
    # The parsing itself, on each form of default, so a refactor cannot make the comparison vacuous.
    settings = code_defaults(ROOT / "project" / "settings.py")
    assert settings["DJANGO_DEBUG"] == "off"
    assert settings["EMAIL_TIMEOUT"] == "10"
    assert settings["DJANGO_ALLOWED_HOSTS"] == ".herokuapp.com,localhost,127.0.0.1,[::1]"
    assert len(settings) >= 15, sorted(settings)
    web, emails = code_defaults(ROOT / "web" / "conf.py"), code_defaults(ROOT / "emails" / "conf.py")
    assert web["MAX_UPLOAD_BYTES"] == "10485760"
    assert web["HEALTH_QUEUE_LATENCY_MAX_SECONDS"] == "300"
    assert emails["EMAIL_RETRY_SCHEDULE"] == "30,120,600,1800,3600,10800,21600"
    assert len([name for path in code_files() for name in code_defaults(path)]) >= 40
    documented = documented_defaults(ENVIRONMENT_PAGE.read_text())
    assert documented["HEALTH_QUEUE_LATENCY_MAX_SECONDS"] == "300"
    assert documented["DJANGO_DEBUG"] == "off"
    assert documented["SITE_URL"] is None


def test_the_readers_are_found() -> None:
    # The parsing itself: a variable each kind of read names, so a refactor cannot make this vacuous.
    read, _ = variables_read()
    assert {"DJANGO_SECRET_KEY", "DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS", "PORT", "WORKER_TTL_SECONDS"} <= read
    assert {"DYNO", "CI", "DEV_REDIS_PORT", "DATABASE_URL"} <= read
