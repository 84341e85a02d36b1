"""The Procfile's worker classes: rq's, made to stop cleanly on a dyno and, for the pool, not to fork per job.

Stop signals. An rq worker has a second thread, which listens on Redis pub/sub for dashboard
commands. The kernel may deliver a signal sent to the process to any thread that does not block
it, and Python runs handlers only in the main thread, when that thread next executes Python
code. An idle worker's main thread is blocked in Redis's BLPOP for up to 405 s, so a SIGTERM
that lands on the listener thread is not acted on until a job arrives. On a dyno running
rqworker-pool this left idle workers running in about half the stops measured
(bench/worker_shutdown.py): they ran on until Heroku's SIGKILL 30 s later. Blocking SIGTERM and
SIGINT in the listener thread leaves the main thread as the only one to take them.

Forking. rq's Worker forks a work horse for every job. That isolates a crash or a leak to one
job, but costs each job a new process: its memory is faulted in afresh and its database
connection opened again: a large share of a short job's time (a fifth, measured with the demo;
docs/performance.md).
InProcessWorker runs jobs in the worker process and keeps what isolation matters on a dyno: the
pool starts a new worker when one dies, a worker whose memory has grown past WORKER_MAX_RSS_MB
retires after its job, and database connections are checked between jobs as Django does
between requests.

Redis errors. rq's work loop rides out only a refused connection while it waits for a job; any
other Redis error (a full Redis refusing writes under noeviction, a reply timing out, a
transaction aborted) ends the worker with "unhandled exception, quitting", and a worker that
cannot register at start dies at once, so the pool replaced them in a tight loop (hundreds of
tracebacks a minute while Redis was full). These workers wait instead: one log line per
failure, 1 s doubling to REDIS_RETRY_MAX_SECONDS, and carry on in the same process.

Connections. Each worker holds two Redis connections: its own (BLPOP between jobs, rq's
bookkeeping, and the jobs' calls, queues/redis_client.py lends it to them fail-fast while the
worker waits on the job), and rq's pub/sub listener, through which the dashboard's "stop job"
and rq's shutdown commands reach it (a message published while no one listens is lost). rq's
scheduler object asks for its queue locks with the worker's connection too; the scheduler
process it starts has its own, being a process of its own. rq alone would open two more per
worker: one for the jobs and one for the locks, each kept for good.

Heartbeats. An idle rq worker blocks in BLPOP for worker_ttl - 15 s and renews its heartbeat
only then: 405 s with rq's default, so a monitor could not tell an idle worker from a dead one.
These workers default to WORKER_TTL_SECONDS (60): a heartbeat every 45 s. rq writes the
worker's record and its place in the worker registry only at start; after a FLUSHALL or a
Redis restart the worker ran on unseen. Each heartbeat here writes both again.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sys
import threading
from typing import Any

from django.db import close_old_connections
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import worker_registration
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import ShutDownImminentException, StopRequested
from rq.job import Job
from rq.logutils import setup_loghandlers
from rq.queue import Queue
from rq.scheduler import RQScheduler
from rq.scripts import acquire_or_refresh_lock
from rq.utils import get_connection_from_queues
from rq.worker import HerokuWorker as RQHerokuWorker
from rq.worker import SimpleWorker, WorkerStatus
from rq.worker.base import DequeueStrategy

from queues import conf as queues_conf
from queues import redis_client
from queues.backoff import RedisBackoff
from workers import conf

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
# Like rq's HerokuWorker: after SIGTERM a running job has this long to finish, then it is
# interrupted and retried, well inside the 30 s Heroku waits before its SIGKILL.
IMMINENT_SHUTDOWN_DELAY_SECONDS = 6
# Sent to the worker's own main thread to interrupt a job; macOS has no real-time signals.
INTERRUPT_SIGNAL = getattr(signal, "SIGRTMIN", signal.SIGUSR2)
MIB = 1024 * 1024


def resident_mib() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB
    except OSError:  # not Linux (a developer's Mac): the peak is the nearest figure there
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / MIB if sys.platform == "darwin" else peak / 1024


class WorkerScheduler(RQScheduler):
    """rq's scheduler, asking for its locks in the worker with the worker's own connection.

    rq's makes a client of its own for that in the worker process, and keeps its connection
    open between the lock requests (at start, then every 10 minutes). The scheduler process it
    forks (start()) still connects on its own: a process cannot share a socket with another.
    """

    def __init__(self, *args: Any, worker_connection: Redis, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._worker_connection = worker_connection
        self._worker_pid = os.getpid()

    @property
    def connection(self) -> Redis:
        if os.getpid() == self._worker_pid:
            return self._worker_connection
        return super().connection  # type: ignore[no-any-return]

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        """rq's, but one queue's lock (the first by name) decides for them all.

        rq takes each queue's lock on its own, so a pool's workers starting at once could split
        them and each start a scheduler process, one Redis connection more: the worker that
        holds (or takes) that lock takes the rest, the others none.
        """
        first = self.get_locking_key(min(self._queue_names))
        if acquire_or_refresh_lock(self.connection, first, self.name, self.interval + 60) == "taken":
            self._acquired_locks = set()
            self._scheduled_job_registries = []
            return set()
        acquired: set[str] = super().acquire_locks(auto_start)  # type: ignore[no-untyped-call]  # unannotated in rq
        return acquired


class StopSignalsInMainThread:
    def subscribe(self) -> None:
        # A new thread inherits the signal mask of the thread that starts it: block the stop
        # signals just while rq starts its listener, so that the listener never receives them.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            super().subscribe()  # type: ignore[misc]
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class RidesOutRedisErrors:
    """rq's worker loop, but a Redis error means wait and carry on, not exit (see the module docstring)."""

    # rq's own wait when a dequeue cannot connect: capped like everything else here.
    exponential_backoff_factor = 2.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not kwargs.get("worker_ttl"):
            kwargs["worker_ttl"] = conf.WORKER_TTL_SECONDS()
        super().__init__(*args, **kwargs)
        self.max_connection_wait_time = queues_conf.REDIS_RETRY_MAX_SECONDS()

    def _set_ip_address(self, connection: Any) -> None:
        # rq names its connection and reads its address while the worker is built: without
        # Redis the worker process would die before its loop could wait.
        try:
            super()._set_ip_address(connection)  # type: ignore[misc]
        except RedisError:
            self.ip_address = "unknown"

    def work(
        self,
        burst: bool = False,
        logging_level: str | None = None,
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
        max_jobs: int | None = None,
        max_idle_time: int | None = None,
        with_scheduler: bool = False,
        dequeue_strategy: DequeueStrategy = DequeueStrategy.DEFAULT,
    ) -> bool:
        """rq 3.0's BaseWorker.work, with a RedisError anywhere followed by a wait instead of an exit."""
        worker: Any = self
        backoff = RedisBackoff(worker.log, f"Worker {worker.name}")
        worker._dequeue_strategy = dequeue_strategy
        completed_jobs = 0
        # Before the start-up (rq installs them after it), so a stop while Redis is away is heard.
        worker._install_signal_handlers()
        try:
            self._start_up(backoff, logging_level, date_format, log_format)
            if with_scheduler:
                try:
                    worker._start_scheduler(burst, logging_level, date_format, log_format)
                except RedisError as error:
                    # The worker's maintenance tries again; the sweeper moves overdue retries meanwhile.
                    worker.log.warning("Worker %s: scheduler not started: %s", worker.name, error)
            while True:
                try:
                    worker.check_for_suspension(burst)
                    self._restart_dead_scheduler()
                    if worker.should_run_maintenance_tasks:
                        worker.run_maintenance_tasks()
                    if worker._stop_requested:
                        worker.log.info("Worker %s: stopping on request", worker.name)
                        break
                    timeout = None if burst else worker.dequeue_timeout
                    result = worker.dequeue_job_and_maintain_ttl(timeout, max_idle_time)
                    backoff.succeeded()
                    if result is None:
                        if burst:
                            worker.log.info("Worker %s: done, quitting", worker.name)
                        elif max_idle_time is not None:
                            worker.log.info("Worker %s: idle for %d seconds, quitting", worker.name, max_idle_time)
                        break
                    job, queue = result
                    worker.execute_job(job, queue)
                    worker.heartbeat()
                    completed_jobs += 1
                    if max_jobs is not None and completed_jobs >= max_jobs:
                        worker.log.info("Worker %s: finished executing %d jobs, quitting", worker.name, completed_jobs)
                        break
                except RedisError as error:
                    # A job taken when Redis failed keeps its row pending or claimed: the
                    # sweeper queues it again (work/claims.py).
                    backoff.failed(error)
                except (StopRequested, SystemExit):
                    raise
                except Exception:
                    worker.log.error("Worker %s: found an unhandled exception, quitting...", worker.name, exc_info=True)
                    break
        except StopRequested:
            pass
        finally:
            self.teardown()
        return bool(completed_jobs)

    def _start_up(self, backoff: RedisBackoff, logging_level: str | None, date_format: str, log_format: str) -> None:
        """rq's bootstrap, each step retried until Redis takes it."""
        worker: Any = self
        setup_loghandlers(logging_level, date_format, log_format, name="rq.worker")
        setup_loghandlers(logging_level, date_format, log_format, name="rq.job")
        steps = [
            self._register_birth_once,
            worker.subscribe,
            lambda: worker.set_state(WorkerStatus.STARTED),
        ]
        for step in steps:
            while True:
                try:
                    step()
                    break
                except RedisError as error:
                    backoff.failed(error)
        backoff.succeeded()
        worker.log.info(
            "Worker %s: started with PID %d, listening on %s", worker.name, os.getpid(), ", ".join(worker.queue_names())
        )

    def _restart_dead_scheduler(self) -> None:
        # rq's scheduler process (it moves retries to their queue when due) exits on any Redis
        # error, and rq starts it again only at its 10-minute maintenance: start it at once.
        worker: Any = self
        if worker._stop_requested:
            return  # a dyno stop signals the scheduler too; a new one would outlive its worker
        scheduler = worker.scheduler
        if scheduler is not None and scheduler._process is not None and not scheduler._process.is_alive():
            worker.log.info("Worker %s: its scheduler process has stopped; starting it again", worker.name)
            if not scheduler.acquire_locks(auto_start=True):
                scheduler._process = None  # another worker's scheduler holds the queues now

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """rq 3.0's, with WorkerScheduler (the worker's connection for the locks)."""
        worker: Any = self
        worker.scheduler = WorkerScheduler(
            worker.queues,
            connection=worker.connection,
            worker_connection=worker.connection,
            logging_level=logging_level if logging_level is not None else worker.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=worker.serializer,
        )
        worker.scheduler.acquire_locks()
        if worker.scheduler.acquired_locks:
            if burst:
                try:
                    worker.scheduler.register_birth()
                    worker.scheduler.enqueue_scheduled_jobs()
                finally:
                    worker.scheduler.release_locks()
                    worker.scheduler.register_death()
            else:
                worker.scheduler.start()

    def _register_birth_once(self) -> None:
        # "An active worker named ... already" is this worker, whose registration went through
        # although its reply was lost: worker names are unique per process.
        with contextlib.suppress(ValueError):
            super().register_birth()  # type: ignore[misc]

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        worker: Any = self
        if pipeline is not None or worker.birth_date is None:
            # rq's in-job heartbeat (the forking worker) recreates a lost record itself.
            return super().heartbeat(timeout, pipeline)  # type: ignore[misc,no-any-return]
        with worker.connection.pipeline() as beat:
            # The record first, so that the expiry rq sets next applies to it if it was gone.
            beat.hset(worker.key, mapping=worker.serialize())
            super().heartbeat(timeout, beat)  # type: ignore[misc]
            worker_registration.register(worker, beat)
            beat.execute()

    def teardown(self) -> None:
        try:
            super().teardown()  # type: ignore[misc]
        except RedisError as error:
            # Its record expires on its own (worker_ttl + 60 s).
            worker: Any = self
            worker.log.warning("Worker %s: could not record its stop in Redis: %s", worker.name, error)


