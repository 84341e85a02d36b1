"""One Redis client per process for everything the web and the jobs ask of Redis.

django-rq builds a new client (and so a new TLS connection to Heroku Redis) on every
get_queue() call; with gunicorn threads that alone could exhaust Heroku Redis mini's 20
connections. redis-py clients are thread-safe and reconnect after a fork.

Every call made through it fails fast: Redis answers in a millisecond or two when it is well,
and a request must not wait out a hung or unreachable Redis (redis-py's defaults retry three
times with backoff, which made an upload wait 28 s). Queueing that fails leaves its row for the
sweeper, a rate limit is skipped, /healthz reports it. rq's workers make their own connections,
with the long read timeout their blocking dequeue needs.

Inside a Procfile worker (workers.runtime.InProcessWorker) the jobs run in the worker's own
process and thread, and the worker's connection sits idle while they do: there connection()
lends the jobs that connection (lend_worker_pool) instead of opening one more per worker. A
loan is fail-fast like the client above (0.5 s to connect and per reply, no retries), and the
worker gets its connection back with its own settings: the long read timeout for BLPOP and
redis-py's retries. redis-py has no per-call timeout, so the loan sets the socket's timeout
when it hands the connection out and puts it back when the command (or pipeline) returns it.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

import django_rq
from django.conf import settings
from redis import Redis
from redis.backoff import NoBackoff
from redis.connection import Connection, ConnectionPool
from redis.retry import Retry
from rq import Queue

# Seconds to connect, and to wait for any one reply; two calls in a request then cost at most a
# second when Redis hangs.
TIMEOUT_SECONDS = 0.5


def connection(queue_name: str = "default") -> Redis:
    if _loan is not None and _loan[0] == os.getpid():
        return _loan[1]
    config = settings.RQ_QUEUES[queue_name]
    return _client(config["URL"], config.get("SSL_CERT_REQS", "required"))


def queue(name: str) -> Queue:
    """The named queue on this client, enqueueing at once (callers only enqueue after their commit).

    Named apart from django_rq.get_queue, which makes a client of its own on every call.
    """
    return django_rq.get_queue(name, connection=connection(name), commit_mode="auto")


@lru_cache(maxsize=8)
def _client(url: str, ssl_cert_reqs: str | None) -> Redis:
    options: dict[str, Any] = {
        "socket_timeout": TIMEOUT_SECONDS,
        "socket_connect_timeout": TIMEOUT_SECONDS,
        "retry": Retry(NoBackoff(), 0),
    }
    if url.startswith("rediss://"):
        options["ssl_cert_reqs"] = ssl_cert_reqs
    return Redis.from_url(url, **options)


# --- Lending a worker's connection to its jobs ------------------------------------------------

NO_RETRY = Retry(NoBackoff(), 0)
# (pid, client): set only in a worker process, while it works; a fork (rq's scheduler) ignores it.
_loan: tuple[int, Redis] | None = None


class _Lending(threading.local):
    # True while this thread takes a connection for a loan: a connection made or remade then
    # connects fail-fast too.
    active = False


_lending = _Lending()


class _WhileLent[Value]:
    """A connection setting that is `lent_value` while the connection is lent, its own otherwise."""

    def __init__(self, lent_value: Value) -> None:
        self.lent_value = lent_value

    def __set_name__(self, owner: type, name: str) -> None:
        # Where redis-py keeps its own value: its __init__ writes the timeouts' there directly.
        self.own = f"_{name}"

    def __get__(self, connection: LendableConnection, owner: type | None = None) -> Value:
        if connection._fail_fast():
            return self.lent_value
        own: Value = getattr(connection, self.own)
        return own

    def __set__(self, connection: LendableConnection, value: Value) -> None:
        setattr(connection, self.own, value)


class LendableConnection(Connection):
    """A worker's connection that is fail-fast while lent to a job (`lent`), and the worker's otherwise."""

    lent = False
    socket_timeout = _WhileLent[float | int | None](TIMEOUT_SECONDS)
    socket_connect_timeout = _WhileLent[float | int | None](TIMEOUT_SECONDS)
    retry = _WhileLent[Retry](NO_RETRY)

    def _fail_fast(self) -> bool:
        return self.lent or _lending.active

    def set_current_timeout(self) -> None:
        # A connected socket keeps the timeout it was given at connect: set it for who holds it now.
        sock = self._sock
        if sock is not None and sock.gettimeout() != 0:  # 0: redis-py is mid can_read()
            sock.settimeout(self.socket_timeout)


_LENDABLE_CLASSES: dict[type[Connection], type[Connection]] = {}


def _lendable_class(connection_class: type[Connection]) -> type[Connection]:
    """The pool's connection class (TCP, or TLS for Heroku's rediss://) with LendableConnection's switch."""
    if issubclass(connection_class, LendableConnection):
        return connection_class
    if connection_class not in _LENDABLE_CLASSES:
        name = f"Lendable{connection_class.__name__}"
        _LENDABLE_CLASSES[connection_class] = type(name, (LendableConnection, connection_class), {})
    return _LENDABLE_CLASSES[connection_class]


class FailFastLoan:
    """A view of a worker's connection pool that lends its connections fail-fast.

    Anything else (encoder, protocol, connection_kwargs) is the pool's own.
    """

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)

    def get_connection(self, *args: Any, **kwargs: Any) -> Connection:
        _lending.active = True
        try:
            lent = self.pool.get_connection(*args, **kwargs)
        finally:
            _lending.active = False
        if isinstance(lent, LendableConnection):
            lent.lent = True
            lent.set_current_timeout()
        return lent

    def release(self, lent: Connection) -> None:
        if isinstance(lent, LendableConnection):
            lent.lent = False
            lent.set_current_timeout()
        self.pool.release(lent)


def make_lendable(worker_connection: Redis) -> None:
    """Make every connection `worker_connection`'s pool hands out lendable (those it has are dropped)."""
    pool = worker_connection.connection_pool
    lendable = _lendable_class(pool.connection_class)
    if pool.connection_class is not lendable:
        pool.connection_class = lendable
        pool.reset()


def lend_worker_pool(worker_connection: Redis) -> Redis:
    """From now on connection() in this process lends `worker_connection`'s; returns the jobs' client."""
    global _loan
    make_lendable(worker_connection)
    pool = worker_connection.connection_pool
    client = Redis(connection_pool=FailFastLoan(pool))  # type: ignore[arg-type]
    _loan = (os.getpid(), client)
    return client


def end_loan() -> None:
    global _loan
    _loan = None
