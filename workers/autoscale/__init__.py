"""Judoscale, when its add-on's JUDOSCALE_URL is set: settings.py installs this app only then.

Each web and worker process reports every 10 s, from a thread of judoscale's reporter. A
worker dyno's report comes from rqworker-pool's parent (its workers are forked after the
reporter started, so there is one per dyno): each queue's latency (the age of its oldest waiting
job) and depth for `high`, `default` and `low`. The web reports the same queues, as judoscale's
own Django/RQ integration does, so latency keeps arriving while no worker dyno runs, and how
long each request waited in Heroku's router, from judoscale's middleware (first in MIDDLEWARE).
judoscale leaves the queues out of the reports of every dyno after the first of its type
(worker.2, web.2, ...), which would only repeat them, and runs no reporter in one-off and
release dynos.

judoscale's own RQ collector is not used: it fetches each queue's oldest job with rq's default
serializer, pickle, so it would unpickle fields of a job hash from Redis (this project's jobs
are JSON, and nothing is ever unpickled), and its `rq` extra requires rq below 3.0. Latency is
read here as /healthz reads it, without deserialising anything (queues/latency.py).
"""
