"""The soak for the demo's images: 100 uploads and 20 sign-ups through 3 worker dynos being killed.

tests/system/test_soak.py is the core's soak (500 chores); this one checks what is the demo's own:
every image ready with exactly one set of thumbnails (no orphaned or duplicate files) while
thumbnail jobs are killed mid-way. SOAK_UPLOADS sets the number.
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
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from emails.models import OutgoingEmail
from files.models import StoredFile
from media_tasks.models import Image
from media_tasks.tests.support import slowed_thumbnails
from tests.support import images
from tests.support.processes import ROOT, Process, procfile_command, wait_until
from work import claims

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

UPLOADS = int(os.environ.get("SOAK_UPLOADS", "100"))
SIGNUPS = UPLOADS // 5
WORKERS = 3
LEASE_SECONDS = 10
SLOW_SECONDS = 0.25
FINAL_IMAGE = {Image.Status.READY, Image.Status.FAILED}
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
        # Each thumbnail job is slowed by SLOW_SECONDS so that most kills land mid-job.
        return Process(procfile_command("worker"), {**self.env, **slowed_thumbnails(SLOW_SECONDS)})

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
def test_soak_every_image_gets_one_set_of_thumbnails_while_workers_are_killed(
    worker_env, smtp_server, settings, django_user_model, capsys
):
    settings.WORK_CLAIM_LEASE_SECONDS = LEASE_SECONDS
    settings.WORK_STALE_SECONDS = 5
    # Sign-ups hash passwords in this process; the soak is about the workers, not PBKDF2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # One test client stands in for many people here.
    settings.RATE_LIMITS = {scope: (10_000, 60) for scope in settings.RATE_LIMITS}
    env = {**worker_env, **smtp_server.env, "WORK_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS)}
    owner = django_user_model.objects.create_user(
        email="owner@example.com", password="a-long-passphrase-42", email_confirmed_at=timezone.now()
    )
    uploader = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})
    uploader.force_login(owner)
    photo = images.jpeg_bytes(1200, 800)
    started = time.monotonic()

    with Chaos(env) as chaos:
        for n in range(UPLOADS):
            uploader.post(reverse("upload"), {"file": SimpleUploadedFile(f"soak-{n}.jpg", photo)})
            if n % 5 == 0:
                visitor = Client(headers={"Host": "testserver", "X-Forwarded-Proto": "https"})
                visitor.post(reverse("signup"), {"email": f"soak-{n // 5}@example.com", "password": "soak-pass-123"})
        submitted = time.monotonic() - started

        def all_final() -> bool:
            claims.sweep()  # what the schedule does every minute, more often
            return not (
                Image.objects.exclude(status__in=FINAL_IMAGE).exists()
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
    statuses = Counter(Image.objects.values_list("status", flat=True))
    figures = {
        "uploads": Image.objects.count(),
        "signups": OutgoingEmail.objects.count(),
        "workers": WORKERS,
        "kills": kills,
        "images_ready": statuses[Image.Status.READY],
        "images_failed": statuses[Image.Status.FAILED],
        "images_retried": Image.objects.filter(attempts__gt=1).count(),
        "emails_sent": OutgoingEmail.objects.filter(status=OutgoingEmail.Status.SENT).count(),
        "emails_delivered": sum(deliveries.values()),
        # A kill between the SMTP server's acceptance and the row's update resends the same message.
        "emails_resent_same_message_id": sum(transmissions.values()) - sum(deliveries.values()),
        "emails_duplicated": sum(count - 1 for count in deliveries.values() if count > 1),
        "lost": UPLOADS + SIGNUPS - statuses[Image.Status.READY] - len(deliveries),
        "thumbnail_files": StoredFile.objects.filter(name__startswith="thumbnails/").count(),
        "submit_seconds": round(submitted, 1),
        "total_seconds": round(elapsed, 1),
    }
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "soak_images.json").write_text(json.dumps(figures, indent=2) + "\n")
    with capsys.disabled():
        print("\nsoak of images:", json.dumps(figures))

    assert figures["uploads"] == UPLOADS and figures["signups"] == SIGNUPS
    assert kills >= 2, "the chaos loop did not get to kill enough workers to mean anything"
    assert figures["images_retried"] >= 1, "no kill landed mid-job"
    assert figures["images_ready"] == UPLOADS
    assert figures["thumbnail_files"] == 3 * UPLOADS  # no orphaned or duplicate thumbnails
    assert sorted(deliveries) == sorted(f"soak-{n}@example.com" for n in range(SIGNUPS))
    assert figures["emails_duplicated"] == 0
    assert figures["lost"] == 0


def _explain_unfinished() -> None:
    for model in (Image, OutgoingEmail):
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
