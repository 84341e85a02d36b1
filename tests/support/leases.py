"""A claim lease short enough for a test to watch it lapse (production: WORK_CLAIM_LEASE_SECONDS, minutes)."""

from __future__ import annotations

LEASE_SECONDS = 8
