"""The schedule's staff page in the admin: each recurring job, its next and last run, and the lease holder.

The schedule lives in code and Redis, not in a table, so there is no ModelAdmin to hang it
on (and a model would need a migration for nothing). The admin site is given one more URL,
and its index one more box, pointing to it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from redis.exceptions import RedisError

from queues import redis_client
from scheduling import status


def schedule_view(request: HttpRequest) -> HttpResponse:
    """Each recurring job, its next run, its last run and that run's outcome, and the lease holder."""
    context: dict[str, Any] = {**admin.site.each_context(request), "title": "Schedule"}
    try:
        connection = redis_client.connection()
        holder = status.lease_holder(connection)
        entries = status.statuses(connection)
    except RedisError as error:
        context["error"] = type(error).__name__
        return TemplateResponse(request, "scheduling/schedule.html", context, status=503)
    now = time.time()
    context["holder"] = holder
    context["ticked_ago"] = round(now - holder["ticked_at"], 1) if holder and holder.get("ticked_at") else None
    context["entries"] = [
        {
            **vars(entry),
            "next_run": _utc(entry.next_run),
            "last_run": _utc(entry.last_slot),
            "last_enqueued": _utc(entry.last_enqueued_at),
        }
        for entry in entries
    ]
    return TemplateResponse(request, "scheduling/schedule.html", context)


def _utc(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp is not None else None


_site_get_urls = admin.site.get_urls
_site_get_app_list = admin.site.get_app_list


def _get_urls() -> list[URLPattern | URLResolver]:
    schedule = path("scheduling/schedule/", admin.site.admin_view(schedule_view), name="scheduling_schedule")
    return [schedule, *_site_get_urls()]


def _get_app_list(request: HttpRequest, app_label: str | None = None) -> list[Any]:
    app_list = _site_get_app_list(request, app_label)
    if app_label not in (None, "scheduling"):
        return app_list
    url = reverse("admin:scheduling_schedule")
    schedule = {
        "name": "Schedule",
        "object_name": "Schedule",
        "perms": {"view": True},
        "admin_url": url,
        "add_url": None,
        "view_only": True,
    }
    # Every staff member sees the schedule (read-only), whatever their model permissions.
    box = {"name": "Schedule", "app_label": "scheduling", "app_url": url, "has_module_perms": True}
    return [*app_list, {**box, "models": [schedule]}]


admin.site.get_urls = _get_urls  # type: ignore[method-assign]
admin.site.get_app_list = _get_app_list  # type: ignore[method-assign]
