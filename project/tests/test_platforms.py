"""The files other platforms read: render.yaml (Render), app.json as Dokku reads it, and .github/.

Render publishes a JSON schema for Blueprints (https://render.com/schema/render.yaml.json), but
it cannot be fetched from this project's machines and no package on the registries they reach
ships it; so render.yaml is checked here against the fields and types that Render's Blueprint
reference documents (https://render.com/docs/blueprint-spec), and against the Procfile. Dokku
reads only `scripts.dokku.*`, `formation`, `cron` and `healthchecks` from app.json
(https://dokku.com/docs/appendices/file-formats/app-json/) and runs the Procfile's `release:`.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
import yaml

from tests.support.processes import ROOT, read_procfile

# --- Render -------------------------------------------------------------------------------

RENDER_ROOT_KEYS = {"services", "databases", "envVarGroups", "projects", "ungrouped", "previews", "version"}
SERVICE_TYPES = {"web", "pserv", "worker", "cron", "keyvalue", "redis"}
RUNTIMES = {"python", "node", "ruby", "go", "rust", "elixir", "docker", "image", "static"}
INSTANCE_PLANS = {"free", "starter", "standard", "pro", "pro plus", "pro max", "pro ultra"}
MAXMEMORY_POLICIES = {
    "noeviction",
    "allkeys-lru",
    "volatile-lru",
    "allkeys-lfu",
    "volatile-lfu",
    "allkeys-random",
    "volatile-random",
    "volatile-ttl",
}
DATABASE_PROPERTIES = {"connectionString", "host", "port", "user", "password", "database", "hostport"}
SERVICE_PROPERTIES = {"connectionString", "host", "port", "hostport"}
SERVICE_KEYS = {
    "type",
    "name",
    "runtime",
    "plan",
    "region",
    "repo",
    "branch",
    "rootDir",
    "buildCommand",
    "startCommand",
    "preDeployCommand",
    "healthCheckPath",
    "numInstances",
    "scaling",
    "envVars",
    "autoDeploy",
    "autoDeployTrigger",
    "buildFilter",
    "domains",
    "disk",
    "maxShutdownDelaySeconds",
    "ipAllowList",
    "maxmemoryPolicy",
    "schedule",
    "dockerfilePath",
    "dockerContext",
    "dockerCommand",
    "image",
    "previews",
}
DATABASE_KEYS = {
    "name",
    "plan",
    "databaseName",
    "user",
    "region",
    "ipAllowList",
    "postgresMajorVersion",
    "diskSizeGB",
    "highAvailability",
    "readReplicas",
    "previewPlan",
}


def load_render() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "render.yaml").read_text())


def render_problems(blueprint: Any) -> list[str]:
    """What in a Blueprint breaks the documented fields and types, or points at nothing."""
    if not isinstance(blueprint, dict):
        return ["render.yaml is not a mapping"]
    problems = [f"unknown root key {key!r}" for key in blueprint if key not in RENDER_ROOT_KEYS]
    services = blueprint.get("services", [])
    databases = blueprint.get("databases", [])
    groups = blueprint.get("envVarGroups", [])
    for kind, items in (("services", services), ("databases", databases), ("envVarGroups", groups)):
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            problems.append(f"{kind} must be a list of mappings")
            return problems
    service_names = {(service.get("type"), service.get("name")) for service in services}
    database_names = {database.get("name") for database in databases}
    group_names = {group.get("name") for group in groups}

    def check_env_vars(where: str, env_vars: Any, *, in_group: bool = False) -> None:
        if not isinstance(env_vars, list):
            problems.append(f"{where}: envVars must be a list")
            return
        for entry in env_vars:
            sources = [key for key in ("value", "generateValue", "sync", "fromDatabase", "fromService") if key in entry]
            if "fromGroup" in entry:
                if in_group or set(entry) != {"fromGroup"} or entry["fromGroup"] not in group_names:
                    problems.append(f"{where}: fromGroup {entry.get('fromGroup')!r} names no envVarGroup")
                continue
            name = f"{where}: {entry.get('key')}"
            if not isinstance(entry.get("key"), str):
                problems.append(f"{where}: an env var without a key: {entry}")
            if len(sources) != 1:
                problems.append(f"{name}: needs exactly one of value, generateValue, sync, fromDatabase, fromService")
                continue
            source = sources[0]
            value = entry[source]
            if source == "value" and not isinstance(value, str):
                problems.append(f"{name}: value must be a string (quote numbers)")
            elif source == "generateValue" and value is not True:
                problems.append(f"{name}: generateValue must be true")
            elif source == "sync" and value is not False:
                problems.append(f"{name}: sync must be false")
            elif source == "fromDatabase" and (
                not isinstance(value, dict)
                or value.get("name") not in database_names
                or value.get("property") not in DATABASE_PROPERTIES
            ):
                problems.append(f"{name}: fromDatabase must name a database and a property: {value}")
            elif source == "fromService":
                if in_group:
                    problems.append(f"{name}: an envVarGroup cannot use fromService")
                elif (
                    not isinstance(value, dict)
                    or (value.get("type"), value.get("name")) not in service_names
                    or (value.get("property") not in SERVICE_PROPERTIES and not value.get("envVarKey"))
                ):
                    problems.append(f"{name}: fromService must name a service by type and name, and a property")

    for group in groups:
        if not isinstance(group.get("name"), str):
            problems.append(f"envVarGroup without a name: {group}")
        check_env_vars(f"envVarGroup {group.get('name')}", group.get("envVars", []), in_group=True)
    for service in services:
        where = f"service {service.get('name')}"
        problems += [f"{where}: unknown key {key!r}" for key in service if key not in SERVICE_KEYS]
        if not isinstance(service.get("name"), str):
            problems.append(f"{where}: name must be a string")
        if service.get("type") not in SERVICE_TYPES:
            problems.append(f"{where}: type must be one of {sorted(SERVICE_TYPES)}")
        if service.get("type") in {"keyvalue", "redis"}:
            if not isinstance(service.get("ipAllowList"), list):
                problems.append(f"{where}: a Key Value instance needs ipAllowList (a list; [] for internal only)")
            if service.get("maxmemoryPolicy", "noeviction") not in MAXMEMORY_POLICIES:
                problems.append(f"{where}: unknown maxmemoryPolicy")
            continue
        if service.get("runtime") not in RUNTIMES:
            problems.append(f"{where}: runtime must be one of {sorted(RUNTIMES)}")
        for key in ("buildCommand", "startCommand", "preDeployCommand", "healthCheckPath", "plan"):
            if key in service and not isinstance(service[key], str):
                problems.append(f"{where}: {key} must be a string")
        if service.get("plan", "starter") not in INSTANCE_PLANS:
            problems.append(f"{where}: unknown plan {service.get('plan')!r}")
        if "numInstances" in service and not (
            isinstance(service["numInstances"], int) and service["numInstances"] >= 1
        ):
            problems.append(f"{where}: numInstances must be a whole number of at least 1")
        if "healthCheckPath" in service and service.get("type") != "web":
            problems.append(f"{where}: only web services have healthCheckPath")
        if not str(service.get("healthCheckPath", "/")).startswith("/"):
            problems.append(f"{where}: healthCheckPath must start with /")
        check_env_vars(where, service.get("envVars", []))
    for database in databases:
        where = f"database {database.get('name')}"
        problems += [f"{where}: unknown key {key!r}" for key in database if key not in DATABASE_KEYS]
        if not isinstance(database.get("name"), str):
            problems.append(f"{where}: name must be a string")
        if "ipAllowList" in database and not isinstance(database["ipAllowList"], list):
            problems.append(f"{where}: ipAllowList must be a list")
    return problems


def services_by_name() -> dict[str, dict[str, Any]]:
    return {service["name"]: service for service in load_render()["services"]}


def env_of(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The service's variables by key, those of its groups included."""
    groups = {group["name"]: group["envVars"] for group in load_render().get("envVarGroups", [])}
    entries = []
    for entry in service.get("envVars", []):
        entries += groups[entry["fromGroup"]] if "fromGroup" in entry else [entry]
    return {entry["key"]: entry for entry in entries}


