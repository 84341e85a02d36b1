"""The operator's remedies for a given-up image, with the Procfile's worker.

The dashboard's Requeue and Requeue All, and the admin's "Make thumbnails again"
(tests/system/test_email_delivery.py has the same remedies for emails, and its fixtures).
"""

from __future__ import annotations

import django_rq
import pytest
from django.urls import reverse

from accounts.models import User
from media_tasks.models import Image
from media_tasks.tests.support import stored_failed_image
from tests.support.dashboard import DASHBOARD, queue_index
from work import claims


def image_out_of_attempts(owner: User, settings, name: str = "given-up.jpg") -> Image:
    """An image whose worker died on its last attempt, given up by the sweeper."""
    image = stored_failed_image(owner, name)
    Image.objects.filter(pk=image.pk).update(
        status=Image.Status.PENDING, attempts=settings.WORK_MAX_ATTEMPTS, last_error="OSError: disk on fire"
    )
    settings.WORK_STALE_SECONDS = 0
    claims.sweep()
    image.refresh_from_db()
    assert image.status == Image.Status.FAILED
    return image


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_requeue_in_the_dashboard_makes_the_thumbnails_of_a_given_up_image(
    client, superuser, user, settings, start_worker
):
    image = image_out_of_attempts(user, settings)
    job_id = claims.kind_of(Image).job_id(image.pk)
    assert job_id in django_rq.get_queue("default").failed_job_registry.get_job_ids()
    client.force_login(superuser)

    response = client.post(f"{DASHBOARD}queues/{queue_index('default')}/{job_id}/requeue/", {"requeue": "Requeue"})
    assert start_worker(burst=True).wait(60) == 0

    assert response.status_code == 302
    image.refresh_from_db()
    # 640 px wide: one thumbnail at its own size and the 400 px one.
    assert (image.status, image.attempts, image.thumbnails.count()) == (Image.Status.READY, 1, 2)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_requeue_all_in_the_dashboard_makes_the_thumbnails_of_every_given_up_image(
    client, superuser, user, settings, start_worker
):
    given_up = [image_out_of_attempts(user, settings, f"given-up-{n}.jpg") for n in range(3)]
    default = django_rq.get_queue("default")
    assert sorted(default.failed_job_registry.get_job_ids()) == sorted(
        claims.kind_of(Image).job_id(image.pk) for image in given_up
    )
    client.force_login(superuser)

    response = client.post(f"{DASHBOARD}queues/{queue_index('default')}/requeue-all/")
    assert start_worker(burst=True).wait(60) == 0

    assert response.status_code == 302
    assert default.failed_job_registry.get_job_ids() == []
    rows = Image.objects.filter(pk__in=[image.pk for image in given_up]).order_by("pk")
    # Each made afresh, once: 640 px wide, one thumbnail at its own size and the 400 px one.
    assert [(row.status, row.attempts, row.thumbnails.count()) for row in rows] == [(Image.Status.READY, 1, 2)] * 3


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_make_thumbnails_again_in_the_admin_still_makes_them(client, superuser, user, start_worker):
    image = stored_failed_image(user)
    client.force_login(superuser)

    client.post(reverse("admin:media_tasks_image_changelist"), {"action": "reprocess", "_selected_action": [image.pk]})
    assert start_worker(burst=True).wait(60) == 0

    image.refresh_from_db()
    # 640 px wide: one thumbnail at its own size and the 400 px one.
    assert (image.status, image.attempts, image.thumbnails.count()) == (Image.Status.READY, 1, 2)
