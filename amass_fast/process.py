"""`amass-fast process`: AMASS sequences in, labelled 25 fps stick-figure clips out (docs/CONVENTIONS.md).

plan -> map -> reduce:

    plan    list the source files (an extracted tree, sorted by relative path; or the members of .tar.bz2
            archives, read in place) and cut them into tasks of --batch-files files, numbered in that order.
    map     one task -> one shard: load and recognise each file, skeletons, windows, ONE convert_batch call,
            labels. It depends only on the task and MapOptions (no global state), so the local process pool here
            or a cluster executor can run it. With the cuda backend, workers load and the parent converts.
    reduce  the shards in task order -> manifest.json (--format shards) or the seed-compatible .pt, the
            errors file and the summary table. --max-samples keeps the first N clips in task order.

Every file appears under its final name only when complete; --resume skips tasks whose shard is complete and was
made from the same files, so a resumed run ends with the same output as an uninterrupted one.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

import numpy as np

from amass_fast import __version__, atomic, writers
from amass_fast.clips import RaggedBatch, Skeletons, min_tail_frames, plan_views, plan_windows
from amass_fast.formats import FormatError, NoMotion, dataset_of, iter_npz_files, load_sequence

BACKENDS = ("auto", "cpp", "cuda", "numba", "reference")
RUN_FILE = "run.json"  # in the work folder: the flags that decide shard contents, checked by --resume
COUNT_KEYS = ("files", "converted", "no_motion", "failed", "frames", "seconds")


@dataclass(frozen=True)
class MapOptions:
    """Everything a map task needs besides its files; equal options give equal shards."""
    dst_fps: float = 25.0
    window: int = 250
    stride: int = 250
    short: str = "pad"
    min_seconds: float = 0.0
    view: str = "front"
    views: int = 1
    body_model: Optional[str] = None
    backend: str = "auto"
    babel: Optional[str] = None
    humanml3d: Optional[str] = None
    seed: int = 0


@dataclass(frozen=True)
class Task:
    """A fixed group of source files: (path relative to the AMASS root, file path or the member's bytes; or an
    archive's name and the error that stopped its reading)."""
    index: int
    items: tuple[tuple[str, Union[str, bytes, Exception]], ...]

    @property
    def shard_name(self) -> str:
        return writers.SHARD_NAME.format(self.index)


@dataclass
class LoadedTask:
    """A task after loading: its sequences in one ragged batch, ready for convert_batch."""
    index: int
    batch: RaggedBatch
    sources: list[str] = field(default_factory=list)  # the task's relative paths, as --resume checks them
    files: list[tuple[str, float, int]] = field(default_factory=list)  # (rel path, fps, frames) per sequence
    counts: dict = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    errors: list[dict] = field(default_factory=list)


# --- map ---------------------------------------------------------------------------------------------------------

def load_task(task: Task, opts: MapOptions) -> LoadedTask:
    """Load and recognise a task's files and plan their clips. Unreadable files are recorded, not raised."""
    skeletons = Skeletons(opts.body_model)
    views = plan_views(opts.view, opts.views)
    loaded = LoadedTask(task.index, RaggedBatch(), task_sources(task))
    for rel, source in task.items:
        loaded.counts["files"] += 1
        try:
            if isinstance(source, Exception):
                raise source
            seq = load_sequence(source, name=rel if isinstance(source, bytes) else None)
            if isinstance(seq, NoMotion):
                loaded.counts["no_motion"] += 1
                continue
            windows = plan_windows(seq.num_frames, seq.fps, dst_fps=opts.dst_fps, window=opts.window,
                                   stride=opts.stride, short=opts.short,
                                   min_length=min_tail_frames(opts.min_seconds, opts.dst_fps))
            rest = skeletons.rest_joints(seq.gender, seq.kind, seq.betas)
        except (FormatError, OSError, ValueError, RuntimeError) as exc:
            loaded.counts["failed"] += 1
            loaded.errors.append({"file": rel, "reason": _reason(exc)})
            continue
        loaded.batch.add(seq.poses, seq.trans, seq.fps, rest, windows, views)
        loaded.files.append((rel, seq.fps, seq.num_frames))
        loaded.counts["converted"] += 1
        loaded.counts["frames"] += seq.num_frames
        loaded.counts["seconds"] += seq.seconds
    return loaded


def finish_task(loaded: LoadedTask, opts: MapOptions, work_dir: str) -> dict:
    """Convert a loaded task in one convert_batch call, label its clips and write its shard; returns its info."""
    batch = loaded.batch
    try:
        motion, failed = batch.convert(dst_fps=opts.dst_fps, window=opts.window, backend=opts.backend), set()
    except (ValueError, RuntimeError, FloatingPointError):
        # One bad sequence must not sink the task: convert one by one to find it.
        motion, failed = _convert_one_by_one(loaded, opts)
    labeler = _labeler(opts.babel, opts.humanml3d, opts.seed)
    clips, actions, rows, label_sources = [], [], [], {}
    labels = {}
    for c, w in enumerate(batch.clip_window):
        seq, window = batch.windows[w]
        if seq in failed:
            continue
        rel, fps, _ = loaded.files[seq]
        start_s = window.start / opts.dst_fps
        if w not in labels:
            labels[w] = labeler.label(rel, start_s, window.length, opts.window, opts.dst_fps, source_fps=fps)
        lab = labels[w]
        rows.append(c)
        actions.append(lab.actions)
        label_sources[lab.source] = label_sources.get(lab.source, 0) + 1
        clips.append({"action": lab.action, "description": lab.description, "dataset": dataset_of(rel),
                      "file": rel, "start_s": round(start_s, 6), "source_fps": fps,
                      "view": batch.clip_view[c].name, "valid_length": window.length, "label_source": lab.source})
    motion = motion[rows] if len(rows) != len(motion) else motion
    actions = np.stack(actions) if actions else np.zeros((0, opts.window), dtype=np.int64)
    info = {"task": loaded.index, "sources": loaded.sources, "counts": loaded.counts, "errors": loaded.errors,
            "label_sources": label_sources}
    writers.write_shard(Path(work_dir, writers.SHARD_NAME.format(loaded.index)), motion, actions, clips, info)
    return {**info, "clips": len(clips)}  # as writers.shard_summary reads it back


def task_sources(task: Task) -> list[str]:
    """The relative paths a task's shard was made from: a shard counts as done for --resume only when they match
    (a file added to or removed from the tree shifts the files of every later task)."""
    return [rel for rel, _ in task.items]


def map_task(task: Task, opts: MapOptions, work_dir: str) -> dict:
    """The whole map for one task (load, convert, label, write the shard)."""
    return finish_task(load_task(task, opts), opts, work_dir)


def _convert_one_by_one(loaded: LoadedTask, opts: MapOptions) -> tuple[np.ndarray, set[int]]:
    """Motion of every clip of the batch (zeros for failed sequences) and the failed sequences, recorded."""
    batch = loaded.batch
    motion = np.zeros((batch.num_clips, opts.window, 20), dtype=np.float32)
    clip_seq = np.array([batch.windows[w][0] for w in batch.clip_window])
    failed = set()
    for s, part in enumerate(batch.split()):
        try:
            motion[clip_seq == s] = part.convert(dst_fps=opts.dst_fps, window=opts.window, backend=opts.backend)
        except (ValueError, RuntimeError, FloatingPointError) as exc:
            failed.add(s)
            rel, fps, frames = loaded.files[s]
            loaded.counts["failed"] += 1
            loaded.counts["converted"] -= 1
            loaded.counts["frames"] -= frames
            loaded.counts["seconds"] -= frames / fps
            loaded.errors.append({"file": rel, "reason": f"{rel}: conversion failed: {_reason(exc)}"})
    return motion, failed


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text if type(exc).__name__ in ("FormatError", "ArchiveError") else f"{type(exc).__name__}: {text}"


@functools.lru_cache(maxsize=4)
def _labeler(babel: Optional[str], humanml3d: Optional[str], seed: int):
    """One Labeler per process and option set (its indexes load lazily, once)."""
    from amass_fast.labels import Labeler

    return Labeler(babel_dir=babel, humanml3d_dir=humanml3d, seed=seed)


# --- plan --------------------------------------------------------------------------------------------------------

def dataset_filter(names: Optional[list[str]]) -> Callable[[str], bool]:
    """Which dataset folders to keep: by folder name or by catalog name (HDM05 keeps MPI_HDM05), any case."""
    if not names:
        return lambda folder: True
    from amass_fast import catalog

    wanted = {n.lower() for n in names}
    known = set()
    for name in names:
        try:
            known.add(catalog.get(name).name)
        except KeyError:  # not an AMASS name: a folder of the user's own
            pass

    def keep(folder: str) -> bool:
        dataset = catalog.by_folder(folder) if folder else None
        return folder.lower() in wanted or (dataset is not None and dataset.name in known)
    return keep


def source_items(amass_root: Optional[str] = None, archives: Optional[str] = None,
                 datasets: Optional[list[str]] = None) -> Iterator[tuple[str, Union[str, bytes, Exception]]]:
    """(path relative to the AMASS root, file path or member bytes) of every .npz, in a fixed order: an extracted
    tree sorted by relative path, or archives sorted by name and their members in archive order."""
    keep = dataset_filter(datasets)
    if amass_root is not None:
        root = Path(amass_root)
        for path in iter_npz_files(root):
            rel = path.relative_to(root).as_posix()
            if keep(dataset_of(rel)):
                yield rel, str(path)
        return
    from amass_fast.archive import ArchiveError, iter_archive_members

    source = Path(archives)
    if source.is_file():
        paths = [source]
    elif source.is_dir():
        paths = sorted(source.glob("*.tar.bz2"))
    else:
        raise FileNotFoundError(f"{source}: no such archive or folder; download archives there first "
                                f"(amass-fast download --out {source})")
    for path in paths:
        folder = _archive_folder(path)
        if folder is not None and not keep(folder):
            continue  # an archive of a dataset that --datasets leaves out: not worth decompressing
        try:
            for name, data in iter_archive_members(path):
                hidden = any(part.startswith(".") for part in name.split("/"))  # skipped in a tree walk too
                if not hidden and keep(dataset_of(name)):
                    yield name, data
        except ArchiveError as exc:  # a damaged archive: its members read so far are kept, the rest recorded
            yield path.name, exc


def _archive_folder(path: Path) -> Optional[str]:
    """The folder an AMASS archive extracts to (CMU.tar.bz2 or CMU_SMPLH_G.tar.bz2 -> "CMU", HDM05 -> "MPI_HDM05"),
    or None for a name the catalog does not know (such an archive is read and filtered member by member)."""
    from amass_fast import catalog

    try:
        return catalog.get(path.name[:-len(".tar.bz2")] if path.name.endswith(".tar.bz2") else path.stem).folder
    except KeyError:
        return None


def plan_tasks(items: Iterator[tuple[str, Union[str, bytes, Exception]]], batch_files: int) -> Iterator[Task]:
    """Cut the items into tasks of ``batch_files`` files, numbered from 0 in order."""
    group: list = []
    index = 0
    for item in items:
        group.append(item)
        if len(group) == batch_files:
            yield Task(index, tuple(group))
            index, group = index + 1, []
    if group:
        yield Task(index, tuple(group))


# --- run the map -------------------------------------------------------------------------------------------------

def resolve_backend(requested: str) -> str:
    """"auto" -> the fastest backend here (cuda, cpp, numba, reference); a named one must be available."""
    from amass_fast.kernels import available_backends

    available = available_backends()
    if requested == "auto":
        return next(b for b in ("cuda", "cpp", "numba", "reference") if b in available)
    if requested not in available:
        raise ValueError(f"backend {requested!r} is not available here (available: {', '.join(available)}); "
                         f"pick one of those or --backend auto")
    return requested


def _init_worker() -> None:
    """Pool workers run one task each at a time: one kernel thread each, so workers do not oversubscribe."""
    from amass_fast.kernels import set_num_threads

    set_num_threads(1)


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
        return info if info is not None and info.get("sources") == task_sources(task) else None

    parent_converts = opts.backend == "cuda"  # workers load; the one device converts in the parent
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
                    record(finish_task(queued.popleft().result(), opts, str(work_dir)))
                if info is not None:
                    record(info)
            while queued and not enough():
                record(finish_task(queued.popleft().result(), opts, str(work_dir)))
        return [infos[i] for i in sorted(infos)]

    work = load_task if parent_converts else map_task
    args = () if parent_converts else (str(work_dir),)
    with ProcessPoolExecutor(jobs, initializer=_init_worker) as pool:
        pending = set()

        def collect(limit: int) -> None:
            """Wait until fewer than ``limit`` tasks are in flight, recording those that finish."""
            nonlocal pending
            while len(pending) >= limit:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    record(finish_task(result, opts, str(work_dir)) if parent_converts else result)

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


# --- reduce ------------------------------------------------------------------------------------------------------

def take_counts(infos: list[dict], max_samples: Optional[int]) -> list[tuple[dict, int]]:
    """(task info, clips to keep) for the tasks the output uses: all, or the first ones up to max_samples clips."""
    used, left = [], max_samples
    for info in infos:
        if left is not None and left <= 0:
            break
        n = info["clips"] if left is None else min(info["clips"], left)
        used.append((info, n))
        left = None if left is None else left - n
    return used


def reduce(infos: list[dict], work_dir: Path, output: Path, fmt: str, max_samples: Optional[int],
           manifest: dict) -> dict:
    """Write the final output from the shards (in task order) and the errors file; returns the totals."""
    used = take_counts(infos, max_samples)
    totals = dict.fromkeys(COUNT_KEYS, 0)
    label_sources: dict[str, int] = {}
    errors = []
    for info, _ in used:
        for key in COUNT_KEYS:
            totals[key] += info["counts"][key]
        errors += info["errors"]
        for source, count in info["label_sources"].items():
            label_sources[source] = label_sources.get(source, 0) + count
    totals["clips"] = sum(n for _, n in used)
    if max_samples is not None and totals["clips"] < sum(i["clips"] for i, _ in used):
        # Label sources of the clips kept, when the cap cuts into the last task.
        label_sources = {}
        for info, n in used:
            for clip in writers.read_shard_clips(work_dir / writers.SHARD_NAME.format(info["task"]))[:n]:
                label_sources[clip["label_source"]] = label_sources.get(clip["label_source"], 0) + 1
    totals["label_sources"] = dict(sorted(label_sources.items()))
    shard_files = [(work_dir / writers.SHARD_NAME.format(info["task"]), n) for info, n in used]

    errors_path = Path(f"{output}.errors.jsonl")
    if errors:
        tmp = writers.temporary_name(errors_path)
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(e, sort_keys=True) + "\n" for e in errors)
        os.replace(tmp, errors_path)
    else:
        errors_path.unlink(missing_ok=True)

    if fmt == "pt":
        writers.write_pt(output, shard_files)
        shutil.rmtree(work_dir)
    else:
        keep = {path.name for path, _ in shard_files}
        for extra in work_dir.glob(writers.SHARD_GLOB):  # mapped beyond the --max-samples cut
            if extra.name not in keep:
                extra.unlink()
        from amass_fast.labels import ACTION_TYPES

        writers.write_json(work_dir / writers.MANIFEST_NAME, {
            **manifest, "format": writers.MANIFEST_FORMAT, "format_version": 1,
            "actions_vocabulary": list(ACTION_TYPES), "counts": totals,
            "shards": [{"file": path.name, "clips": n} for path, n in shard_files],
        })
    return totals


