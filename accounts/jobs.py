"""The accounts app's scheduled job (accounts/schedule.py)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from accounts import services
from background.jobs import logged


@logged
def delete_unconfirmed_accounts() -> int:
    return services.user_delete_unconfirmed(older_than=timedelta(days=settings.UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS))
