"""The project's URLs plus a test-only view that enqueues a Django task inside its transaction."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_POST

from project.urls import urlpatterns as project_urlpatterns
from tests.workapp.models import Ping
from tests.workapp.tasks import ping_value


@require_POST
def ping(request: HttpRequest) -> JsonResponse:
    with transaction.atomic():
        row = Ping.objects.create(value=int(request.POST["value"]))
        result = ping_value.enqueue(row.pk)
        if request.POST.get("fail"):
            raise RuntimeError("the view failed after enqueueing: its transaction rolls back")
    return JsonResponse({"ping_id": row.pk, "result_id": result.id, "status": result.status})


urlpatterns = [path("test/ping/", ping, name="test_ping"), *project_urlpatterns]
