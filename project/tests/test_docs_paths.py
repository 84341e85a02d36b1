"""What the README and the docs name exists: each repository path in backticks, each `manage.py`
command, and each file a README link points at.

A path is a backticked token with a `/` in it whose first part is a file or folder at the top of the
checkout (`work/claims.py`, `tests/workapp`, `docs/screenshots/`); other tokens with a slash
(`uploads/<user id>/...`, `/admin/`, `reports/jobs.py` in an example, `media/`) are not the
repository's. A git-ignored path (`docs/_build/`, made by `python3 dev.py docs`) need not exist.
The docs build itself (sphinx-build -W, .ci/run) checks links between pages.

In a template whose demo was deleted (docs/make-it-yours.md, .ci/without-demo), the pages still
describe the demo until the fork rewrites them: its paths and commands are not looked for then.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import get_commands

import dev

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP_LEVEL = {path.name for path in ROOT.iterdir()} - {".git", ".venv", "media", ".dev", "staticfiles"}
PATH_TOKEN = re.compile(r"`([A-Za-z0-9_.-]+/[A-Za-z0-9_./*-]*)`")
MANAGE_COMMAND = re.compile(r"manage\.py ([a-z][a-z0-9_-]*)")
# The demo's folders (dev.py remove-demo deletes them; CHANGELOG.md's history still names them).
DEMO_FOLDERS = tuple(f"{path}/" for path in dev.DEMO_PATHS if "." not in path)
DEMO_COMMANDS = {"s3_cors", "reprocess_images"}
DEMO_GONE = not (ROOT / dev.DEMO_APP).exists()


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def repository_paths(text: str) -> set[str]:
    return {token for token in PATH_TOKEN.findall(text) if token.split("/", 1)[0] in TOP_LEVEL}


def _exists(token: str) -> bool:
    if DEMO_GONE and token.startswith(DEMO_FOLDERS):
        return True
    if "*" in token:
        return any(ROOT.glob(token))
    return (ROOT / token.rstrip("/")).exists() or _ignored(token)


def _ignored(token: str) -> bool:
    # .gitignore's anchored folders (`/docs/_build/`): the checkout may be a copy without .git.
    lines = (ROOT / ".gitignore").read_text().splitlines()
    return any(line.startswith("/") and line.endswith("/") and token.startswith(line[1:]) for line in lines)


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_repository_path_a_page_names_exists(page):
    missing = sorted(token for token in repository_paths(page.read_text()) if not _exists(token))
    assert not missing, f"{_name(page)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_manage_py_command_a_page_names_exists(page):
    named = set(MANAGE_COMMAND.findall(page.read_text()))
    unknown = sorted(named - set(get_commands()) - (DEMO_COMMANDS if DEMO_GONE else set()))
    assert not unknown, f"{_name(page)} names manage.py commands that do not exist: {unknown}"


def test_the_readmes_links_into_the_repository_exist():
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text())
    assert "docs/durable-work.md" in links
    missing = sorted(link for link in links if not (ROOT / link).exists())
    assert not missing, f"README.md links to files that do not exist: {missing}"


@pytest.mark.skipif(DEMO_GONE, reason="the demo was deleted")
def test_the_demos_commands_are_the_ones_its_folder_has():
    folder = ROOT / dev.DEMO_APP / "management" / "commands"
    assert {path.stem for path in folder.glob("[!_]*.py")} == DEMO_COMMANDS


def test_the_checks_find_what_they_look_for():
    # So that a change of wording cannot make them vacuous.
    docs = "".join(page.read_text() for page in PAGES)
    # The demo's pages and lines name its folders and commands until remove-demo deletes them.
    demo_paths, demo_commands = (set(), set()) if DEMO_GONE else ({"docs/screenshots/"}, {"s3_cors"})
    assert {"work/claims.py", "tests/system/test_soak.py", *demo_paths} <= repository_paths(docs)
    assert "reports/jobs.py" not in repository_paths(docs)
    assert {"rqworker-pool", "schedule", "createsuperuser", *demo_commands} <= set(MANAGE_COMMAND.findall(docs))
    assert not _exists("background/nope.py")
    assert _exists("docs/_build/") and not _exists("docs/nope/")
