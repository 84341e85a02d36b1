"""Request-side guards that belong to no one app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


class RefuseNulInAdminFilters:
    """An admin change list's filters go into queries as given; PostgreSQL refuses text with a NUL (a 500).

    Every model admin's change list, the core's, the demo's and third-party apps' alike, answers
    400 to a filter holding a NUL byte instead.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is None or "admin" not in match.namespaces or not (match.url_name or "").endswith("_changelist"):
            return None
        if any("\x00" in key + "".join(values) for key, values in request.GET.lists()):
            return HttpResponseBadRequest("A filter holds a NUL byte.")
        return None
