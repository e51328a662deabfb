"""Schedule: run the map over every task, in this process (loading the next task on a thread while this one
converts) or in a process pool, skipping tasks whose shard is already complete on --resume, and stopping once
the tasks 0..k in order hold --max-samples clips."""
from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from amass_fast.outputs import writers
from amass_fast.process import mapping
from amass_fast.process.mapping import LoadedTask, MapOptions, load_task, map_task
from amass_fast.process.plan import Task, task_sources

BACKENDS = ("auto", "cpp", "cuda", "numba", "reference")


def resolve_backend(requested: str) -> str:
    """--backend as the kernels define it (amass_fast.kernels.resolve_backend: "auto" is cuda where a GPU is usable,
    else cpp, numba, reference); a named backend that cannot run here is a ValueError saying why."""
    from amass_fast import kernels

    try:
        return kernels.resolve_backend(requested, data_on="any", op="--backend")
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None


def _init_worker() -> None:
    """Pool workers run one task each at a time: one kernel thread each, so workers do not oversubscribe. SIGTERM
    and SIGHUP end a worker at once (the default), whatever handler the parent had when it forked: the parent stops
    them (stop_workers), and a shard is only ever whole under its final name."""
    from amass_fast.kernels import set_num_threads

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    set_num_threads(1)


def stop_workers(pool: ProcessPoolExecutor, workers: Iterable = (), grace_s: float = 5.0) -> None:
    """End a pool now (on Ctrl-C, SIGTERM or SIGHUP, or an error): queued tasks cancelled, every worker terminated
    (killed if it has not ended within ``grace_s``), so none lives on writing shards. What a worker was writing is
    only a temporary file, which --resume removes. ``workers`` are the pool's processes (pool_workers)."""
    processes = list(workers)
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


def pool_workers(before: set) -> list:
    """The worker processes of a pool started after ``before`` (multiprocessing.active_children() taken just before
    the pool was made): the pool's workers are this process's only children started since, and the public
    active_children() lists them without reaching into the executor's private state."""
    return [p for p in multiprocessing.active_children() if p not in before]


def _finish(loaded: LoadedTask, opts: MapOptions, work_dir: Path) -> dict:
    """finish_task, looked up on amass_fast.process.mapping when called, so that replacing it there takes effect."""
    return mapping.finish_task(loaded, opts, str(work_dir))


def execute(tasks: Iterator[Task], opts: MapOptions, work_dir: Path, *, jobs: int = 1, resume: bool = False,
            max_samples: Optional[int] = None, on_done: Callable[[dict], None] = lambda info: None) -> list[dict]:
    """Map every task to its shard in ``work_dir`` (a process pool when jobs > 1), skipping complete shards on
    resume, and stopping once the tasks 0..k in order hold ``max_samples`` clips. Returns task infos in order."""
    infos: dict[int, dict] = {}
    prefix = [0, 0]  # tasks 0..prefix[0]-1 are done and hold prefix[1] clips

    def record(info: dict) -> None:
        infos[info["task"]] = info
        while prefix[0] in infos:
            prefix[1] += infos[prefix[0]]["clips"]
            prefix[0] += 1
        on_done(info)

    def enough() -> bool:
        return max_samples is not None and prefix[1] >= max_samples

    def existing(task: Task) -> Optional[dict]:
        info = writers.shard_summary(work_dir / task.shard_name) if resume else None
        if info is None or info.get("task") != task.index or info.get("sources") != task_sources(task):
            return None
        return info

    if jobs <= 1:
        # One process: a thread loads the next task while this one converts and writes (file reads, zlib's CRC
        # check and the C++ kernels release the GIL), so a run costs about max(load, convert), not their sum.
        with ThreadPoolExecutor(1) as loader:
            queued: deque = deque()  # loads in flight, in task order
            for task in tasks:
                if enough():
                    break
                info = existing(task)
                if info is None:
                    queued.append(loader.submit(load_task, task, opts))
                while queued and (info is not None or len(queued) > 1):
                    record(_finish(queued.popleft().result(), opts, work_dir))
                if info is not None:
                    record(info)
            while queued and not enough():
                record(_finish(queued.popleft().result(), opts, work_dir))
        return [infos[i] for i in sorted(infos)]

    parent_converts = opts.backend == "cuda"  # workers load; the one device converts in the parent
    work = load_task if parent_converts else map_task
    args = () if parent_converts else (str(work_dir),)
    children_before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(jobs, initializer=_init_worker)
    try:
        pending = set()

        def collect(limit: int) -> None:
            """Wait until fewer than ``limit`` tasks are in flight, recording those that finish."""
            nonlocal pending
            while len(pending) >= limit:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    record(_finish(result, opts, work_dir) if parent_converts else result)

        for task in tasks:
            if enough():
                break
            info = existing(task)
            if info is not None:
                record(info)
                continue
            collect(2 * jobs)  # bound the tasks in flight (and the member bytes they carry)
            pending.add(pool.submit(work, task, opts, *args))
        collect(1)
    except BaseException:
        stop_workers(pool, pool_workers(children_before))
        raise
    pool.shutdown(wait=True)
    return [infos[i] for i in sorted(infos)]
