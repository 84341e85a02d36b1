"""The README fits on a screen and starts with what to type (issue 24): at most 150 lines, and
`python3 dev.py run` and `python3 dev.py test` within its first 40. The rest is in docs/."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_is_at_most_150_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move the detail into a page of docs/"


def test_the_two_commands_are_in_the_first_40_lines():
    first = README.read_text().splitlines()[:40]
    for command in ("python3 dev.py run", "python3 dev.py test"):
        assert any(line.startswith(command) for line in first), f"`{command}` is not in README.md's first 40 lines"
