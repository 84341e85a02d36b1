"""The accounts app's jobs: the scheduled clean-up (accounts/schedule.py) and the password reset email."""

from __future__ import annotations

from datetime import timedelta

from accounts import conf, services
from queues.joblog import logged, logged_privately


@logged
def delete_unconfirmed_accounts() -> int:
    return services.user_delete_unconfirmed(older_than=timedelta(days=conf.UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS()))


@logged_privately  # the address is whatever someone typed: not for the log
def send_password_reset(email: str, domain: str, use_https: bool) -> int:
    return services.password_reset_send(email=email, domain=domain, use_https=use_https)
