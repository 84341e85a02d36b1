"""The queues app's settings, and `Setting`, with which every app's conf.py declares its own.

Each app keeps its settings in its own conf.py: the default once, the reason for it beside it,
and one way to read it, `conf.NAME()`. project/settings.py sets only what an operator changed
(a config var) or what the project wants otherwise; project/tests/test_defaults.py checks that
no default is written twice.

Why a hand-written `Setting` rather than django-appconf (maintained by Jazzband): an AppConf
prefixes every name with one word per app, and ours share none (accounts reads
EMAIL_CONFIRMATION_MAX_AGE, UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS and SITE_URL), so its Meta.prefix
would be "" everywhere; its values are untyped attributes; it writes the defaults into
django.conf.settings when each class is imported, so a reader sees them only if that module
was imported first; and it has no fallback to the environment, which the worker processes use.
The class below is about twenty lines and no new dependency: it reads settings at call time
(so override_settings and pytest-django's `settings` fixture apply), returns the default's type,
and falls back to the environment variable of the same name. complete_settings() still gives
django.conf.settings the defaults, once, at start-up (queues/apps.py), for whatever reads
`settings.NAME` directly. queues is the lowest layer, so every app's conf.py can import it.
"""

from __future__ import annotations

import os
import sys
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules

# Every declared setting by name, so a name given as data (work.claims' retry settings) finds
# its reader, and a second default for one name fails at import.
DECLARED: dict[str, Setting[Any]] = {}


class Setting[T]:
    """One setting: the Django setting of this name unless unset or None, else (for a number or
    a string) the environment variable of this name, else the default; cast to the default's type."""

    def __init__(self, name: str, default: T) -> None:
        module: str = sys._getframe(1).f_globals["__name__"]  # the conf.py declaring it
        if name in DECLARED:
            raise ImproperlyConfigured(f"{name} has a default in {DECLARED[name].module} and again in {module}")
        self.name: str = name
        self.default: T = default
        self.module: str = module
        DECLARED[name] = self

    def __call__(self) -> T:
        value: Any = getattr(settings, self.name, None)
        scalar = isinstance(self.default, (int, float, str))
        if value is None and scalar:
            value = self.environment()
        if value is None:
            return self.default
        if isinstance(self.default, bool) and isinstance(value, str):  # a config var: "1", "true", "yes", "on"
            return cast(T, value.strip().lower() in {"1", "true", "yes", "on"})
        # A number or string as the default's type (a config var is text, a test may give 5 for 5.0).
        return cast(T, cast(Any, type(self.default))(value) if scalar else value)

    def environment(self) -> str | None:
        """The environment variable of this name, if set: the worker processes take these from
        their environment, so a test (or an operator) can set them where no settings module does."""
        return os.environ.get(self.name) or None


def declared(name: str) -> Setting[Any]:
    """The setting of this name, whichever app's conf.py declares it."""
    if name not in DECLARED:
        autodiscover_modules("conf")
    return DECLARED[name]


def complete_settings() -> None:
    """Give django.conf.settings each declared setting it lacks (queues/apps.py, at start-up), so
    what reads `settings.NAME` (diffsettings, the demo, the tests) sees what `conf.NAME()` returns."""
    autodiscover_modules("conf")
    for name, setting in DECLARED.items():
        if getattr(settings, name, None) is None:
            setattr(settings, name, setting())


# Workers and their schedulers wait this long at most between tries while Redis errs (full,
# hung, unreachable), 1 s doubling: long enough not to hammer a struggling Redis, short enough
# that work resumes within half a minute of it recovering (the sweeper runs every minute).
# https://devcenter.heroku.com/articles/heroku-redis-maintenance
REDIS_RETRY_MAX_SECONDS = Setting("REDIS_RETRY_MAX_SECONDS", 30.0)
