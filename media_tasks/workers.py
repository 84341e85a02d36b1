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
connection opened again. For thumbnails that was a fifth of a job's time (docs/performance.md).
InProcessWorker runs jobs in the worker process and keeps what isolation matters on a dyno: the
pool starts a new worker when one dies, a worker whose memory has grown past WORKER_MAX_RSS_MB
retires after its job, and database connections are checked between jobs as Django does
between requests.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import threading
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from rq.exceptions import ShutDownImminentException
from rq.job import Job
from rq.queue import Queue
from rq.worker import HerokuWorker as RQHerokuWorker
from rq.worker import SimpleWorker

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
# Like rq's HerokuWorker: after SIGTERM a running job has this long to finish, then it is
# interrupted and retried, well inside the 30 s Heroku waits before its SIGKILL.
IMMINENT_SHUTDOWN_DELAY_SECONDS = 6
MIB = 1024 * 1024


def resident_mib() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB
    except OSError:  # not Linux (a developer's Mac): the peak is the nearest figure there
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / MIB if sys.platform == "darwin" else peak / 1024


class StopSignalsInMainThread:
    def subscribe(self) -> None:
        # A new thread inherits the signal mask of the thread that starts it: block the stop
        # signals just while rq starts its listener, so that the listener never receives them.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            super().subscribe()  # type: ignore[misc]
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class HerokuWorker(StopSignalsInMainThread, RQHerokuWorker):
    """rq's HerokuWorker (a work horse per job; SIGTERM: the job runs on for 6 s, then is retried)."""


class InProcessWorker(StopSignalsInMainThread, SimpleWorker):
    """Runs each job in the worker process; on SIGTERM a job gets 6 s, then is interrupted and retried."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._interrupt_timer: threading.Timer | None = None
        self._running_job = False

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
        signal.signal(signal.SIGRTMIN, self._interrupt_job)
        main_thread = threading.main_thread().ident
        self._interrupt_timer = threading.Timer(delay, signal.pthread_kill, args=(main_thread, signal.SIGRTMIN))
        self._interrupt_timer.daemon = True
        self._interrupt_timer.start()

    def _interrupt_job(self, signum: int, frame: Any) -> None:
        if self._running_job:
            # What rq's HerokuWorker raises in its work horse: rq records the job as failed and
            # retries it by its Retry; the services hand back their claims on the way out.
            raise ShutDownImminentException(f"shut down imminent (after {IMMINENT_SHUTDOWN_DELAY_SECONDS} s)", {})

    def _retire_if_grown(self) -> None:
        # Pillow and the allocator keep memory a big image needed; a fresh process gives it back.
        rss_mib = resident_mib()
        if rss_mib > settings.WORKER_MAX_RSS_MB and not self._stop_requested:
            self.log.info(
                "Worker %s: %.0f MiB resident, over WORKER_MAX_RSS_MB=%d; retiring so the pool starts a fresh one",
                self.name,
                rss_mib,
                settings.WORKER_MAX_RSS_MB,
            )
            self._stop_requested = True