class HerokuWorker(RidesOutRedisErrors, StopSignalsInMainThread, RQHerokuWorker):
    """rq's HerokuWorker (a work horse per job; SIGTERM: the job runs on for 6 s, then is retried)."""


class InProcessWorker(RidesOutRedisErrors, StopSignalsInMainThread, SimpleWorker):
    """Runs each job in the worker process; on SIGTERM a job gets 6 s, then is interrupted and retried."""

    def __init__(self, worker_queues: Any, *args: Any, **kwargs: Any) -> None:
        # Before rq's start-up connects (and names the connection after the worker).
        connection = kwargs.get("connection") or get_connection_from_queues(worker_queues)
        if connection is not None:
            redis_client.make_lendable(connection)
        super().__init__(worker_queues, *args, **kwargs)
        self._interrupt_timer: threading.Timer | None = None
        self._running_job = False

    def work(self, *args: Any, **kwargs: Any) -> bool:
        # The jobs run in this thread, while the worker's connection waits: they borrow it
        # (queues/redis_client.py) rather than open one of their own.
        redis_client.lend_worker_pool(self.connection)
        try:
            return super().work(*args, **kwargs)
        finally:
            redis_client.end_loan()

    def execute_job(self, job: Job, queue: Queue) -> None:
        # Connections idle past CONN_MAX_AGE or broken (a database restart) are replaced here,
        # not discovered halfway through the next job.
        close_old_connections()
        self._running_job = True
        try:
            super().execute_job(job, queue)
        finally:
            self._running_job = False
            if self._interrupt_timer is not None:
                self._interrupt_timer.cancel()
            close_old_connections()
        self._retire_if_grown()

    def handle_warm_shutdown_request(self) -> None:
        if not self._running_job or self._interrupt_timer is not None:
            return
        delay = IMMINENT_SHUTDOWN_DELAY_SECONDS
        self.log.info("Worker %s: stopping; the running job has %d s to finish", self.name, delay)
        signal.signal(INTERRUPT_SIGNAL, self._interrupt_job)
        main_thread = threading.main_thread().ident
        self._interrupt_timer = threading.Timer(delay, signal.pthread_kill, args=(main_thread, INTERRUPT_SIGNAL))
        self._interrupt_timer.daemon = True
        self._interrupt_timer.start()

    def _interrupt_job(self, signum: int, frame: Any) -> None:
        if self._running_job:
            # What rq's HerokuWorker raises in its work horse: rq records the job as failed and
            # retries it by its Retry; the services hand back their claims on the way out.
            raise ShutDownImminentException(f"shut down imminent (after {IMMINENT_SHUTDOWN_DELAY_SECONDS} s)", {})

    def _retire_if_grown(self) -> None:
        # Native libraries and the allocator keep memory a big job needed; a fresh process gives it back.
        rss_mib = resident_mib()
        max_rss_mb = conf.WORKER_MAX_RSS_MB()
        if rss_mib > max_rss_mb and not self._stop_requested:
            self.log.info(
                "Worker %s: %.0f MiB resident, over WORKER_MAX_RSS_MB=%d; retiring so the pool starts a fresh one",
                self.name,
                rss_mib,
                max_rss_mb,
            )
            self._stop_requested = True
