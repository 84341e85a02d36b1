"""gunicorn settings for the web dyno, sized for Heroku's router and shutdown limits.

https://docs.gunicorn.org/en/stable/settings.html
https://devcenter.heroku.com/articles/python-gunicorn
"""

from __future__ import annotations

import os

# Heroku routes to $PORT; 8000 for a local `gunicorn project.wsgi`.
bind = f"[::]:{os.environ.get('PORT', '8000')}"

# The buildpack sets WEB_CONCURRENCY from the dyno's memory (2 on a standard-1X).
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads let a worker serve other requests while one waits on Postgres or an upload.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# Heroku's router gives up after 30 s (H12); end the request first so the log says why.
timeout = 25
# Heroku sends SIGKILL 30 s after SIGTERM; finish in-flight requests well before.
graceful_timeout = 20
# The router holds connections open for up to 55 s between requests.
keepalive = 60

# Heroku's router is the only client and sets X-Forwarded-* for every request.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
accesslog = "-"
errorlog = "-"
