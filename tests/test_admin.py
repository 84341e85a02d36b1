from __future__ import annotations

import django_rq
import pytest
from django.urls import reverse

from project.redis_config import SERIALIZER

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