# --- command line ------------------------------------------------------------------------------------------------

DEFAULT_ROOT = "data/amass"
DEFAULT_OUTPUT = {"pt": "data/amass_stick_data.pt", "shards": "data/amass_stick_shards"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`amass-fast process` flags (the seed's spellings --amass_root, --output, --max_samples, --batch_size work)."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--amass-root", "--amass_root", dest="amass_root", metavar="DIR",
                     help=f"extracted AMASS tree (default {DEFAULT_ROOT})")
    src.add_argument("--archives", metavar="DIR",
                     help="read .tar.bz2 archives (a folder of them, or one) directly, without extracting")
    parser.add_argument("--output", "--out", dest="output", metavar="PATH",
                        help=f"output .pt file, or shards folder (default {DEFAULT_OUTPUT['pt']} / "
                             f"{DEFAULT_OUTPUT['shards']})")
    parser.add_argument("--format", choices=("pt", "shards"), default="pt",
                        help="pt: one seed-compatible list of samples; shards: memory-mappable shards + manifest")
    parser.add_argument("--datasets", nargs="+", metavar="NAME", help="only these datasets (catalog or folder names)")
    parser.add_argument("--max-samples", "--max_samples", dest="max_samples", type=int, metavar="N",
                        help="stop at N clips (the first N in file order: same flags, same output)")
    parser.add_argument("--fps", type=float, default=25.0, help="output frame rate (default 25)")
    parser.add_argument("--window", type=int, default=250, help="frames per clip (default 250 = 10 s)")
    parser.add_argument("--stride", type=int, help="frames between clip starts (default: the window)")
    parser.add_argument("--short", choices=("pad", "drop"), default="pad",
                        help="a tail shorter than the window: pad by holding its last frame (default), or drop")
    parser.add_argument("--min-seconds", type=float, default=0.0, metavar="S",
                        help="with --short pad: drop a tail shorter than S seconds (default 0: keep every tail; "
                             "e.g. 2 keeps tails of at least 2 s)")
    parser.add_argument("--view", default="front", help="front | side | top | yaw:DEG (default front)")
    parser.add_argument("--views", type=int, default=1, metavar="N",
                        help="N camera yaws per clip, evenly spaced from --view (augmentation; default 1)")
    parser.add_argument("--body-model", metavar="DIR",
                        help="folder with SMPL+H / SMPL-X model files (default: the built-in skeleton)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto", help="kernel backend (default auto)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes (default: CPUs)")
    parser.add_argument("--babel", metavar="DIR", help="BABEL annotations folder (per-frame action labels)")
    parser.add_argument("--humanml3d", metavar="DIR", help="HumanML3D folder (captions as descriptions)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the description choice (default 0)")
    parser.add_argument("--batch-files", type=int, default=32, metavar="N",
                        help="files per task: one shard and one convert_batch call each (default 32)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run with the same flags")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--batch_size", type=int, metavar="N",
                        help="the seed's flag, accepted and ignored: batching is automatic (see --batch-files)")


