"""The schedule registry, read by `python manage.py rqcron background.schedule` (the clock process).

The sweeper is registered here; every installed app adds its own recurring jobs in a module
of its own named `schedule` (accounts/schedule.py), with rq's `cron.register`, which this
module imports. Deleting an app deletes its entries with it.

rq's cron has no lock between processes, so exactly one clock process may run it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from django.apps import apps
from django.utils.module_loading import module_has_submodule
from rq import cron

from background import jobs

# Every minute: re-queue work whose job was lost (killed worker, Redis outage). A number of
# seconds in SWEEP_INTERVAL_SECONDS runs it that often instead (the fault tests use a few).
SWEEP_INTERVAL_SECONDS = int(os.environ.get("SWEEP_INTERVAL_SECONDS") or 0)
SWEEP_TIMING: dict[str, Any] = {"interval": SWEEP_INTERVAL_SECONDS} if SWEEP_INTERVAL_SECONDS else {"cron": "* * * * *"}
cron.register(jobs.sweep_stuck_work, queue_name="low", result_ttl=600, failure_ttl=86400, **SWEEP_TIMING)


def _register_app_schedules() -> None:
    for app_config in apps.get_app_configs():
        name = f"{app_config.name}.schedule"
        if name == __name__ or not module_has_submodule(app_config.module, "schedule"):
            continue
        # rq reloads this module for each scheduler it configures: the apps' modules register
        # their jobs again with it.
        if name in sys.modules:
            importlib.reload(sys.modules[name])
        else:
            importlib.import_module(name)


_register_app_schedules()
