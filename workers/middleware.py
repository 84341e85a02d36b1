"""Close the django-rq dashboard to everyone but superusers, and keep its pages from failing.

django-rq's views only check `is_staff`, so any staff member could requeue, delete or empty
queues by URL. Here every URL under the dashboard's admin prefix, including stats.json and
the actions, needs a superuser; monitoring may still read stats.json and metrics with
`Authorization: Bearer <RQ_API_TOKEN>` when that setting is present.

Some URLs django-rq registers cannot work in this project and answered 500: the rq-scheduler
page (that package is not used), and the change/history/delete pages Django's ModelAdmin adds
for django-rq's table-less "Dashboard" model. They answer 404. So do lookups of queues, jobs
and workers that do not exist, which django-rq itself would turn into a 500. While Redis is
unreachable the dashboard answers 503 with a page that says so.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from functools import cache
from hmac import compare_digest
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.template.response import TemplateResponse
from django.urls import reverse
from django_rq.queues import get_queue_by_index
from django_rq.settings import get_queues_list
from redis.exceptions import RedisError
from rq.job import Job, validate_job_id
from rq.worker import Worker

logger = logging.getLogger(__name__)

TOKEN_READABLE = ("stats.json", "metrics")
DASHBOARD_NAME_PREFIX = "django_rq_"


@cache
def dashboard_views() -> frozenset[str]:
    """URL names of the dashboard pages that work here: django-rq's own, minus rq-scheduler's."""
    from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

    patterns = get_api_urlpatterns(DASHBOARD_NAME_PREFIX) + get_admin_urlpatterns(DASHBOARD_NAME_PREFIX)
    names = {pattern.name for pattern in patterns if pattern.name}
    if importlib.util.find_spec("rq_scheduler") is None:
        names.discard(f"{DASHBOARD_NAME_PREFIX}scheduler_jobs")
    # The admin's app page and the model's "change list", which django-rq makes its index.
    return frozenset(names | {"app_list", f"{DASHBOARD_NAME_PREFIX}dashboard_changelist"})


class RQDashboardSuperuserOnly:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _in_dashboard(request) and not self._allowed(request, request.path[len(_prefix()) :]):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            return HttpResponseForbidden("The job dashboard is for superusers only.")
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., HttpResponse], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        if not _in_dashboard(request):
            return None
        if request.resolver_match is None or request.resolver_match.url_name not in dashboard_views():
            raise Http404("There is no such page in the job dashboard.")
        if "key" in kwargs and not kwargs["key"].startswith(Worker.redis_worker_namespace_prefix):
            # django-rq's worker page links back to itself by the worker's name, but its view
            # wants the Redis key ("rq:worker:<name>"); the view gets these same kwargs.
            kwargs["key"] = Worker.redis_worker_namespace_prefix + kwargs["key"]
        try:
            if not _lookups_exist(kwargs):
                raise Http404("No such queue, job or worker.")
        except RedisError as error:
            return _redis_unreachable(request, error)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if _in_dashboard(request) and isinstance(exception, RedisError):
            return _redis_unreachable(request, exception)
        return None

    @staticmethod
    def _allowed(request: HttpRequest, rest: str) -> bool:
        if request.user.is_authenticated and request.user.is_superuser:
            return True
        token = getattr(settings, "RQ_API_TOKEN", "")
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        endpoint = rest.removeprefix("dashboard/").split("/", 1)[0]
        return bool(token) and endpoint in TOKEN_READABLE and request.method == "GET" and compare_digest(offered, token)


def _prefix() -> str:
    return reverse("admin:index") + "django_rq/"


def _in_dashboard(request: HttpRequest) -> bool:
    return request.path.startswith(_prefix())


def _lookups_exist(kwargs: dict[str, Any]) -> bool:
    """Whether the queue, job and worker a dashboard URL names exist; django-rq's views assume so."""
    if "queue_index" not in kwargs:
        return True
    if not 0 <= kwargs["queue_index"] < len(get_queues_list()):
        return False
    connection = get_queue_by_index(kwargs["queue_index"]).connection
    job_id = kwargs.get("job_id")
    if job_id is not None and not (_valid_job_id(job_id) and Job.exists(job_id, connection=connection)):
        return False
    key = kwargs.get("key")
    return key is None or Worker.find_by_key(key, connection=connection) is not None


def _valid_job_id(job_id: str) -> bool:
    try:
        validate_job_id(job_id)
    except ValueError:
        return False
    return True


def _redis_unreachable(request: HttpRequest, error: Exception) -> HttpResponse:
    logger.warning("job dashboard: Redis unreachable: %s", error)
    response = TemplateResponse(
        request,
        "workers/dashboard_unavailable.html",
        {"title": "Job queue unreachable", "error": type(error).__name__},
        status=503,
    )
    response["Retry-After"] = "30"
    return response.render()
