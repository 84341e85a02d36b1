"""Durable work of the test-only app (tests/workapp): a Chore queued as a product's row would be."""

from __future__ import annotations

from tests.workapp.models import Chore
from work import claims


def queue_chore(name: str, **fields: object) -> Chore:
    """A chore written and queued after its commit (at once outside a transaction); if Redis is away, it waits."""
    chore = Chore.objects.create(name=name, **fields)
    claims.enqueue_on_commit(chore)
    return chore


def status_of(chore: Chore) -> str:
    chore.refresh_from_db()
    return chore.status


def slow(seconds: float) -> dict[str, str]:
    """Worker environment in which every chore takes `seconds`, so a test can stop the worker mid-job."""
    return {"CHORE_SECONDS": str(seconds)}
