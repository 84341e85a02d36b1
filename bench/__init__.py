"""Benchmarks run by hand (`python -m bench.<name>`), kept out of the test suite on purpose.

They start real processes and take tens of seconds; see docs/performance.md for their results.
"""

from __future__ import annotations
