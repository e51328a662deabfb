"""Schedule: run the map over every task, in this process (loading the next task on a thread while this one
converts) or in a process pool, skipping tasks whose shard is already complete on --resume, and stopping once
the tasks 0..k in order hold --max-samples clips."""
from __future__ import annotations

from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable, Iterator, Optional

from amass_fast.io import workers
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
    """Pool workers run one task each at a time: one kernel thread each, so workers do not oversubscribe."""
    from amass_fast.kernels import set_num_threads

    set_num_threads(1)


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
    # A stop (Ctrl-C, SIGTERM, SIGHUP) or an error ends the workers at once (workers.process_pool): what a worker
    # was writing is only a temporary file, which --resume removes; a shard is only ever whole under its final name.
    with workers.process_pool(jobs, initializer=_init_worker) as pool:
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
    return [infos[i] for i in sorted(infos)]
