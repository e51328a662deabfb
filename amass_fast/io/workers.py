"""Worker pools that end with their caller.

When the thread that waits on a pool stops (Ctrl-C, SIGTERM or SIGHUP raised there, or an error), queued work is
cancelled, worker processes are terminated and worker threads are told to stop at their next chunk (``stop``, an
Event they check), so no worker lives on writing after the command has ended. What a worker was writing is only a
temporary file (amass_fast.io.atomic), which the next run removes or resumes from.

    with process_pool(jobs, initializer=...) as pool: ...   # process, verify
    with thread_pool(jobs, stop) as pool: ...                # extract, download
"""
from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, Optional

from amass_fast.io.stops import STOP_SIGNALS


class Cancelled(Exception):
    """Raised in a worker thread that finds its pool's ``stop`` set: its caller has stopped."""


def check(stop: Optional[threading.Event], what: str) -> None:
    """Raise Cancelled (naming ``what``) when ``stop`` is set: a worker thread calls this once per chunk."""
    if stop is not None and stop.is_set():
        raise Cancelled(f"{what}: stopped before it was finished")


def _start_worker(initializer: Optional[Callable[[], None]]) -> None:
    """In each worker process: SIGTERM and SIGHUP end it at once (the default), whatever handler the parent had
    when it forked; the parent terminates its workers itself (stop_processes). Then ``initializer``."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    if initializer is not None:
        initializer()


def stop_processes(pool: ProcessPoolExecutor, processes: Iterable, grace_s: float = 5.0) -> None:
    """End ``pool`` now: queued tasks cancelled, each of ``processes`` (its workers) terminated, killed if it has
    not ended within ``grace_s``."""
    processes = list(processes)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    deadline = time.monotonic() + grace_s
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1.0)


@contextlib.contextmanager
def process_pool(jobs: int, initializer: Optional[Callable[[], None]] = None) -> Iterator[ProcessPoolExecutor]:
    """A ProcessPoolExecutor of ``jobs`` workers (``initializer``: a module-level function each runs first). The
    block ending normally waits for its tasks; ending by an exception (KeyboardInterrupt and the stop signals
    included) terminates the workers (stop_processes) and lets the exception go on."""
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=(initializer,))
    try:
        yield pool
    except BaseException:
        # The pool's workers are this process's only children started since `before`: the public
        # active_children() lists them without reaching into the executor's private state.
        stop_processes(pool, [p for p in multiprocessing.active_children() if p not in before])
        raise
    pool.shutdown(wait=True)


@contextlib.contextmanager
def thread_pool(jobs: int, stop: threading.Event, name: str) -> Iterator[ThreadPoolExecutor]:
    """A ThreadPoolExecutor of ``jobs`` threads named ``name``-N whose work checks ``stop`` once per chunk (check).
    The block ending by an exception sets ``stop``, cancels what has not started and waits only for the running
    work to reach its next check."""
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix=name)
    try:
        yield pool
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


__all__ = ["Cancelled", "check", "process_pool", "stop_processes", "thread_pool"]
