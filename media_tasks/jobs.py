"""rq job functions: each takes ids, re-reads its rows and calls one service.

Workers import these by dotted path and pass JSON arguments, so nothing else belongs here.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings

from media_tasks import services
from media_tasks.models import Image, OutgoingEmail

logger = logging.getLogger(__name__)


def send_email(email_id: int) -> None:
    email = OutgoingEmail.objects.filter(pk=email_id).first()
    if email is None:
        logger.info("email %s is gone; nothing to send", email_id)
        return
    services.email_send(email=email)


def make_thumbnails(image_id: int) -> None:
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        logger.info("image %s is gone; no thumbnails to make", image_id)
        return
    services.image_make_thumbnails(image=image)


def sweep_stuck_work() -> dict[str, int]:
    return services.work_sweep()


def delete_unconfirmed_accounts() -> int:
    return services.user_delete_unconfirmed(older_than=timedelta(days=settings.UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS))
