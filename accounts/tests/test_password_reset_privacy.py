"""Asking for a password reset must not tell anyone whether an address has an account.

A known and an unknown address get the same answer, and the request does the same work for
both: it queues one job with the address, and the worker looks the address up and writes the
reset email to the outbox (accounts/services.py, password_reset_request). That a known
address still receives a working link, through the worker and a real SMTP server, is
emails/tests/test_outbox.py's test.
"""

from __future__ import annotations

import time

import django_rq
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from emails.models import OutgoingEmail
from queues import redis_client
from queues.config import SERIALIZER, rq_queues

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _many_resets_allowed(settings) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset": (1000, 3600)}


def ask_for_reset(email: str) -> tuple[tuple[int, str], float]:
    """A fresh browser asks for a link: what it is answered, and how long the POST took."""
    browser = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})
    started = time.perf_counter()
    answer = browser.post(reverse("password_reset"), {"email": email})
    took = time.perf_counter() - started
    return (answer.status_code, answer["Location"]), took


def run_high_queue() -> None:
    django_rq.get_worker("high", worker_class="rq.SimpleWorker", serializer=SERIALIZER).work(burst=True)


def test_known_and_unknown_addresses_cost_the_request_the_same_work(user):
    high = django_rq.get_queue("high")

    known_answer, _ = ask_for_reset(user.email)
    unknown_answer, _ = ask_for_reset("nobody@example.com")

    assert known_answer == unknown_answer == (302, reverse("password_reset_done"))
    assert not OutgoingEmail.objects.exists()  # neither request wrote to the database
    assert high.count == 2  # each queued one job, and nothing else
    run_high_queue()
    [row] = OutgoingEmail.objects.all()  # the worker wrote the known address's email only
    assert row.to == user.email
    assert "/password/reset/" in row.body


def queries_and_jobs_of_a_reset(email: str) -> tuple[list[str], list[tuple[str, tuple[object, ...]]]]:
    """The SQL one request runs and the jobs it queues, with the typed address made a placeholder."""
    high = django_rq.get_queue("high")
    high.empty()
    with CaptureQueriesContext(connection) as captured:
        ask_for_reset(email)
    queries = [query["sql"].replace(email, "<email>") for query in captured.captured_queries]
    jobs = [(job.func_name, tuple("<email>" if arg == email else arg for arg in job.args)) for job in high.jobs]
    return queries, jobs


def test_known_and_unknown_addresses_do_the_same_work_in_the_request(user):
    # Timing a 2 ms request on a shared machine tells nothing either way (its noise is above the
    # 40% a look-up in the request once cost); the same statements and the same job are what
    # make the two requests indistinguishable, and a look-up added to either one shows here.
    for _ in range(2):  # the first request of a fresh client may warm caches the second does not
        known = queries_and_jobs_of_a_reset(user.email)
        unknown = queries_and_jobs_of_a_reset("nobody@example.com")

    assert known == unknown
    assert known[1] == [("accounts.jobs.send_password_reset", ("<email>", "testserver", True))]


def test_with_redis_unreachable_the_reset_is_written_to_the_outbox_from_the_request(user, settings):
    settings.RQ_QUEUES = rq_queues("redis://127.0.0.1:1/0")  # nothing listens there
    redis_client._client.cache_clear()
    try:
        known_answer, _ = ask_for_reset(user.email)
        unknown_answer, _ = ask_for_reset("nobody@example.com")
    finally:
        redis_client._client.cache_clear()

    assert known_answer == unknown_answer == (302, reverse("password_reset_done"))
    # Not lost: the row waits for the sweeper, which queues it once Redis is back.
    [row] = OutgoingEmail.objects.all()
    assert (row.to, row.status) == (user.email, OutgoingEmail.Status.PENDING)
