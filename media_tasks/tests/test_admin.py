"""The demo's admin: images filtered by status and owner, and made again in bulk."""

from __future__ import annotations

import django_rq
import pytest

from media_tasks.models import Image
from media_tasks.tests.support import stored_failed_image

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/django_rq/dashboard/"


def test_admin_filters_images_by_status_and_owner(client, superuser, user):
    stored_failed_image(user)
    client.force_login(superuser)

    page = client.get("/admin/media_tasks/image/", {"status__exact": "failed", "owner__id__exact": user.pk})

    assert page.status_code == 200
    assert "broken-before.jpg" in page.content.decode()


def test_admin_bulk_reprocess_queues_the_selected_images(client, superuser, user, django_capture_on_commit_callbacks):
    image = stored_failed_image(user)
    client.force_login(superuser)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/media_tasks/image/", {"action": "reprocess", "_selected_action": [image.pk]}, follow=True
        )

    assert "Queued 1 images for new thumbnails." in response.content.decode()
    image.refresh_from_db()
    assert (image.status, image.attempts, image.failure_reason) == (Image.Status.PENDING, 0, "")
    assert django_rq.get_queue("default").get_job_ids() == [f"image-{image.pk}"]
