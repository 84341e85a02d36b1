"""The schedule: what runs when, declared in code and run by scheduling/scheduler.py in every worker dyno.

The sweeper is registered by work/schedule.py; every installed app adds its own recurring jobs in a module
of its own named `schedule` (accounts/schedule.py) with `schedule.register(...)`, and
`entries()` imports those modules. Deleting an app deletes its entries with it.

An entry fires at slots: an interval entry at the multiples of its interval since the Unix
epoch (so every process, and a restarted one, agrees which slot is current), a cron entry at
its cron string's times, read in UTC whatever the machine's time zone. Each firing is one rq
job whose id names the entry and the slot (`schedule-sweep_stuck_work-1767225600`), which is
what lets the scheduler queue a slot at most once however many processes try.

rq's own cron (`rq.cron.register`) is not used: it keeps no shared record between processes,
reads cron strings in local time, and queues with the pickle serializer.
"""

from __future__ import annotations

import functools
import importlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from croniter import croniter  # type: ignore[import-untyped]  # ships no type hints
from django.apps import apps
from django.utils.module_loading import module_has_submodule

# rq refuses any other character in a job id, and the entry's name is part of its jobs' ids.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Entry:
    name: str
    func: Callable[..., Any]
    queue_name: str
    cron: str | None
    interval_seconds: int | None
    result_ttl: int
    failure_ttl: int
    job_timeout: int | None

    @property
    def timing(self) -> str:
        return f"cron {self.cron} (UTC)" if self.cron else f"every {self.interval_seconds} s"

    @property
    def func_path(self) -> str:
        return f"{self.func.__module__}.{self.func.__name__}"

    def job_id(self, slot: int) -> str:
        return f"schedule-{self.name}-{slot}"

    def latest_slot(self, now: float) -> int:
        """The newest slot at or before `now`."""
        if self.interval_seconds:
            return math.floor(now / self.interval_seconds) * self.interval_seconds
        return int(croniter(self.cron, _utc(math.floor(now) + 1)).get_prev(float))

    def next_slot(self, after: float) -> int:
        """The first slot strictly after `after`."""
        if self.interval_seconds:
            return (math.floor(after / self.interval_seconds) + 1) * self.interval_seconds
        return int(croniter(self.cron, _utc(after)).get_next(float))

    def first_slot_at_or_after(self, bound: float) -> int:
        if self.interval_seconds:
            return math.ceil(bound / self.interval_seconds) * self.interval_seconds
        return self.next_slot(math.ceil(bound) - 1)

    def count_slots(self, after: int, before: int) -> int:
        """How many slots lie in (after, before)."""
        if self.interval_seconds:
            return max(0, math.ceil(before / self.interval_seconds) - math.floor(after / self.interval_seconds) - 1)
        count, slot = 0, self.next_slot(after)
        while slot < before:
            count, slot = count + 1, self.next_slot(slot)
        return count


_ENTRIES: dict[str, Entry] = {}


def register(
    func: Callable[..., Any],
    *,
    name: str | None = None,
    queue_name: str,
    cron: str | None = None,
    interval_seconds: int | None = None,
    result_ttl: int = 600,
    failure_ttl: int = 7 * 86400,
    job_timeout: int | None = None,
) -> Entry:
    """Add a recurring job: `cron` (a cron string, UTC) or `interval_seconds`, not both.

    `name` defaults to the function's name and must be unique; it is part of the job ids, so
    renaming an entry makes it start afresh (a cron entry at its next time, an interval entry
    at once).
    """
    entry_name = name or func.__name__
    if not NAME_PATTERN.fullmatch(entry_name):
        raise ValueError(f"schedule entry name {entry_name!r}: letters, digits, _ and - only")
    if (cron is None) == (interval_seconds is None):
        raise ValueError(f"schedule entry {entry_name}: give cron or interval_seconds, not both or neither")
    if interval_seconds is not None and interval_seconds < 1:
        raise ValueError(f"schedule entry {entry_name}: interval_seconds must be at least 1")
    if cron is not None and not croniter.is_valid(cron):
        raise ValueError(f"schedule entry {entry_name}: {cron!r} is not a cron string")
    existing = _ENTRIES.get(entry_name)
    entry = Entry(entry_name, func, queue_name, cron, interval_seconds, result_ttl, failure_ttl, job_timeout)
    # A module imported again (a test reloading it) registers its own entries again: fine.
    if existing is not None and existing.func_path != entry.func_path:
        raise ValueError(f"schedule entry {entry_name} is already registered for {existing.func_path}")
    _ENTRIES[entry_name] = entry
    return entry


def unregister(name: str) -> None:
    _ENTRIES.pop(name, None)


def entries() -> list[Entry]:
    """Every entry: the sweeper's and each installed app's `schedule` module's, by name."""
    _import_app_schedules()
    return [_ENTRIES[name] for name in sorted(_ENTRIES)]


# Once per process: the apps' modules register at import, and a scheduler asks every second.
@functools.cache
def _import_app_schedules() -> None:
    for app_config in apps.get_app_configs():
        module = f"{app_config.name}.schedule"
        if module != __name__ and module_has_submodule(app_config.module, "schedule"):
            importlib.import_module(module)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)
