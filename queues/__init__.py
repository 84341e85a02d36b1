"""Redis and the rq queues: `REDIS_URL` → the queues, the per-process Redis client, `@job`,
Django's Tasks on rq, and waiting out Redis errors."""
