"""The docs' remedy for a skipped clean-up, run exactly as docs/durable-work.md writes it.

Its "What happens when" table tells the operator to run the clean-up of unconfirmed accounts at
once with `heroku run python manage.py shell -c "..."`: the command is read from that page (as
project/tests/test_docs_environment.py reads its table), so a change to either the page or the job
that breaks it fails here. With the demo, an account's images and their stored files go too.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from media_tasks.models import Image
from media_tasks.tests.support import stored_failed_image
from tests.support.processes import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HEROKU_RUN = "heroku run "


def readme_cleanup_command() -> list[str]:
    """The docs' `heroku run python manage.py shell -c "..."`, as the dyno it starts would run it."""
    readme = (ROOT / "docs" / "durable-work.md").read_text()
    [line] = re.findall(r"To run a skipped clean-up at once: `([^`]+)`", readme)
    assert line.startswith(HEROKU_RUN), line
    argv = shlex.split(line.removeprefix(HEROKU_RUN))
    assert argv[:4] == ["python", "manage.py", "shell", "-c"], argv
    # `python` on a one-off dyno is the app's Python; here it is this virtualenv's.
    return [sys.executable, *argv[1:]]


def test_the_readmes_command_for_a_skipped_cleanup_deletes_the_stale_unconfirmed_accounts(
    django_user_model, settings, worker_env
):
    long_ago = timezone.now() - timedelta(days=settings.UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS + 1)
    stale = django_user_model.objects.create_user(email="never@example.com", password="a-long-passphrase-42")
    django_user_model.objects.filter(pk=stale.pk).update(date_joined=long_ago)
    stale_image = stored_failed_image(stale, "never-confirmed.jpg")
    storage, stored = stale_image.original.storage, stale_image.original.name
    assert storage.exists(stored)
    django_user_model.objects.create_user(email="new@example.com", password="a-long-passphrase-42")
    confirmed = django_user_model.objects.create_user(
        email="old@example.com", password="a-long-passphrase-42", email_confirmed_at=long_ago
    )
    django_user_model.objects.filter(pk=confirmed.pk).update(date_joined=long_ago)

    result = subprocess.run(
        readme_cleanup_command(), cwd=ROOT, env=worker_env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stdout + result.stderr
    remaining = set(django_user_model.objects.values_list("email", flat=True))
    assert remaining == {"new@example.com", "old@example.com"}
    assert not Image.objects.filter(pk=stale_image.pk).exists()
    assert not storage.exists(stored)
    # What the operator sees in the one-off dyno's output.
    assert (
        f"deleted 1 accounts unconfirmed for {settings.UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS} days"
        in result.stdout + result.stderr
    )
