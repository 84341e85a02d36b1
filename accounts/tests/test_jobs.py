"""The accounts' scheduled job called directly, as a worker would call it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import jobs as account_jobs

pytestmark = pytest.mark.django_db


def test_cleanup_deletes_only_old_unconfirmed_accounts(
    django_user_model, settings, user, django_capture_on_commit_callbacks
):
    settings.UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS = 7
    old = timezone.now() - timedelta(days=8)
    stale = django_user_model.objects.create_user(email="stale@example.com", password="p-long-passphrase-1")
    confirmed = django_user_model.objects.create_user(
        email="kept@example.com", password="p-long-passphrase-2", email_confirmed_at=old
    )
    staff = django_user_model.objects.create_user(
        email="ops@example.com", password="p-long-passphrase-3", is_staff=True
    )
    django_user_model.objects.filter(pk__in=[stale.pk, confirmed.pk, staff.pk]).update(date_joined=old)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = account_jobs.delete_unconfirmed_accounts()

    assert deleted == 1
    remaining = set(django_user_model.objects.values_list("email", flat=True))
    assert remaining == {"ada@example.com", "kept@example.com", "ops@example.com"}
