"""The dashboard's stats.json, with each queue's latency: what an autoscaler or a monitor polls.

django-rq's stats.json gives each queue's waiting jobs (`jobs`) and its oldest job's enqueue
time as local wall-clock text; a scaler wants how long that job has waited, in seconds. This
view is django-rq's, with `oldest_job_age_seconds` added to each queue (null when none waits),
read as /healthz reads it (queues/latency.py). project/urls.py mounts it on django-rq's own
paths, before the admin's, under the names django-rq gives them, so the dashboard guard
(workers/middleware.py) treats it as django-rq's: a superuser, or the RQ_API_TOKEN bearer.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import re_path
from django.views.decorators.cache import never_cache
from django_rq import stats_views

from queues import redis_client
from queues.latency import queue_waits
from workers.middleware import DASHBOARD_NAME_PREFIX


@never_cache
def stats_json(request: HttpRequest, token: str | None = None) -> HttpResponse:
    response = stats_views.stats_json(request, token)
    if response.status_code != 200:
        return response
    stats = json.loads(response.content)
    # A Redis error propagates: the guard answers it with the dashboard's 503 page.
    waits = queue_waits(redis_client.connection(), [queue["name"] for queue in stats["queues"]])
    for queue in stats["queues"]:
        age = waits[queue["name"]].oldest_age_seconds
        queue["oldest_job_age_seconds"] = None if age is None else round(age, 1)
    return JsonResponse(stats)


# django-rq's own patterns for it (django_rq/urls.py, get_api_urlpatterns), relative to the
# dashboard's root.
urlpatterns = [
    re_path(r"^stats.json/?$", stats_json, name=f"{DASHBOARD_NAME_PREFIX}home_json"),
    re_path(r"^stats.json/(?P<token>[\w]+)?/?$", stats_json, name=f"{DASHBOARD_NAME_PREFIX}home_json"),
]