def test_render_yaml_has_only_documented_fields_of_the_documented_types():
    assert render_problems(load_render()) == []


@pytest.mark.parametrize(
    ("breakage", "complaint"),
    [
        (lambda b: b["services"][1].update(type="wroker"), "type must be one of"),
        (lambda b: b["services"][2].pop("ipAllowList"), "needs ipAllowList"),
        (lambda b: b["services"][0]["envVars"][2]["fromService"].update(name="cache"), "fromService must name"),
        (lambda b: b["databases"][0].update(name="postgres"), "fromDatabase must name a database"),
        (lambda b: b["envVarGroups"][0]["envVars"][0].update(generateValue="yes"), "generateValue must be true"),
        (lambda b: b["services"][0].update(startCmd="gunicorn"), "unknown key 'startCmd'"),
        (lambda b: b.update(service=[]), "unknown root key 'service'"),
    ],
)
def test_the_render_check_catches_a_broken_blueprint(breakage, complaint):
    broken = copy.deepcopy(load_render())
    breakage(broken)
    assert any(complaint in problem for problem in render_problems(broken)), render_problems(broken)


def test_render_runs_the_procfile_commands():
    procfile = read_procfile()
    services = services_by_name()
    assert services["web"]["type"] == "web"
    assert services["web"]["startCommand"] == procfile["web"]
    assert services["web"]["preDeployCommand"] == procfile["release"]  # migrate once per deploy
    assert services["web"]["healthCheckPath"] == "/healthz"
    assert services["worker"]["type"] == "worker"
    assert services["worker"]["startCommand"] == procfile["worker"]  # which runs the schedule too
    assert set(procfile) - {"release"} <= set(services)
    assert "clock" not in services


