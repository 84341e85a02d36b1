"""`python3 dev.py remove-demo`: the demo's files go, the lines marked as its own go, nothing else does.

It lives in project/tests/ so that it still runs in a checkout whose demo was removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import dev

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout in miniature, not a git repository (as .ci/without-demo's copy is not)."""
    (tmp_path / dev.DEMO_APP / "bench").mkdir(parents=True)
    (tmp_path / dev.DEMO_APP / "models.py").write_text("class Image: ...\n")
    (tmp_path / dev.DEMO_APP / "bench" / "__init__.py").write_text('BENCHMARKS = ("gallery",)\n')
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "results" / "gallery.json").write_text("{}\n")
    (tmp_path / "bench" / "results" / "worker_shutdown.json").write_text(f'{{"{dev.DEMO_APP}/x.py": "1"}}\n')
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "demo.md").write_text("# The demo\n")
    (tmp_path / "settings.py").write_text(
        f'APPS = [\n    "web",\n    "{dev.DEMO_APP}",  # demo\n]\n'
        "# --- demo ---\nSIZES = (1, 2)\n# --- end demo ---\nKEPT = 1\n"
    )
    (tmp_path / "docs" / "index.md").write_text(
        f"Kept.\nThe demo is `{dev.DEMO_APP}`. <!-- demo -->\n"
        "<!-- demo -->\n```{toctree}\ndemo\n```\n<!-- /demo -->\nEnd.\n"
    )
    (tmp_path / "app.json").write_text('{\n  "env": {\n    "KEEP_ORIGINAL_UPLOADS": {},\n    "SITE_NAME": {}\n  }\n}\n')
    (tmp_path / "site.css").write_text(
        "main { }\n.gallery { } /* demo */\n/* --- demo --- */\n.card { }\n/* --- end demo --- */\n"
    )
    (tmp_path / "base.html").write_text(
        "<main>\n{# --- demo --- #}\n<a href=/gallery>\n{# --- end demo --- #}\n</main>\n"
    )
    (tmp_path / "CHANGELOG.md").write_text(f"- `{dev.DEMO_APP}/thumbnails.py` was split.\n")
    return tmp_path


def test_it_deletes_the_demos_files_and_marked_lines_and_keeps_everything_else(checkout, capsys):
    assert dev.remove_demo([], root=checkout) == 0

    assert not (checkout / dev.DEMO_APP).exists()
    assert not (checkout / "docs" / "demo.md").exists()
    assert not (checkout / "bench" / "results" / "gallery.json").exists()
    assert (checkout / "bench" / "results" / "worker_shutdown.json").exists()  # measured history stays
    assert (checkout / "settings.py").read_text() == 'APPS = [\n    "web",\n]\nKEPT = 1\n'
    assert (checkout / "docs" / "index.md").read_text() == "Kept.\nEnd.\n"
    assert (checkout / "app.json").read_text() == '{\n  "env": {\n    "SITE_NAME": {}\n  }\n}\n'
    assert (checkout / "site.css").read_text() == "main { }\n"
    assert (checkout / "base.html").read_text() == "<main>\n</main>\n"
    assert "deleted docs/demo.md" in capsys.readouterr().out


def test_a_second_run_says_there_is_nothing_to_remove(checkout, capsys):
    dev.remove_demo([], root=checkout)
    capsys.readouterr()

    assert dev.remove_demo([], root=checkout) == 0
    assert capsys.readouterr().out == "remove-demo: nothing to remove (the demo is already gone)\n"


def test_it_refuses_naming_each_line_that_still_names_the_demo(checkout, capsys):
    (checkout / "urls.py").write_text(f'path("", include("{dev.DEMO_APP}.urls")),\n')

    assert dev.remove_demo([], root=checkout) == 1
    assert f'urls.py:1: path("", include("{dev.DEMO_APP}.urls")),' in capsys.readouterr().err


def test_a_block_never_closed_is_refused_before_anything_is_cut(checkout, capsys):
    (checkout / "settings.py").write_text("# --- demo ---\nSIZES = (1, 2)\n")

    assert dev.remove_demo([], root=checkout) == 1
    assert "settings.py:1: a block of the demo's lines is never closed" in capsys.readouterr().err
    assert (checkout / "settings.py").read_text() == "# --- demo ---\nSIZES = (1, 2)\n"


def test_every_block_marked_in_this_checkout_is_closed():
    for path in dev.checkout_files(ROOT):
        text = dev._read_text(path)
        if text is not None:
            dev.without_demo_lines(text)  # ValueError names the line
