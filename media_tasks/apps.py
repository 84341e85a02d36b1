from __future__ import annotations

from django.apps import AppConfig


class MediaTasksConfig(AppConfig):
    name = "media_tasks"
    verbose_name = "Media tasks"
