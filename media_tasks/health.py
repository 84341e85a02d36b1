"""GET /healthz: is this deploy able to do its work? For uptime monitors and load balancers.

Cheap (one SELECT 1, a few Redis reads), no secrets, 200 when the database and Redis answer and
a worker has sent a heartbeat recently, 503 otherwise.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from redis.exceptions import RedisError
from rq import Worker

from media_tasks import queues
from project.redis_config import QUEUE_NAMES

# rq workers heartbeat at least every job-monitoring interval (30 s) while alive.
WORKER_HEARTBEAT_MAX_AGE_SECONDS = 90


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report: dict[str, Any] = {"database": _database(), **_redis_and_workers()}
    healthy = report["database"]["ok"] and report["redis"]["ok"] and report["workers"]["ok"]
    report["status"] = "ok" if healthy else "degraded"
    return JsonResponse(report, status=200 if healthy else 503)


def _database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


def _redis_and_workers() -> dict[str, Any]:
    try:
        redis = queues.connection()
        redis.ping()
        depths = {name: queues.get_queue(name).count for name in QUEUE_NAMES}
        heartbeats = [worker.last_heartbeat for worker in Worker.all(connection=redis) if worker.last_heartbeat]
    except RedisError as error:
        return {
            "redis": {"ok": False, "error": type(error).__name__},
            "queues": None,
            "workers": {"ok": False, "count": None},
        }
    newest = max(heartbeats, default=None)
    age = (timezone.now() - newest).total_seconds() if newest else None
    return {
        "redis": {"ok": True},
        "queues": depths,
        "workers": {
            "ok": age is not None and age <= WORKER_HEARTBEAT_MAX_AGE_SECONDS,
            "count": len(heartbeats),
            "last_heartbeat_seconds_ago": round(age, 1) if age is not None else None,
        },
    }
