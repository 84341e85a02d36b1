from __future__ import annotations

import secrets

import django_rq
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from media_tasks.models import Image, OutgoingEmail
from project.redis_config import SERIALIZER
from tests.support import images

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/django_rq/dashboard/"


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(email="root@example.com", password="root-long-passphrase-1")


def test_admin_is_closed_to_anonymous_and_ordinary_users(client, user):
    assert client.get(reverse("admin:index")).status_code == 302
    client.force_login(user)
    assert client.get(reverse("admin:index")).status_code == 302
    assert client.get(DASHBOARD).status_code == 403


def test_superuser_reaches_the_dashboard_from_the_admin(client, superuser):
    client.force_login(superuser)

    index = client.get(reverse("admin:index")).content.decode()
    dashboard = client.get(DASHBOARD)

    assert DASHBOARD in index
    assert dashboard.status_code == 200
    for queue in ("high", "default", "low"):
        assert queue in dashboard.content.decode()


def test_failed_job_can_be_inspected_and_requeued_from_the_dashboard(
    client, superuser, django_capture_on_commit_callbacks
):
    queue = django_rq.get_queue("default")
    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue("media_tasks.jobs.make_thumbnails", "not-an-id")
    [job] = queue.get_jobs()
    worker = django_rq.get_worker("default", worker_class="rq.SimpleWorker", serializer=SERIALIZER)
    worker.work(burst=True)  # fails: the id is not a number
    assert job.id in queue.failed_job_registry.get_job_ids()
    queue_index = sorted(["high", "default", "low"]).index("default")
    client.force_login(superuser)

    detail = client.get(f"{DASHBOARD}queues/{queue_index}/{job.id}/")
    requeue = client.post(f"{DASHBOARD}queues/{queue_index}/{job.id}/requeue/", {"requeue": "Requeue"})

    assert detail.status_code == 200
    assert "not-an-id" in detail.content.decode()
    assert "failed" in detail.content.decode()
    assert requeue.status_code == 302
    assert job.id in queue.get_job_ids()
    assert job.id not in queue.failed_job_registry.get_job_ids()


def stored_failed_image(owner, name: str = "broken-before.jpg") -> Image:
    image = Image(owner=owner, token=secrets.token_hex(16), original_name=name, status=Image.Status.FAILED)
    image.original.save(image.token, ContentFile(images.jpeg_bytes(640, 480)), save=False)
    image.failure_reason = "Simulated earlier failure."
    image.attempts = 5
    image.save()
    return image


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


def test_admin_shows_the_email_outbox_with_errors(client, superuser, user):
    OutgoingEmail.objects.create(to="x@example.com", subject="Hello", body="...", last_error="SMTPServerDisconnected")
    client.force_login(superuser)

    page = client.get("/admin/media_tasks/outgoingemail/").content.decode()

    assert "x@example.com" in page
    assert "Pending" in page
