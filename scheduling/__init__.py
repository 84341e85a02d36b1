"""The schedule: recurring jobs declared in code, queued by the one worker dyno holding a lease in Redis."""
