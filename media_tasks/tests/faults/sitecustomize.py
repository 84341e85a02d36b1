"""Loaded by worker processes that a fault test starts with this folder on PYTHONPATH.

It only slows the work down (FAULT_SLOW_SECONDS), so a test can signal or kill a worker
while a job is certainly in the middle of its work. Everything else is the real code path.
"""

from __future__ import annotations

import os
import time

_delay = float(os.environ.get("FAULT_SLOW_SECONDS", "0"))

if _delay:
    from media_tasks import rendering

    _render = rendering.render_thumbnails

    def _slow_render(*args, **kwargs):
        time.sleep(_delay)
        return _render(*args, **kwargs)

    rendering.render_thumbnails = _slow_render
