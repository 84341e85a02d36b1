"""The demo's benchmarks: uploads, thumbnails, and the workers that make them.

`python -m bench.run` runs them with bench/'s own (bench/common.py finds this package), in this
order; each is also `python -m media_tasks.bench.<name>`. Results go to bench/results/ with the
rest (docs/performance.md). media_tasks/bench/hidden_markup.py is run by hand only.
"""

from __future__ import annotations

# In the order of the issue that asked for them.
BENCHMARKS = (
    "upload_latency",
    "direct_upload",
    "thumbnail_pipeline",
    "thumbnail_formats",
    "thumbnail_memory",
    "throughput",
    "pickup_latency",
    "gallery",
)
# The file most of the figures depend on: its hash is recorded with each result (bench/common.py).
SUSPECTS = ("media_tasks/rendering.py",)
# Settings of every benchmark's environment (bench/common.py): the workers' figures include
# deleting the original, as a deploy with the default settings does.
ENVIRONMENT = {"KEEP_ORIGINAL_UPLOADS": "0"}
