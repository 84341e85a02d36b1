"""Fixed-window rate limits in Redis, for the public forms of a demo site.

Counters live in Redis (shared by every web dyno and gunicorn process) and expire on their
own. If Redis is unreachable the limit is skipped: abuse protection must not take the site
down with it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render
from redis.exceptions import RedisError

from queues import redis_client

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponseBase]


def client_ip(request: HttpRequest) -> str:
    # Heroku's router appends the address it saw to X-Forwarded-For; earlier entries come
    # from the client and can be forged, so only the last one counts.
    forwarded = request.headers.get("X-Forwarded-For", "")
    return forwarded.split(",")[-1].strip() or request.META.get("REMOTE_ADDR", "unknown")


def rate_limited(scope: str, *, by: str = "ip") -> Callable[[View], View]:
    """Answer 429 to POSTs past settings.RATE_LIMITS[scope], counted per client IP or per user."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method == "POST":
                limit, per_seconds = settings.RATE_LIMITS[scope]
                per_user = by == "user" and request.user.is_authenticated
                who = f"user:{request.user.pk}" if per_user else client_ip(request)
                if _over_limit(f"ratelimit:{scope}:{who}", limit, per_seconds):
                    response = render(
                        request,
                        "web/rate_limited.html",
                        {"minutes": max(1, per_seconds // 60)},
                        status=429,
                    )
                    response["Retry-After"] = str(per_seconds)
                    return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _over_limit(key: str, limit: int, per_seconds: int) -> bool:
    window = int(time.time() // per_seconds)
    count: int
    try:
        redis = redis_client.connection()
        with redis.pipeline() as pipe:
            pipe.incr(f"{key}:{window}")
            pipe.expire(f"{key}:{window}", per_seconds)
            count, _ = pipe.execute()
    except RedisError as error:
        logger.warning("rate limit %s not checked, Redis unreachable: %s", key, error)
        return False
    return count > limit
