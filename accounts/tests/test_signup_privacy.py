"""Sign-up must not tell anyone whether an address already has an account (account enumeration).

A known and an unknown address get the same answer, byte for byte but for the CSRF token,
in about the same time (both hash the password), and neither logs in. What differs is the
email, which only the address's owner reads.
"""

from __future__ import annotations

import re
import statistics
import time

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from emails.models import OutgoingEmail

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
TRIES = 5
CSRF_TOKEN = re.compile(rb"(csrfmiddlewaretoken\" value=\"|csrftoken=)[\w-]+")


@pytest.fixture
def known(django_user_model) -> User:
    return django_user_model.objects.create_user(email="ada@example.com", password="adas-own-passphrase-1")


@pytest.fixture(autouse=True)
def _many_signups_allowed(settings) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "signup": (1000, 3600)}


def sign_up(email: str) -> tuple[bytes, float]:
    """A fresh browser fills in the form: everything it is told back, and how long the POST took."""
    browser = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"}, enforce_csrf_checks=True)
    form = browser.get(reverse("signup"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode()).group(1)
    started = time.perf_counter()
    answer = browser.post(
        reverse("signup"),
        {"csrfmiddlewaretoken": token, "email": email, "password": PASSWORD},
        headers={"Referer": "https://testserver/signup/"},  # required of HTTPS form posts
    )
    took = time.perf_counter() - started
    page = browser.get(answer["Location"])
    seen = b"\n".join(
        [
            *(
                f"{response.status_code} {sorted(response.items())} {response.cookies.output()}".encode()
                for response in (answer, page)
            ),
            answer.content,
            page.content,
            str(sorted(browser.cookies.keys())).encode(),
        ]
    )
    return CSRF_TOKEN.sub(rb"\1<token>", seen), took


def test_known_and_unknown_addresses_get_the_same_answer(known):
    unknown_answer, _ = sign_up("grace@example.com")
    known_answer, _ = sign_up("ada@example.com")

    assert known_answer == unknown_answer
    assert b"Check your inbox" in known_answer
    assert b"sessionid" not in known_answer  # nobody is logged in by signing up


# Slow: ten sign-ups with the real hasher, half a second each.
@pytest.mark.slow
@pytest.mark.real_password_hashing
def test_known_and_unknown_addresses_take_about_as_long(known, capsys):
    unknown, known_ = [], []
    for n in range(TRIES):  # interleaved, so a slow moment of the machine hits both
        unknown.append(sign_up(f"new-{n}@example.com")[1])
        known_.append(sign_up("ada@example.com")[1])

    medians = statistics.median(unknown), statistics.median(known_)
    with capsys.disabled():
        print(f"\nsign-up median: unknown {medians[0] * 1000:.0f} ms, known {medians[1] * 1000:.0f} ms")
    # Before, a known address answered ~40 times faster (no password hashing): a factor of 2
    # either way is far from that and far from timing noise.
    assert max(medians) < 2 * min(medians)


def test_a_known_address_keeps_its_account_and_password(known, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        Client(headers={"X-Forwarded-Proto": "https"}).post(
            reverse("signup"), {"email": "ADA@example.com", "password": PASSWORD}
        )

    assert list(User.objects.values_list("email", flat=True)) == ["ada@example.com"]
    known.refresh_from_db()
    assert known.check_password("adas-own-passphrase-1")
    [email] = OutgoingEmail.objects.all()
    assert (email.to, email.subject) == (
        "ada@example.com",
        f"Someone tried to sign up to {settings.SITE_NAME} with your address",
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_each_address_gets_the_email_that_says_what_to_do_next(smtp_server, run_worker, django_user_model, settings):
    django_user_model.objects.create_user(
        email="ada@example.com", password="a-passphrase-123", email_confirmed_at=timezone.now()
    )
    django_user_model.objects.create_user(email="una@example.com", password="u-passphrase-123")
    visitor = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})
    for address in ("ada@example.com", "una@example.com", "grace@example.com"):
        visitor.post(reverse("signup"), {"email": address, "password": PASSWORD})

    run_worker("high", extra_env=smtp_server.env)

    received = {message["To"]: message for message in smtp_server.wait_for_messages(3)}
    body = {to: message.get_body(preferencelist=("plain",)).get_content() for to, message in received.items()}
    assert received["grace@example.com"]["Subject"] == f"Confirm your email address for {settings.SITE_NAME}"
    for known_address in ("ada@example.com", "una@example.com"):
        assert (
            received[known_address]["Subject"] == f"Someone tried to sign up to {settings.SITE_NAME} with your address"
        )
        assert "already has an account" in body[known_address]
        assert "https://testserver/login/" in body[known_address]
    assert "/confirm/" not in body["ada@example.com"]  # confirmed already: just log in
    link = re.search(r"https://testserver(/confirm/\S+/)", body["una@example.com"]).group(1)
    assert "una@example.com is confirmed" in visitor.get(link).content.decode()
    assert User.objects.get(email="una@example.com").email_confirmed
