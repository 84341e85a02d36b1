"""The durable-work app's service: one sweep over every kind."""

from __future__ import annotations

from work import claims


def work_sweep() -> dict[str, int]:
    return claims.sweep().as_dict()
