from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path

from web import views as web_views
from web.health import healthz
from web.ratelimit import rate_limited

urlpatterns = [
    # PostgreSQL refuses text holding a NUL byte, so a NUL in any path part that reaches a
    # query was a 500. No page's path has one: answered 404 before any view sees it.
    re_path(r"^.*\x00", web_views.not_found),
    # The admin's login answers to the same per-address budget as the site's, or password
    # guessing would simply move here.
    path("admin/login/", rate_limited("login")(admin.site.login)),
    # django-rq's stats.json with each queue's latency added (workers/stats.py); on
    # django-rq's own path inside the admin, so it comes before the admin's.
    path("admin/django_rq/dashboard/", include("workers.stats")),
    # The django-rq dashboard lives inside the admin, at /admin/django_rq/dashboard/.
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("accounts.urls")),
    # The demo (`python3 dev.py remove-demo` deletes these two lines).  # demo
    path("", include("media_tasks.urls")),  # demo
    # After the apps' own pages, so an app's own "" page comes first.
    path("", web_views.home, name="home"),
]
