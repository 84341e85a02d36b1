"""django-rq's job dashboard, as the admin links to it."""

from __future__ import annotations

from django_rq.settings import get_queues_map

DASHBOARD = "/admin/django_rq/dashboard/"


def queue_index(name: str) -> int:
    """The queue's number in the dashboard's URLs."""
    return get_queues_map()[name]
