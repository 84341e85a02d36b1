"""`@job`: django-rq's decorator, queued after the commit through the project's shared Redis client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction

from queues import redis_client

Job = TypeVar("Job", bound=Callable[..., Any])


def job(queue: str = "default", **options: Any) -> Callable[[Job], Job]:
    """django-rq's `@job(queue)` for this project: `f.delay(some_id)` queues f once the transaction commits.

    django-rq's own decorator picks its queue (and makes a Redis client) when the module is
    imported; this one does at each `.delay()`, through the shared client (queues/redis_client.py)
    and the queues' JSON serializer, and defers it with transaction.on_commit. Outside a
    transaction it queues at once. Arguments must be JSON: ids, not objects. For work that
    must never be lost, use a WorkItem model instead (work/durable.py).
    """

    def decorate(func: Job) -> Job:
        def delay(*args: Any, **kwargs: Any) -> None:
            def enqueue() -> None:
                redis_client.queue(queue).enqueue(func, args=args, kwargs=kwargs, **options)

            transaction.on_commit(enqueue)

        func.delay = delay  # type: ignore[attr-defined]
        return func

    return decorate
