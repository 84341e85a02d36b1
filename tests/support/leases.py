"""A claim lease short enough for a test to wait out; production uses 60 s (longer than any job may run)."""

from __future__ import annotations

LEASE_SECONDS = 8
