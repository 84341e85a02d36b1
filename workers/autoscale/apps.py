from __future__ import annotations

from django.apps import AppConfig


class AutoscaleConfig(AppConfig):
    name = "workers.autoscale"
    label = "workers_autoscale"
    verbose_name = "Autoscaling (Judoscale)"

    def ready(self) -> None:
        # Here, not at import: judoscale is imported only in processes that install this app.
        from workers.autoscale import reporting

        reporting.start()
