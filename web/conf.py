"""The web app's settings (/healthz, the request limits): each default once, read as `conf.NAME()`.

How they are read, and why not django-appconf: queues/conf.py. RATE_LIMITS and SITE_NAME are
the project's (project/settings.py): the rate-limited forms and the product's name belong to
the apps above web.
"""

from __future__ import annotations

from queues.conf import Setting

# /healthz answers 503 when no worker has sent a heartbeat for this long: twice an idle
# worker's heartbeat interval (45 s, workers/conf.py), so one late beat is not an alarm.
HEALTH_WORKER_MAX_AGE_SECONDS = Setting("HEALTH_WORKER_MAX_AGE_SECONDS", 90.0)
# ... or when a job has waited this long for a worker: jobs take seconds, so five minutes means
# the workers are too few or not taking it (a big bulk reprocess may need more).
HEALTH_QUEUE_LATENCY_MAX_SECONDS = Setting("HEALTH_QUEUE_LATENCY_MAX_SECONDS", 300.0)
# ... or when no worker dyno's scheduler holds the schedule's lease, or its holder has not
# ticked (once a second) for this long: a holder that stopped (its lease lapses in 30 s) and no
# other dyno taking over.
HEALTH_SCHEDULE_MAX_AGE_SECONDS = Setting("HEALTH_SCHEDULE_MAX_AGE_SECONDS", 60.0)

# Uploads larger than this are refused before anything is stored.
MAX_UPLOAD_BYTES = Setting("MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
# The most a whole request body may be: one upload plus its form fields and multipart framing.
# The web dyno's gunicorn worker (web/gunicorn_worker.py) answers 413 to a larger declared
# body before reading any of it; views that take no file allow DATA_UPLOAD_MAX_MEMORY_SIZE.
# Set at start-up from MAX_UPLOAD_BYTES as it then is.
# https://docs.djangoproject.com/en/5.2/ref/settings/#data-upload-max-memory-size
REQUEST_MAX_BYTES = Setting("REQUEST_MAX_BYTES", MAX_UPLOAD_BYTES() + 64 * 1024)
# A request's headers must arrive within this many seconds of its first byte, and its body
# within as long again plus its length at REQUEST_BODY_MIN_RATE bytes a second (a 10 MB upload:
# 10 + 400 s), or the connection is answered 408 and closed; until then it holds no thread.
# https://docs.gunicorn.org/en/stable/deploy.html
REQUEST_HEADERS_TIMEOUT = Setting("REQUEST_HEADERS_TIMEOUT", 10.0)
REQUEST_BODY_MIN_RATE = Setting("REQUEST_BODY_MIN_RATE", 25000.0)
