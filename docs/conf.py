"""Sphinx configuration of the docs (docs/about.md says why Sphinx with MyST and Furo).

Build them strictly, from scratch: `sphinx-build -E -W --keep-going -n -b html docs docs/_build`
(`python3 dev.py docs` does, and serves them). -W turns every warning into a failure, among them
MyST's for a link to a missing page, heading or image.
"""

from __future__ import annotations

project = "Django + django-rq, ready for Heroku"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
# Every heading down to level 4 gets GitHub's anchor, so `[x](page.md#a-heading)` links the
# same on GitHub and in the built site, and one to a heading that does not exist fails the build.
myst_heading_anchors = 4
# The docs are read on GitHub as well: plain Markdown only, no MyST extensions beyond the toctree.
myst_enable_extensions: list[str] = []
html_theme = "furo"
html_title = project
html_static_path: list[str] = []
# No "view source" links to copies of the Markdown: GitHub has the source.
html_copy_source = False
html_show_sourcelink = False
