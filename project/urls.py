from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from media_tasks.health import healthz
from media_tasks.ratelimit import rate_limited

urlpatterns = [
    # The admin's login answers to the same per-address budget as the site's, or password
    # guessing would simply move here.
    path("admin/login/", rate_limited("login")(admin.site.login)),
    # The django-rq dashboard lives inside the admin, at /admin/django_rq/dashboard/.
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("media_tasks.urls")),
]
