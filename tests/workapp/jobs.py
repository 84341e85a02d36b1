from __future__ import annotations

import os
import time

from django.db.models import F

from background import work
from background.jobs import job, logged
from tests.workapp.models import Chore, Ping


@logged
def do_chore(chore_id: int) -> None:
    kind = work.kind_of(Chore)
    token = work.claim(kind, chore_id)
    if token is None:
        return
    try:
        # A fault test slows the work down so it can kill the worker mid-job.
        time.sleep(float(os.environ.get("CHORE_SECONDS") or 0))
        Chore.objects.filter(pk=chore_id, claim_token=token).update(runs=F("runs") + 1)
    except BaseException as error:
        work.release(kind, chore_id, token, error)
        raise
    work.finish(kind, chore_id, token, status="done")


@job("high")
def ping(value: int) -> None:
    Ping.objects.create(value=value)
