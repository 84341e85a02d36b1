"""Each app setting has one default, in its app's conf.py, and is read only through it.

The core apps' settings are declared with queues.conf.Setting in <app>/conf.py. A default
written twice drifts: one copy is changed and the other still runs. So: each name is declared
in one conf.py; the apps' code reads no declared name through `settings.NAME`, and writes no
default for one anywhere else (a constant, `os.environ.get(NAME, default)`, `getattr(settings,
NAME, default)`); project/settings.py, run with no config vars set, names none of them with a
value; and each Setting returns the Django setting when there is one, else the default.
"""

from __future__ import annotations

import ast
import importlib
import os
import runpy
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings

from queues.conf import DECLARED, Setting

ROOT = Path(__file__).resolve().parent.parent.parent
CORE_APPS = (
    *("queues", "scheduling", "work", "emails", "workers", "web", "accounts", "files"),
    "media_tasks",  # demo
)

# Settings the apps read that are not theirs to default: Django's own are in global_settings;
# these are django-rq's (RQ_*), judoscale's, and the project's, which settings.py sets itself
# because it uses them there (SITE_NAME makes EMAIL_SUBJECT_PREFIX, JUDOSCALE_URL installs an app)
# or because they name other apps' forms (RATE_LIMITS' scopes are accounts' and the demo's).
NOT_APP_SETTINGS = {"RQ_QUEUES", "RQ_API_TOKEN", "JUDOSCALE", "JUDOSCALE_URL", "SITE_NAME", "RATE_LIMITS"}


def app_modules(app: str) -> list[Path]:
    return [
        path
        for path in sorted((ROOT / app).rglob("*.py"))
        if not {"tests", "migrations", "bench"} & set(path.relative_to(ROOT).parts)
    ]


def conf_files() -> list[Path]:
    return [ROOT / app / "conf.py" for app in CORE_APPS if (ROOT / app / "conf.py").is_file()]


def declarations(path: Path) -> list[str]:
    """The names a conf.py declares: its `Setting("NAME", default)` calls."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Setting"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]


def _is_settings(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "settings"


def _is_environ_get(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"get", "getenv"}
        and isinstance(node.func.value, ast.Attribute | ast.Name)
        and ast.unparse(node.func.value) in {"os.environ", "os"}
    )


def settings_read(path: Path) -> set[str]:
    """The settings a module reads: `settings.NAME` and `getattr(settings, "NAME", ...)`."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and _is_settings(node.value) and node.attr.isupper():
            names.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and _is_settings(node.args[0])
            and isinstance(node.args[1], ast.Constant)
        ):
            names.add(node.args[1].value)
    return names


