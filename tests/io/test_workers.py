"""Worker pools end with their caller (amass_fast.io.workers): a stop in the waiting thread ends worker processes
and worker threads at once; a normal end waits for the work. The commands that use them (process, verify,
extract, download) are stopped by signals in the hostile corpus (groups faults and download)."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from amass_fast.io import workers


def _sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _stop_handler() -> bool:
    return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_normal_end_waits_for_every_task():
    with workers.process_pool(2) as pool:
        futures = [pool.submit(_sleep, 0.05) for _ in range(4)]
    assert all(f.done() for f in futures) and all(f.result() != os.getpid() for f in futures)


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="POSIX signals")
def test_workers_take_the_default_stop_handler_whatever_the_parent_has():
    previous = signal.signal(signal.SIGTERM, lambda *a: None)
    try:
        with workers.process_pool(1) as pool:
            assert pool.submit(_stop_handler).result(timeout=60)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_stop_in_the_caller_ends_worker_processes_at_once():
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with workers.process_pool(2) as pool:
            pids = [pool.submit(_sleep, 0.0).result(timeout=60)]  # the workers exist
            pending = [pool.submit(_sleep, 120.0) for _ in range(4)]
            time.sleep(0.2)
            raise KeyboardInterrupt
    assert time.monotonic() - started < 30  # not the 120 s of the tasks
    assert not any(f.done() and not f.cancelled() and f.exception() is None for f in pending)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_stop_in_the_caller_ends_worker_threads_at_their_next_check():
    stop = threading.Event()
    chunks = []

    def work() -> None:
        while True:
            workers.check(stop, "the member")
            chunks.append(1)
            time.sleep(0.01)

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with workers.thread_pool(2, stop, "test") as pool:
            running = pool.submit(work)
            queued = [pool.submit(work) for _ in range(3)]  # one runs, two never start
            time.sleep(0.1)
            raise KeyboardInterrupt
    assert stop.is_set() and time.monotonic() - started < 5
    with pytest.raises(workers.Cancelled, match="the member: stopped"):
        running.result()
    assert sum(f.cancelled() for f in queued) >= 2
    count = len(chunks)
    time.sleep(0.05)
    assert len(chunks) == count  # nothing runs on


def test_check_passes_until_stop_is_set():
    stop = threading.Event()
    workers.check(stop, "x")
    workers.check(None, "x")
    stop.set()
    with pytest.raises(workers.Cancelled, match="x: stopped before it was finished"):
        workers.check(stop, "x")
