from __future__ import annotations

from django.apps import AppConfig


class MediaTasksConfig(AppConfig):
    name = "media_tasks"
    verbose_name = "Media tasks"

    def ready(self) -> None:
        from accounts.signals import users_deleting
        from media_tasks import receivers

        users_deleting.connect(receivers.delete_image_files, dispatch_uid="media_tasks.delete_image_files")