def _nothing_found(root: Path, datasets: Optional[list[str]]) -> str:
    """Why a tree gave no files to process, and what is there instead."""
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    there = f"folders there: {', '.join(folders)}" if folders else "the folder is empty"
    if datasets:
        return f"{root}: no .npz files of --datasets {' '.join(datasets)} ({there}); check the names (amass-fast datasets)"
    return f"{root}: no .npz files ({there}); extract AMASS there first (amass-fast extract --out {root})"


def _fail(message: str) -> int:
    print(f"amass-fast process: {message}", file=sys.stderr)
    return 2


def _is_our_folder(folder: Path) -> bool:
    names = [p.name for p in folder.iterdir()]
    return all(n in (RUN_FILE, writers.MANIFEST_NAME) or n.startswith(("shard-", atomic.PREFIX)) for n in names)


def _prepare(output: Path, fmt: str, run_flags: dict, resume: bool, overwrite: bool) -> Optional[str]:
    """Make the work folder ready; returns an error message instead when the output must not be touched."""
    work_dir = output if fmt == "shards" else Path(f"{output}.parts")
    again = "use --resume to finish an interrupted run with the same flags, or --overwrite to replace it"
    if output.exists() and not (resume or overwrite):
        return f"{output} already exists; {again}"
    if work_dir.exists() and not work_dir.is_dir():
        return f"{work_dir} exists and is not a folder; move it away or choose another --output"
    if work_dir.is_dir() and not _is_our_folder(work_dir):
        return f"{work_dir} holds files amass-fast did not write; refusing to use it: choose another --output"
    if work_dir.is_dir() and overwrite:
        shutil.rmtree(work_dir)
    elif work_dir.is_dir():
        if not resume:
            return f"{work_dir} holds an interrupted run; {again}"
        previous = json.loads((work_dir / RUN_FILE).read_text()) if (work_dir / RUN_FILE).exists() else None
        if previous is not None and previous != run_flags:
            changed = sorted(k for k in set(previous) | set(run_flags) if previous.get(k) != run_flags.get(k))
            return (f"--resume: {work_dir} was started with other flags ({', '.join(changed)} differ); "
                    f"rerun with the same flags, or --overwrite to start again")
        writers.remove_temporaries(work_dir)
        (work_dir / writers.MANIFEST_NAME).unlink(missing_ok=True)
    try:
        for final in (output, Path(f"{output}.errors.jsonl")):  # what a killed reduce left beside the output
            atomic.remove_leftovers(final)
        work_dir.mkdir(parents=True, exist_ok=True)
        writers.write_json(work_dir / RUN_FILE, run_flags)
    except OSError as exc:  # read-only folder, a file in the way, no space
        return f"cannot write to {exc.filename or work_dir}: {exc.strerror or exc}; choose a writable --output"
    return None


