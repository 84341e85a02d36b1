from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # The django-rq dashboard lives inside the admin, at /admin/django_rq/dashboard/.
    path("admin/", admin.site.urls),
    path("", include("media_tasks.urls")),
]
