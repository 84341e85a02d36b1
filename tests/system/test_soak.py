"""A soak: 500 chores and 100 sign-ups through 3 worker dynos while a chaos loop kills them.

The work is the test-only Chore (tests/workapp), so the soak holds without the demo. Each worker
dyno is the Procfile's worker line (a pool of workers); the chaos loop SIGKILLs a whole dyno's
process tree every 1.5-4 s and starts another. At the end every chore must be done exactly once
and every confirmation email delivered exactly once. The figures are printed and written to
artifacts/soak.json.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter

import pytest
from django.test import Client
from django.urls import reverse

from emails.models import OutgoingEmail
from tests.support.chores import queue_chore, slow
from tests.support.processes import ROOT, Process, procfile_command, wait_until
from tests.workapp.models import Chore
from work import claims

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHORES = int(os.environ.get("SOAK_CHORES", "500"))
SIGNUPS = CHORES // 5
WORKERS = 3
LEASE_SECONDS = 10
# Each chore takes this long, so that most kills land mid-job.
CHORE_SECONDS = 0.5
FINAL_CHORE = {"done", "failed"}
FINAL_EMAIL = {OutgoingEmail.Status.SENT, OutgoingEmail.Status.FAILED}


class Chaos:
    """Keeps WORKERS worker dynos running and SIGKILLs a random one every few seconds."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.workers = [self._start() for _ in range(WORKERS)]
        self.kills = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _start(self) -> Process:
        return Process(procfile_command("worker"), self.env)

    def _run(self) -> None:
        rng = random.Random(2026)  # noqa: S311 - chaos, not cryptography
        while not self._stop.wait(rng.uniform(1.5, 4.0)):
            victim = rng.randrange(WORKERS)
            self.workers[victim].signal_dyno(signal.SIGKILL)
            self.workers[victim].popen.wait()
            self.kills += 1
            self.workers[victim] = self._start()

    def __enter__(self) -> Chaos:
        self._thread.start()
        return self

    def calm(self) -> None:
        self._stop.set()
        self._thread.join()

    def __exit__(self, *exc_info: object) -> None:
        self.calm()
        for worker in self.workers:
            worker.stop()


@pytest.mark.soak
def test_soak_every_chore_and_email_finishes_once_while_worker_dynos_are_killed(
    worker_env, smtp_server, settings, capsys
):
    settings.WORK_CLAIM_LEASE_SECONDS = LEASE_SECONDS
    settings.WORK_STALE_SECONDS = 5
    # Sign-ups hash passwords in this process; the soak is about the workers, not PBKDF2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # One test client stands in for many people here.
    settings.RATE_LIMITS = {scope: (10_000, 60) for scope in settings.RATE_LIMITS}
    env = {**worker_env, **smtp_server.env, **slow(CHORE_SECONDS), "WORK_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS)}
    started = time.monotonic()

    with Chaos(env) as chaos:
        for n in range(CHORES):
            queue_chore(f"soak-{n}")
            if n % 5 == 0:
                visitor = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})
                visitor.post(reverse("signup"), {"email": f"soak-{n // 5}@example.com", "password": "soak-pass-123"})
            # About as fast as a busy web dyno writes rows, so the chaos lands while work is queued.
            time.sleep(0.01)
        submitted = time.monotonic() - started

        def all_final() -> bool:
            claims.sweep()  # what the schedule does every minute, more often
            return not (
                Chore.objects.exclude(status__in=FINAL_CHORE).exists()
                or OutgoingEmail.objects.exclude(status__in=FINAL_EMAIL).exists()
            )

        try:
            wait_until(all_final, float(os.environ.get("SOAK_TIMEOUT", "300")), "every item to finish", every=2)
        except AssertionError:
            _explain_unfinished()
            raise
        chaos.calm()
        kills = chaos.kills
    elapsed = time.monotonic() - started

    received = smtp_server.wait_for_messages(SIGNUPS)
    transmissions = Counter(message["To"] for message in received)
    # What a person sees: distinct messages (by Message-ID) per address.
    deliveries = Counter(to for to, _ in {(message["To"], message["Message-ID"]) for message in received})
    statuses = Counter(Chore.objects.values_list("status", flat=True))
    runs = Counter(Chore.objects.values_list("runs", flat=True))
    figures = {
        "chores": Chore.objects.count(),
        "signups": OutgoingEmail.objects.count(),
        "workers": WORKERS,
        "kills": kills,
        "chores_done": statuses["done"],
        "chores_failed": statuses["failed"],
        # Claimed more than once: interrupted by a kill mid-job and retried.
        "chores_retried": Chore.objects.filter(attempts__gt=1).count(),
        "chores_done_twice": sum(count for times, count in runs.items() if times > 1),
        "emails_sent": OutgoingEmail.objects.filter(status=OutgoingEmail.Status.SENT).count(),
        "emails_delivered": sum(deliveries.values()),
        # A kill between the SMTP server's acceptance and the row's update resends the same message.
        "emails_resent_same_message_id": sum(transmissions.values()) - sum(deliveries.values()),
        "emails_duplicated": sum(count - 1 for count in deliveries.values() if count > 1),
        "lost": CHORES + SIGNUPS - statuses["done"] - len(deliveries),
        "submit_seconds": round(submitted, 1),
        "total_seconds": round(elapsed, 1),
    }
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "soak.json").write_text(json.dumps(figures, indent=2) + "\n")
    with capsys.disabled():
        print("\nsoak:", json.dumps(figures))

    assert figures["chores"] == CHORES and figures["signups"] == SIGNUPS
    assert kills >= 5, "the chaos loop did not get to kill enough workers to mean anything"
    assert figures["chores_retried"] >= 1, "no kill landed mid-job"
    assert figures["chores_done"] == CHORES
    assert runs == {1: CHORES}, runs  # each chore's work done exactly once
    assert sorted(deliveries) == sorted(f"soak-{n}@example.com" for n in range(SIGNUPS))
    assert figures["emails_duplicated"] == 0
    assert figures["lost"] == 0


def _explain_unfinished() -> None:
    for model in (Chore, OutgoingEmail):
        rows = model.objects.values_list("status", "attempts", "last_error")
        print(model.__name__, Counter((status, attempts) for status, attempts, _ in rows))
        print(Counter(error[:120] for _, _, error in rows if error).most_common(5))
    import django_rq

    for name in ("high", "default", "low"):
        queue = django_rq.get_queue(name)
        print(
            name,
            "queued",
            queue.count,
            "scheduled",
            len(queue.scheduled_job_registry),
            "started",
            len(queue.started_job_registry),
            "failed",
            len(queue.failed_job_registry),
        )
