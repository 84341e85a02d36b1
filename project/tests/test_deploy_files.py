"""The files Heroku reads: app.json, Procfile, requirements.txt, runtime.txt."""

from __future__ import annotations

import importlib
import json
import re
import shlex
from importlib import metadata

from django.core.management import get_commands
from rq.worker import BaseWorker

from tests.support.processes import ROOT

# Heroku's JSON Schema for app.json, as heroku/heroku-mcp-server publishes it (src/utils/app-json.schema.json,
# Apache-2.0, commit de94a9c, 2026-08-11); its stack enum stops at heroku-24, and app.json names none.
SCHEMA = ROOT / "tests" / "support" / "app-json.schema.json"


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name: shlex.split(command) for name, command in (line.split(":", 1) for line in lines if line.strip())}


def app_json() -> dict:
    return json.loads((ROOT / "app.json").read_text())


def test_app_json_is_valid_against_herokus_schema():
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(app_json())
    ]
    assert errors == []


def test_deploy_button_starts_web_and_a_worker_which_runs_the_schedule_without_manual_scaling():
    formation = app_json()["formation"]
    assert set(formation) == set(procfile()) - {"release"} == {"web", "worker"}
    assert all(process["quantity"] >= 1 for process in formation.values())
    # The schedule runs in the worker's parent (rqworker-pool), not in a process type of its own.
    assert procfile()["worker"][:3] == ["python", "manage.py", "rqworker-pool"]
    review = app_json()["environments"]["review"]["formation"]
    assert set(review) == {"web", "worker"}


def test_app_json_generates_the_secret_and_marks_optional_variables():
    env = app_json()["env"]
    assert env["DJANGO_SECRET_KEY"]["generator"] == "secret"
    optional = [name for name, entry in env.items() if "generator" not in entry]
    assert all(env[name].get("required") is False for name in optional)
    plans = {addon["plan"] if isinstance(addon, dict) else addon for addon in app_json()["addons"]}
    assert plans == {"heroku-postgresql:essential-0", "heroku-redis:mini"}


def test_every_procfile_command_exists():
    commands = get_commands()
    processes = procfile()
    assert set(processes) >= {"release", "web", "worker"}
    for name, argv in processes.items():
        if argv[:2] == ["python", "manage.py"]:
            assert argv[2] in commands, f"{name}: manage.py has no {argv[2]} command"
        else:
            assert argv[0] == "gunicorn", f"{name}: unexpected program {argv[0]}"
            importlib.import_module(argv[1].split(":")[0])
            assert (ROOT / argv[argv.index("--config") + 1]).exists()
    worker = processes["worker"]
    worker_class = worker[worker.index("--worker-class") + 1]
    module, _, attribute = worker_class.rpartition(".")
    assert issubclass(getattr(importlib.import_module(module), attribute), BaseWorker)


def test_requirements_are_exact_pins_of_what_is_installed():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        assert version, f"{line} is not pinned with =="
        assert metadata.version(name.split("[")[0]) == version, f"{name} is pinned to {version} but not installed"


def test_runtime_txt_names_the_python_version_file():
    # .python-version is the source of truth (Heroku's recommended file, read by Render and by
    # CI too); runtime.txt stays because Heroku's classic buildpack prefers it when both exist.
    version = (ROOT / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.(11|12|13|14)", version), f"{version}: Heroku supports Python 3.11-3.14"
    assert (ROOT / "runtime.txt").read_text().strip() == f"python-{version}"
