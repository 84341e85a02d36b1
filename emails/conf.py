"""The outbox's settings: each default once, read as `conf.NAME()`.

How they are read, and why not django-appconf: queues/conf.py. Django's own EMAIL_* and MAILERS
stay in project/settings.py.
"""

from __future__ import annotations

from queues.conf import Setting

# Seconds before each retry of an email that could not be sent: an SMTP provider's outage lasts
# minutes to hours, so the waits grow to hours and together span about 10 h (8 attempts); mail
# servers themselves retry for days (RFC 5321: at least 30 minutes apart, for 4-5 days).
# https://www.rfc-editor.org/rfc/rfc5321#section-4.5.4.1
EMAIL_RETRY_SCHEDULE = Setting("EMAIL_RETRY_SCHEDULE", (30, 120, 600, 1800, 3600, 10800, 21600))
