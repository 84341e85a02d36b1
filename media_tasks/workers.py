"""The worker class the Procfile runs: rq's HerokuWorker, with its stop signals kept for its main thread.

An rq worker has a second thread, which listens on Redis pub/sub for dashboard commands. The
kernel may deliver a signal sent to the process to any thread that does not block it, and
Python runs handlers only in the main thread, when that thread next executes Python code. An
idle worker's main thread is blocked in Redis's BLPOP for up to 405 s, so a SIGTERM that lands on
the listener thread is not acted on until a job arrives.

On a dyno running rqworker-pool this left idle workers running in about half the stops measured
(bench/worker_shutdown.py): Heroku sends SIGTERM to every process, the pool parent forwards a
SIGINT to each worker, and a worker that received both often reacted to neither. It then ran on
until Heroku's SIGKILL 30 s later, which would take any job it had started with it. Blocking
SIGTERM and SIGINT in the listener thread leaves the main thread as the only one to take them.
"""

from __future__ import annotations

import signal

from rq.worker import HerokuWorker as RQHerokuWorker

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class HerokuWorker(RQHerokuWorker):
    """rq's HerokuWorker (SIGTERM: the job runs on for 6 s, then is interrupted and retried)."""

    def subscribe(self) -> None:
        # A new thread inherits the signal mask of the thread that starts it: block the stop
        # signals just while rq starts its listener, so that the listener never receives them.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            super().subscribe()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