def test_render_gives_every_process_one_generated_secret_and_its_database_and_key_value():
    services = services_by_name()
    keyvalue = next(service for service in services.values() if service["type"] == "keyvalue")
    assert keyvalue["maxmemoryPolicy"] == "noeviction"  # queued jobs are never evicted
    secret_groups = set()
    for name in ("web", "worker"):
        env = env_of(services[name])
        assert env["DJANGO_SECRET_KEY"].get("generateValue") is True
        # From one group: generated once, so the worker signs links that the web accepts.
        assert not any(entry.get("key") == "DJANGO_SECRET_KEY" for entry in services[name]["envVars"])
        secret_groups |= {entry["fromGroup"] for entry in services[name]["envVars"] if "fromGroup" in entry}
        assert env["DATABASE_URL"]["fromDatabase"]["property"] == "connectionString"
        assert env["REDIS_URL"]["fromService"] == {
            "type": "keyvalue",
            "name": keyvalue["name"],
            "property": "connectionString",
        }
        assert "PYTHON_VERSION" not in env  # Render reads .python-version, the one source of the version
    assert len(secret_groups) == 1
    assert ".onrender.com" in env_of(services["web"])["DJANGO_ALLOWED_HOSTS"]["value"]


# --- Dokku ----------------------------------------------------------------------------------


def dokku_problems(app: dict[str, Any], procfile: dict[str, str]) -> list[str]:
    problems = []
    for name, entry in app.get("formation", {}).items():
        if name not in procfile or name == "release":
            problems.append(f"formation.{name}: not a Procfile process type")
        if not (isinstance(entry.get("quantity"), int) and entry["quantity"] >= 0):
            problems.append(f"formation.{name}.quantity must be a whole number")
    dokku_scripts = app.get("scripts", {}).get("dokku", {})
    for phase, command in dokku_scripts.items():
        if phase not in {"predeploy", "postdeploy"} or not isinstance(command, str):
            problems.append(f"scripts.dokku.{phase}: only predeploy and postdeploy, as strings")
        elif "migrate" in command and "release" in procfile:
            problems.append(f"scripts.dokku.{phase} migrates, and so does the Procfile's release: twice a deploy")
    for entry in app.get("cron", []):
        if not (isinstance(entry.get("command"), str) and isinstance(entry.get("schedule"), str)):
            problems.append(f"cron: each entry needs a command and a schedule: {entry}")
    return problems


def test_dokku_reads_app_json_formation_and_migrates_once_through_the_procfile_release():
    app = json.loads((ROOT / "app.json").read_text())
    procfile = read_procfile()
    assert dokku_problems(app, procfile) == []
    # Dokku starts 1 web and 0 of anything else unless formation says so.
    assert {name: entry["quantity"] for name, entry in app["formation"].items()} == {"web": 1, "worker": 1}
    assert procfile["release"] == "python manage.py migrate --noinput"


