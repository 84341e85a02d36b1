from __future__ import annotations

import logging
import os
import time

from django.db import transaction
from django.db.models import F

from background import work
from background.jobs import job, logged
from tests.workapp.models import Chore, Ping

logger = logging.getLogger(__name__)


@logged
def do_chore(chore_id: int) -> None:
    kind = work.kind_of(Chore)
    token = work.claim(kind, chore_id)
    if token is None:
        logger.info("chore %s is done, gone or being done elsewhere", chore_id)
        return
    try:
        # A fault test slows the work down so it can signal or kill the worker mid-job.
        time.sleep(float(os.environ.get("CHORE_SECONDS") or 0))
        # The work and its outcome commit together: `runs` counts the times it was really done.
        with transaction.atomic():
            Chore.objects.filter(pk=chore_id, claim_token=token).update(runs=F("runs") + 1)
            work.finish(kind, chore_id, token, status="done")
    except BaseException as error:
        work.release(kind, chore_id, token, error)
        raise


@job("high")
def ping(value: int) -> None:
    Ping.objects.create(value=value)
