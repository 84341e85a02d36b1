"""The clock process: rqcron with the project's schedule, read by real workers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import get_commands
from django.utils import timezone

from background.management.commands.rqcron import JSONCronScheduler

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_scheduled_cleanup_is_run_by_a_json_worker(django_user_model, run_worker):
    stale = django_user_model.objects.create_user(email="stale@example.com", password="p-long-passphrase-1")
    django_user_model.objects.filter(pk=stale.pk).update(date_joined=timezone.now() - timedelta(days=30))
    scheduler = JSONCronScheduler()
    scheduler.load_config_from_file("background.schedule")
    [cleanup] = [job for job in scheduler.get_jobs() if job.func_name.endswith("delete_unconfirmed_accounts")]
    cleanup.next_enqueue_time = timezone.now() - timedelta(seconds=1)

    for other in scheduler.get_jobs():
        if other is not cleanup:
            other.next_enqueue_time = timezone.now() + timedelta(hours=1)
    assert scheduler.enqueue_jobs() == [cleanup]
    run_worker("low")

    assert not django_user_model.objects.filter(pk=stale.pk).exists()


def test_the_project_commands_override_django_rq(settings):
    # background must come first so its JSON-defaulting commands win.
    commands = get_commands()
    assert commands["rqworker"] == "background"
    assert commands["rqcron"] == "background"
    assert commands["rqworker-pool"] == "background"