def run(args: argparse.Namespace) -> int:
    """`amass-fast process`; exit status 0 when every file converted or was skipped without motion, 1 when some
    failed (listed in <output>.errors.jsonl), 2 when nothing could start."""
    fmt = args.format
    output = Path(args.output or DEFAULT_OUTPUT[fmt])
    amass_root = None if args.archives else (args.amass_root or DEFAULT_ROOT)
    if args.batch_size is not None:
        print(f"note: --batch_size {args.batch_size} is accepted for the old tool's scripts and ignored: "
              f"batching is automatic (many sequences per convert_batch call; --batch-files sets files per task)",
              file=sys.stderr)
    if amass_root is not None and not Path(amass_root).is_dir():
        return _fail(f"{amass_root}: no such folder; extract AMASS there (amass-fast extract --out {amass_root}) "
                     f"or pass --amass-root DIR / --archives DIR")
    if args.archives is not None and not Path(args.archives).exists():
        return _fail(f"{args.archives}: no such archive or folder; download archives there (amass-fast download "
                     f"--out {args.archives}) or pass --amass-root DIR")
    if args.max_samples is not None and args.max_samples < 1:
        return _fail(f"--max-samples must be >= 1 (got {args.max_samples})")
    if args.batch_files < 1 or args.jobs < 1:
        return _fail("--batch-files and --jobs must be >= 1")
    if not args.min_seconds >= 0.0:
        return _fail(f"--min-seconds must be >= 0 (got {args.min_seconds})")
    try:
        plan_views(args.view, args.views)
        plan_windows(1, 25.0, window=args.window, stride=args.stride or args.window, short=args.short)
        backend = resolve_backend(args.backend)
        _labeler(args.babel, args.humanml3d, args.seed).check()  # a wrong annotation folder, before any work
    except (ValueError, OSError) as exc:
        return _fail(str(exc))
    opts = MapOptions(dst_fps=args.fps, window=args.window, stride=args.stride or args.window, short=args.short,
                      min_seconds=args.min_seconds, view=args.view, views=args.views, body_model=args.body_model, backend=backend,
                      babel=args.babel, humanml3d=args.humanml3d, seed=args.seed)
    # Paths as normalised strings, so that data/amass/ and data/amass resume the same run.
    run_flags = {"amass_root": amass_root and os.path.normpath(amass_root),
                 "archives": args.archives and os.path.normpath(args.archives), "datasets": args.datasets,
                 "batch_files": args.batch_files, "format": fmt,
                 **{k: v for k, v in asdict(opts).items() if k != "backend"}}
    items = source_items(amass_root, args.archives, args.datasets)
    if amass_root is not None:
        items = list(items)
        if not items:
            return _fail(_nothing_found(Path(amass_root), args.datasets))
    problem = _prepare(output, fmt, run_flags, args.resume, args.overwrite)
    if problem:
        return _fail(problem)
    work_dir = output if fmt == "shards" else Path(f"{output}.parts")
    if not args.body_model:
        print("note: no --body-model given: using the built-in skeleton (SMPL joint topology, anthropometric "
              "segment lengths); pass --body-model DIR for each subject's own body shape", file=sys.stderr)

    from tqdm import tqdm

    total, jobs = None, args.jobs
    if amass_root is not None:
        total = len(items)
        jobs = min(jobs, -(-total // args.batch_files))  # no idle workers to start
    started = time.perf_counter()
    bar = tqdm(total=total, unit="file", desc="process", file=sys.stderr, dynamic_ncols=True, disable=None)
    seen = {"clips": 0, "frames": 0}

    def on_done(info: dict) -> None:
        seen["clips"] += info["clips"]
        seen["frames"] += info["counts"]["frames"]
        rate = seen["frames"] / max(time.perf_counter() - started, 1e-9)
        clips = seen["clips"] if args.max_samples is None else min(seen["clips"], args.max_samples)
        bar.set_postfix(clips=clips, frames_s=f"{rate:,.0f}", refresh=False)
        bar.update(info["counts"]["files"])

    manifest = {"amass_fast": __version__, "numpy": np.__version__, "backend": opts.backend,
                "flags": {**run_flags, "max_samples": args.max_samples}, "window": opts.window, "fps": opts.dst_fps}
    try:
        try:
            infos = execute(plan_tasks(iter(items), args.batch_files), opts, work_dir, jobs=jobs,
                            resume=args.resume, max_samples=args.max_samples, on_done=on_done)
        finally:
            bar.close()
        totals = reduce(infos, work_dir, output, fmt, args.max_samples, manifest)
    except OSError as exc:  # disk full, quota, a folder gone read-only: finished shards stay whole
        return _fail(f"cannot write {exc.filename or output}: {exc.strerror or exc}; free some space or fix the "
                     f"folder, then rerun the same command with --resume")
    print(summary_table(totals, time.perf_counter() - started, opts.backend, output))
    if totals["failed"]:
        print(f"{totals['failed']} file(s) failed: see {output}.errors.jsonl (file, reason); the other files are "
              f"in the output. Exit status 1.", file=sys.stderr)
        return 1
    return 0


def summary_table(totals: dict, seconds: float, backend: str, output: Path) -> str:
    """The end-of-run table: files, clips, hours of motion, throughput, backend; then clips per label source."""
    rows = [
        ("files seen", f"{totals['files']:,}"),
        ("converted", f"{totals['converted']:,}"),
        ("skipped (no motion)", f"{totals['no_motion']:,}"),
        ("failed", f"{totals['failed']:,}"),
        ("clips written", f"{totals['clips']:,}"),
        ("hours of motion", f"{totals['seconds'] / 3600:,.2f}"),
        ("time", f"{seconds:,.1f} s"),
        ("throughput", f"{totals['converted'] / max(seconds, 1e-9):,.1f} sequences/s, "
                       f"{totals['frames'] / max(seconds, 1e-9):,.0f} source frames/s"),
        ("backend", backend),
    ]
    rows.append(("output", str(output)))
    width = max(len(name) for name, _ in rows)
    from amass_fast.labels import coverage_table

    return "\n".join([f"{name:<{width}}  {value}" for name, value in rows] + ["",
                      coverage_table(totals["label_sources"])])
