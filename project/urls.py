from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from media_tasks.health import healthz

urlpatterns = [
    # The django-rq dashboard lives inside the admin, at /admin/django_rq/dashboard/.
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("media_tasks.urls")),
]
