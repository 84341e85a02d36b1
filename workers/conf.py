"""The workers' settings (workers/runtime.py, rqworker-pool): each default once, read as `conf.NAME()`.

How they are read, and why not django-appconf: queues/conf.py.
"""

from __future__ import annotations

from queues.conf import Setting

# An idle rq worker renews its heartbeat only when its blocking wait (worker_ttl - 15 s) ends:
# 45 s here instead of rq's 405 s, so /healthz can tell an idle worker from a dead one, for one
# BLPOP a queue set per 45 s.
# https://python-rq.org/docs/workers/#worker-ttl
WORKER_TTL_SECONDS = Setting("WORKER_TTL_SECONDS", 60)
# A Procfile worker (workers.runtime.InProcessWorker) that has grown past this after a job
# exits and rqworker-pool starts a fresh one: two must fit a 512 MB dyno beside their parent.
# Measured: 58 MiB idle, 115 MiB at most over four 50 MP jobs in a row (docs/performance.md),
# so this only catches a leak, and bounds a worker to about 220 MiB with a 50 MP job running.
# https://devcenter.heroku.com/articles/dyno-types
WORKER_MAX_RSS_MB = Setting("WORKER_MAX_RSS_MB", 160)
# Workers in each worker dyno's pool: one per core is right for CPU-bound jobs. Like gunicorn's
# WEB_CONCURRENCY, sized per dyno by a config var, not by editing the Procfile.
WORKER_CONCURRENCY = Setting("WORKER_CONCURRENCY", 2)
