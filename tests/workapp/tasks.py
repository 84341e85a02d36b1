"""Test-only Django tasks (`@task`, queues/tasks_backend.py): each takes ids and re-reads its rows."""

from __future__ import annotations

from django.tasks import task

from tests.workapp.models import Ping


@task(queue_name="high")
def ping_value(ping_id: int) -> int:
    """The row's value: it exists only once the transaction that wrote it has committed."""
    return Ping.objects.get(pk=ping_id).value


@task
async def add(a: int, b: int) -> int:
    return a + b