def defaults_written(path: Path, names: set[str]) -> list[str]:
    """Where a module outside conf.py writes a default for a declared name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in names:
                    found.append(f"{where} assigns {target.id}")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.args[0].value
            if name in names and _is_environ_get(node) and len(node.args) == 2:
                found.append(f"{where} reads {name} from the environment with a default")
            if name in names and isinstance(node.func, ast.Name) and node.func.id == "Setting":
                found.append(f"{where} declares {name} outside a conf.py")
        elif isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and _is_environ_get(node.values[0]):
            call = node.values[0]
            assert isinstance(call, ast.Call)
            unset = isinstance(node.values[-1], ast.Constant) and node.values[-1].value is None
            if call.args and isinstance(call.args[0], ast.Constant) and call.args[0].value in names and not unset:
                found.append(f"{where} reads {call.args[0].value} from the environment with a default")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) == 3
            and _is_settings(node.args[0])
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in names
        ):
            found.append(f"{where} reads {node.args[1].value} with a default of its own")
    return found


def declared_names() -> set[str]:
    return {name for path in conf_files() for name in declarations(path)}


def test_every_core_apps_conf_module_imports_and_declares_its_settings():
    for path in conf_files():
        module = importlib.import_module(f"{path.parent.name}.conf")
        mine = {name for name, setting in DECLARED.items() if setting.module == module.__name__}
        assert mine == set(declarations(path)), path
        for name in mine:
            assert getattr(module, name) is DECLARED[name], f"{module.__name__}.{name} is not the Setting of {name}"
    assert len(declared_names()) >= 20, sorted(declared_names())


def test_each_setting_is_declared_in_exactly_one_conf_module():
    seen: dict[str, list[str]] = {}
    for path in conf_files():
        for name in declarations(path):
            seen.setdefault(name, []).append(str(path.relative_to(ROOT)))
    twice = {name: where for name, where in seen.items() if len(where) > 1}
    assert not twice, f"declared in more than one place: {twice}"


def test_the_apps_read_their_settings_through_their_conf():
    declared = declared_names()
    stray, unknown = [], []
    for app in CORE_APPS:
        for path in app_modules(app):
            for name in settings_read(path):
                where = f"{path.relative_to(ROOT)}: {name}"
                if name in declared:
                    stray.append(where)
                elif not hasattr(global_settings, name) and name not in NOT_APP_SETTINGS:
                    unknown.append(where)
    assert not stray, f"read as settings.NAME instead of through the app's conf.py: {stray}"
    assert not unknown, f"an app setting with no default in any conf.py: {unknown}"


def test_no_module_outside_conf_writes_a_default():
    declared = declared_names()
    modules = [path for app in CORE_APPS for path in app_modules(app) if path.name != "conf.py"]
    written = [where for path in modules for where in defaults_written(path, declared)]
    # settings.py may name a setting, for its config var: what it assigns is checked below.
    in_settings = defaults_written(ROOT / "project" / "settings.py", declared)
    written += [where for where in in_settings if " assigns " not in where]
    assert not written, f"a default outside the app's conf.py: {written}"


def test_project_settings_restates_no_default(monkeypatch):
    # settings.py as a deploy with no config vars runs it (its secret aside): every app setting it
    # names is None, the app's default applying; none is set to a value of its own.
    for name in list(os.environ):
        monkeypatch.delenv(name)
    monkeypatch.setenv("DJANGO_SECRET_KEY", "tests-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz")
    monkeypatch.setenv("DJANGO_ENV_FILE", os.devnull)
    values = runpy.run_path(str(ROOT / "project" / "settings.py"))
    named = {name: values[name] for name in DECLARED if name in values}
    assert named, "settings.py names no app setting: the config vars' readers moved?"
    restated = {name: value for name, value in named.items() if value is not None}
    assert not restated, f"project/settings.py sets these without a config var (defaults live in conf.py): {restated}"


@pytest.mark.parametrize("name", sorted(declared_names()))
def test_what_the_code_reads_is_the_setting_else_the_default(name, settings, monkeypatch):
    setting: Setting[Any] = DECLARED[name]
    monkeypatch.delenv(name, raising=False)
    assert setting() == getattr(settings, name)  # the project's value, or the default filled in

    delattr(settings, name)
    assert setting() == setting.default

    changed: Any = "x" if isinstance(setting.default, str) else setting.default
    if isinstance(setting.default, int | float) and not isinstance(setting.default, bool):
        changed = setting.default + 7
    elif isinstance(setting.default, tuple):
        changed = (*setting.default, 1)
    setattr(settings, name, changed)
    assert setting() == changed


@pytest.mark.parametrize(
    "name", sorted(name for name in declared_names() if isinstance(DECLARED[name].default, int | float | str))
)
def test_a_number_or_string_setting_falls_back_to_its_environment_variable(name, settings, monkeypatch):
    # The worker processes take these from their environment where no settings module names them.
    setting: Setting[Any] = DECLARED[name]
    delattr(settings, name)
    monkeypatch.setenv(name, "7")
    if isinstance(setting.default, bool):  # a flag: "1", "true", "yes" or "on" is on
        assert setting() is False
        monkeypatch.setenv(name, "yes")
        assert setting() is True
    else:
        assert setting() == type(setting.default)("7")
