"""The README's "Where things live" table and the folders agree, row for row.

Every top-level folder of the repository has a row, every Python package inside it (an app's
`tests/`, `migrations/`, `management/`, `autoscale/`...) is named in its row, and every path the
table names exists: a folder added, moved or deleted without its line fails here.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess

from tests.support.processes import ROOT

FOLDER_CELL = re.compile(r"^\| `([^`/]+)/` \|")
PATH = re.compile(r"`([\w.-]+(?:/[\w.-]+)*/)`")


def table_rows() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Where things live\n", 1)[1].split("\n## ", 1)[0]
    return {match.group(1): line for line in section.splitlines() if (match := FOLDER_CELL.match(line))}


def tracked_folders() -> set[str]:
    if not (ROOT / ".git").exists():  # a copy of the checkout's files, as .ci/without-demo makes
        patterns = [line.strip().strip("/") for line in (ROOT / ".gitignore").read_text().splitlines()]
        return {path.name for path in ROOT.iterdir() if path.is_dir() and not ignored(path.name, patterns)}
    listing = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return {path.split("/", 1)[0] for path in listing.stdout.splitlines() if "/" in path}


def ignored(name: str, patterns: list[str]) -> bool:
    """Whether .gitignore's patterns leave out a top-level folder of this name (or it is a tool's cache)."""
    return name.endswith("_cache") or any(fnmatch.fnmatch(name, pattern) for pattern in patterns if pattern)


def packages_in(folder: str) -> set[str]:
    return {f"{init.parent.relative_to(ROOT)}/" for init in (ROOT / folder).glob("*/__init__.py")}


def test_every_top_level_folder_has_a_row_and_every_row_a_folder():
    assert set(table_rows()) == tracked_folders()


def test_every_package_inside_a_folder_is_named_in_its_row():
    rows = table_rows()
    missing = {
        package: folder for folder in rows for package in packages_in(folder) if f"`{package}`" not in rows[folder]
    }
    assert missing == {}


def test_every_folder_the_table_names_exists():
    named = {path for row in table_rows().values() for path in PATH.findall(row)}
    assert named, "the table names no folder"
    assert sorted(path for path in named if not (ROOT / path).is_dir()) == []
