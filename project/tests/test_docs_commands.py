"""The shell commands the docs mark as runnable run, as typed, in a fresh checkout.

A fenced `sh` block right under a line `<!-- runnable -->` (README.md, docs/*.md) is run as one
bash script (`set -euo pipefail`) in a copy of the checkout's files (git's: tracked and new, not
ignored, as .ci/without-demo copies them) made a git repository, with the virtualenv running the
tests as its `.venv` (the one `python3 dev.py run` makes), and must exit 0 within TIMEOUT_SECONDS.
Each block gets a copy of its own, so a block that changes the checkout (`dev.py remove-demo`)
changes no other. Mark only what is safe and quick here: no server, no network, no prompt.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dev

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARK = "<!-- runnable -->"
SHELLS = {"sh", "bash", "console", "shell"}
FENCE = re.compile(r"^(`{3,})\s*(\S*)")
TIMEOUT_SECONDS = 60


def runnable_blocks() -> list[tuple[str, int, str]]:
    """(page, line of the mark, the block's text) for every marked block of the pages."""
    blocks = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if line.strip() != MARK:
                continue
            name = page.relative_to(ROOT).as_posix()
            opening = FENCE.match(lines[number]) if number < len(lines) else None
            assert opening and opening.group(2) in SHELLS, (
                f"{name}:{number}: {MARK} must stand right above a ```sh block (or {sorted(SHELLS - {'sh'})})"
            )
            body = []
            for following in lines[number + 1 :]:
                if following.strip() == opening.group(1):
                    break
                body.append(following)
            else:
                raise AssertionError(f"{name}:{number}: the marked block is never closed")
            blocks.append((name, number, "\n".join(body) + "\n"))
    return blocks


BLOCKS = runnable_blocks()


def fresh_checkout(destination: Path) -> Path:
    for source in dev.checkout_files(ROOT):  # files only: one deleted but not yet committed is left out
        name = source.relative_to(ROOT)
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination / name)
    # The virtualenv running these tests stands for the one `python3 dev.py run` makes.
    (destination / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    git = ["git", "-c", "user.name=docs", "-c", "user.email=docs@example.invalid", "-c", "commit.gpgsign=false"]
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "checkout"]):
        subprocess.run([*git, *step], cwd=destination, check=True, capture_output=True)
    return destination


def test_the_docs_mark_commands_as_runnable():
    # A reader's first steps are among them: removing the demo, and the commands' own help.
    assert {name for name, _, _ in BLOCKS} >= {"docs/make-it-yours.md", "docs/local-development.md"}


@pytest.mark.parametrize(("page", "line", "script"), BLOCKS, ids=[f"{page}:{line}" for page, line, _ in BLOCKS])
def test_a_runnable_block_runs_in_a_fresh_checkout(page, line, script, tmp_path):
    checkout = fresh_checkout(tmp_path / "checkout")
    # The environment of a fresh terminal: nothing of this test run's services or settings.
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "REDIS_", "DATABASE_", "PYTEST_", "VIRTUAL_ENV", "TEST_"))
    }
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, (
        f"{page}:{line}: the block exited {result.returncode}\n{script}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )
