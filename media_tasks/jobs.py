"""rq job functions: each takes ids, re-reads its rows and calls one service.

Workers import these by dotted path and pass JSON arguments, so nothing else belongs here.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings

from media_tasks import services
from media_tasks.models import Image, User

logger = logging.getLogger(__name__)


def send_confirmation_email(user_id: int, site_url: str) -> None:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        logger.info("user %s is gone; no confirmation email to send", user_id)
        return
    if user.email_confirmed:
        logger.info("user %s already confirmed; no email sent", user_id)
        return
    services.user_send_confirmation_email(user=user, site_url=site_url)


def make_thumbnails(image_id: int) -> None:
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        logger.info("image %s is gone; no thumbnails to make", image_id)
        return
    services.image_make_thumbnails(image=image)


def delete_unconfirmed_accounts() -> int:
    return services.user_delete_unconfirmed(older_than=timedelta(days=settings.UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS))
