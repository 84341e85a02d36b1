"""The accounts app's settings: each default once, read as `conf.NAME()`.

How they are read, and why not django-appconf: queues/conf.py. SITE_NAME is the project's
(project/settings.py), which every app reads.
"""

from __future__ import annotations

from queues.conf import Setting

# A confirmation link stops working after this many seconds (3 days).
EMAIL_CONFIRMATION_MAX_AGE = Setting("EMAIL_CONFIRMATION_MAX_AGE", 3 * 24 * 3600)
# Accounts still unconfirmed after this many days are deleted by the scheduled cleanup.
UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS = Setting("UNCONFIRMED_ACCOUNT_MAX_AGE_DAYS", 7)
# When that cleanup runs (cron syntax, UTC; a sixth field counts seconds, which the tests use):
# daily at 03:17, off the hour, when the site is quiet; a config var so a deploy can move it.
UNCONFIRMED_CLEANUP_CRON = Setting("UNCONFIRMED_CLEANUP_CRON", "17 3 * * *")
# Where links in emails point; empty, the host the sign-up request came to.
SITE_URL = Setting("SITE_URL", "")
