"""The admin and django-rq's job dashboard: superusers only, every page answering, 503 without Redis."""

from __future__ import annotations

import html
import re
import socket
from urllib.parse import urljoin, urlsplit

import django_rq
import pytest
from django.urls import reverse

from queues.config import SERIALIZER, rq_queues

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/django_rq/dashboard/"


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
        queue.enqueue("tests.workapp.jobs.do_chore", "not-an-id")
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


def jobs_in_every_state() -> None:
    """A finished and a failed job (run by a worker in this process), one still queued, and a live worker."""
    queue = django_rq.get_queue("default", commit_mode="auto")
    queue.enqueue("tests.workapp.jobs.do_chore", 0)  # no such chore: finishes quietly
    queue.enqueue("tests.workapp.jobs.do_chore", "not-an-id")  # fails
    worker = django_rq.get_worker("default", worker_class="rq.SimpleWorker", serializer=SERIALIZER)
    worker.work(burst=True)
    queue.enqueue("tests.workapp.jobs.do_chore", 0)
    # Registered as a running worker would be, so its page is listed; the test's Redis is emptied after.
    django_rq.get_worker("default", serializer=SERIALIZER).register_birth()
    assert (queue.count, queue.finished_job_registry.count, queue.failed_job_registry.count) == (1, 1, 1)


def dashboard_links(page: str, base: str) -> set[str]:
    links = {urljoin(base, html.unescape(href)) for href in re.findall(r"""href\s*=\s*["']([^"'#]*)["']""", page)}
    return {link for link in links if urlsplit(link).path.startswith("/admin/django_rq/")}


def test_every_page_linked_from_the_dashboard_answers_200(client, superuser):
    jobs_in_every_state()
    client.force_login(superuser)
    index = client.get(reverse("admin:index")).content.decode()
    to_visit = sorted(dashboard_links(index, reverse("admin:index")))
    assert DASHBOARD in to_visit
    seen: dict[str, int] = {}
    while to_visit:
        url = to_visit.pop()
        response = client.get(url)
        seen[url] = response.status_code
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            to_visit += sorted(dashboard_links(response.content.decode(), url) - seen.keys() - set(to_visit))

    assert {url: status for url, status in seen.items() if status != 200} == {}
    visited = " ".join(seen)
    for page in ("/finished/", "/failed/", "/workers/0/rq:worker:", "/details/", "/results/"):
        assert page in visited
    assert len([url for url in seen if re.search(r"/queues/\d+/[\w-]{20,}/$", url)]) >= 3  # job pages


@pytest.mark.parametrize(
    "path",
    [
        "schedulers/0/",  # rq-scheduler's page; the project does not use rq-scheduler
        "1/change/",
        "1/history/",
        "1/delete/",
        "1/",
        "add/",
        "queues/3/",
        "queues/99999999999999999999999/",
        "queues/1/no-such-job/",
        "queues/1/no-such-job/delete/",
        "queues/1/no-such-job/requeue/",
        "queues/1/not%20a%20job%20id/",
        "workers/1/rq:worker:gone/",
        "workers/1/no-such-worker/",
    ],
)
def test_dashboard_pages_that_cannot_work_answer_404(client, superuser, path):
    client.force_login(superuser)

    assert client.get(DASHBOARD + path).status_code == 404


def test_dashboard_says_503_while_redis_is_unreachable(client, superuser, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]  # nothing listens once the socket is closed
    settings.RQ_QUEUES = rq_queues(f"redis://127.0.0.1:{closed_port}/0")
    client.force_login(superuser)

    for path in ("", "queues/1/", "queues/1/some-job/", "workers/1/", "stats.json"):
        response = client.get(DASHBOARD + path)
        assert response.status_code == 503, f"{path}: {response.status_code}"
    assert "The job queue is unreachable" in client.get(DASHBOARD).content.decode()
    assert client.get(reverse("admin:index")).status_code == 200  # the rest of the admin is unaffected
