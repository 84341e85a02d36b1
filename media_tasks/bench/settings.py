"""The project's settings with two changes the upload benchmark needs, and nothing else.

1. The rate limits are raised: one benchmark user uploads far more than the 60 an hour a
   person may. The limiter still counts every request in Redis, so its cost stays measured.
2. With BENCH_THUMBNAILS_INLINE=1, the queues run jobs synchronously (rq's is_async=False):
   the upload request's after-commit enqueue then makes the thumbnails itself, before the
   response, through exactly the code a worker would run. That is "the same request doing the
   thumbnails inline" that the queued request is compared with.
"""

from __future__ import annotations

import os

from project.settings import *  # noqa: F403
from project.settings import RATE_LIMITS, RQ_QUEUES

RATE_LIMITS = {scope: (1_000_000, window) for scope, (_, window) in RATE_LIMITS.items()}

if os.environ.get("BENCH_THUMBNAILS_INLINE") == "1":
    RQ_QUEUES = {name: {**config, "ASYNC": False} for name, config in RQ_QUEUES.items()}
