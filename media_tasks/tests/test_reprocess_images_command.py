"""`manage.py reprocess_images`: queue many images again and follow the workers to the end."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from media_tasks.models import Image
from media_tasks.tests.support import stored_failed_image
from tests.support.processes import Process, procfile_command

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_reprocess_follows_the_workers_with_a_progress_bar_and_a_summary(user, worker_env):
    failed = [stored_failed_image(user, f"old-{n}.jpg") for n in range(3)]
    worker = Process(procfile_command("worker"), worker_env)
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("reprocess_images", "--status", "failed", "--timeout", "60", stdout=out, stderr=err)
    finally:
        worker.stop()

    assert "Queued 3 images (0 skipped: original not kept)." in out.getvalue()
    assert "Done: 3 ready, 0 failed" in out.getvalue()
    assert "3/3" in err.getvalue()  # the bar reached the end
    assert all(Image.objects.get(pk=image.pk).status == Image.Status.READY for image in failed)


def test_reprocess_skips_images_whose_original_was_discarded(user):
    Image.objects.create(owner=user, token="r" * 32, original="", status=Image.Status.READY)
    out = io.StringIO()

    call_command("reprocess_images", "--status", "ready", "--no-wait", stdout=out)

    assert "Queued 0 images (1 skipped: original not kept)." in out.getvalue()
