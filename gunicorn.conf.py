"""gunicorn settings for the web dyno, sized for Heroku's router and shutdown limits.

https://docs.gunicorn.org/en/stable/settings.html
https://devcenter.heroku.com/articles/python-gunicorn
"""

from __future__ import annotations

import os
from typing import Any

# Heroku routes to $PORT; 8000 for a local `gunicorn project.wsgi`.
bind = f"[::]:{os.environ.get('PORT', '8000')}"

# The buildpack sets WEB_CONCURRENCY from the dyno's memory (2 on a standard-1X).
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads let a worker serve other requests while one waits on Postgres.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# gunicorn's threaded worker, except that a request reaches a thread only once it has arrived
# in full, within the bounds of REQUEST_HEADERS_TIMEOUT, REQUEST_BODY_MIN_RATE and
# REQUEST_MAX_BYTES: slow or stalled clients (Heroku's router does not buffer request bodies)
# wait in the event loop, not in a thread. See web/gunicorn_worker.py.
worker_class = "web.gunicorn_worker.BufferingThreadWorker"
# Connections one worker holds at once, waiting ones included (gunicorn's default).
worker_connections = 1000

# Heroku's router gives up after 30 s (H12); end the request first so the log says why.
timeout = 25
# Heroku sends SIGKILL 30 s after SIGTERM; finish in-flight requests well before.
graceful_timeout = 20
# Above the 90 s for which Heroku's Router 2.0 keeps an idle connection to the dyno, so the
# router, not gunicorn, closes it (heroku/python-getting-started uses 95 too). A new connection
# that sends nothing is closed after as long.
# https://devcenter.heroku.com/articles/http-routing#keepalives
keepalive = 95

# Heroku's router is the only client and sets X-Forwarded-* for every request.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# gunicorn 27's control socket (for gunicornc) defaults to one path per user: every gunicorn a
# user starts on a machine (dev.py, tests in parallel) would take it from the one before, and a
# dyno has no use for it. https://docs.gunicorn.org/en/stable/settings.html#control-socket-disable
control_socket_disable = True
accesslog = "-"
errorlog = "-"


def post_worker_init(worker: Any) -> None:
    # gunicorn logs "Booting worker" at the fork; this says when the app is loaded and the worker
    # takes requests (the tests wait for it before measuring a worker's memory).
    worker.log.info("Worker ready (pid: %s)", worker.pid)