def test_the_dokku_check_catches_a_second_migration_and_a_bad_quantity():
    app = json.loads((ROOT / "app.json").read_text())
    app["scripts"] = {"dokku": {"predeploy": "python manage.py migrate"}}
    app["formation"]["worker"]["quantity"] = "1"
    problems = dokku_problems(app, read_procfile())
    assert any("twice a deploy" in problem for problem in problems), problems
    assert any("formation.worker.quantity" in problem for problem in problems), problems


# --- GitHub ---------------------------------------------------------------------------------


def load_workflow() -> dict[str, Any]:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads a bare `on` as true
    return workflow


def test_ci_for_forks_runs_the_readme_test_command_against_postgres_and_redis_services():
    [job] = load_workflow()["jobs"].values()
    assert set(job["services"]) == {"postgres", "redis"}
    assert job["services"]["postgres"]["image"].startswith("postgres:")
    assert job["services"]["redis"]["image"].startswith("redis:")
    assert job["env"]["DATABASE_URL"].startswith("postgres://") and "@postgres:" in job["env"]["DATABASE_URL"]
    assert job["env"]["REDIS_URL"].startswith("redis://redis:")
    runs = [step.get("run", "") for step in job["steps"]]
    assert any(run.strip() == "python3 dev.py test --all" for run in runs)
    assert any("makemigrations --check" in run for run in runs)
    assert any("check --deploy" in run for run in runs)
    assert any("ruff check" in run for run in runs)
    # Chromium is Debian's package, never one Playwright downloads.
    assert any(re.search(r"apt-get install.*\bchromium\b", run, re.S) for run in runs)
    assert not any("playwright install" in run for run in runs)


def test_ci_python_is_the_python_version_file():
    # A job per Python: .python-version's runs every test, 3.12 (the oldest supported) the quick tier.
    [job] = load_workflow()["jobs"].values()
    version = (ROOT / ".python-version").read_text().strip()
    assert job["container"] == "python:${{ matrix.python }}-bookworm"
    tiers = {entry["python"]: entry["tier"] for entry in job["strategy"]["matrix"]["include"]}
    assert tiers == {version: "every test", "3.12": "quick"}
    assert job["strategy"]["fail-fast"] is False  # one Python's failure does not cancel the other's run
    steps = {step.get("run", "").strip(): step.get("if") for step in job["steps"] if "run" in step}
    assert steps["python3 dev.py test --all"] == "matrix.tier == 'every test'"
    assert steps["python3 dev.py test --quick"] == "matrix.tier == 'quick'"
    [check_deploy] = [condition for run, condition in steps.items() if "check --deploy" in run]
    assert check_deploy is None  # both Pythons
    [upgrade] = [run for run in steps if "django-upgrade" in run]
    assert "--target-version 6.1 --check" in upgrade


def test_ci_run_runs_every_test_on_the_runtime_python_and_the_quick_tier_on_3_12():
    script = (ROOT / ".ci" / "run").read_text()
    assert 'PYTHON="$PYTHON_312" DEV_VENV=.venv-3.12' in script
    assert re.search(r'DEV_VENV=\.venv-3\.12 \\\n\s+"\$PYTHON" dev\.py test --quick', script)
    assert '"$PYTHON" dev.py test --all' in script
    assert "check_deploy .venv-3.12/bin/python" in script
    assert 'check_deploy "$VENV_PY"' in script
    assert "django-upgrade --target-version 6.1 --check" in script


def test_dependabot_updates_pip_requirements_and_github_actions():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(ecosystems) == {"pip", "github-actions"}
    assert all(update["directory"] == "/" and update["schedule"]["interval"] for update in ecosystems.values())


def test_the_docs_workflow_builds_strictly_and_publishes_to_pages_from_main():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "docs.yml").read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    runs = [step.get("run", "") for step in build["steps"]]
    assert any("-r requirements-docs.txt" in run for run in runs)
    assert any(re.search(r"-m sphinx -E -W --keep-going -n .*docs docs/_build", run) for run in runs)
    uses = [step.get("uses", "") for step in build["steps"] + deploy["steps"]]
    assert any(use.startswith("actions/upload-pages-artifact@") for use in uses)
    assert any(use.startswith("actions/deploy-pages@") for use in uses)
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert workflow["permissions"] == {"contents": "read"}
    assert "refs/heads/main" in deploy["if"] and deploy["needs"] == "build"
