"""Close the django-rq dashboard to everyone but superusers.

django-rq's views only check `is_staff`, so any staff member could requeue, delete or empty
queues by URL. Here every URL under the dashboard's admin prefix, including stats.json and
the actions, needs a superuser; monitoring may still read stats.json and metrics with
`Authorization: Bearer <RQ_API_TOKEN>` when that setting is present.
"""

from __future__ import annotations

from collections.abc import Callable
from hmac import compare_digest

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import reverse

TOKEN_READABLE = ("stats.json", "metrics")


class RQDashboardSuperuserOnly:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        prefix = reverse("admin:index") + "django_rq/"
        if request.path.startswith(prefix) and not self._allowed(request, request.path[len(prefix) :]):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            return HttpResponseForbidden("The job dashboard is for superusers only.")
        return self.get_response(request)

    @staticmethod
    def _allowed(request: HttpRequest, rest: str) -> bool:
        if request.user.is_authenticated and request.user.is_superuser:
            return True
        token = getattr(settings, "RQ_API_TOKEN", "")
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        endpoint = rest.removeprefix("dashboard/").split("/", 1)[0]
        return bool(token) and endpoint in TOKEN_READABLE and request.method == "GET" and compare_digest(offered, token)
