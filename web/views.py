from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The page after login until a product app claims "/" before it (the demo's gallery does)."""
    return render(request, "web/home.html")


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404
