"""Map: one task -> one shard. Load and recognise each file, plan its clips, convert the whole task in ONE
convert_batch call, label the clips and write the shard. It depends only on the task and MapOptions (no global
state), so a local process pool or a cluster executor can run it.

Two steps, so the cuda backend can load in workers and convert in the parent:

    load_task    files -> LoadedTask (sequences in one ragged batch; unreadable files recorded, not raised)
    finish_task  LoadedTask -> converted, labelled clips -> the shard; returns the task's info
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from amass_fast import writers
from amass_fast.clips import RaggedBatch, Skeletons, min_tail_frames, plan_views, plan_windows
from amass_fast.formats import FormatError, NoMotion, Sequence, dataset_of, load_sequence
from amass_fast.labels.motion import ClipMotion
from amass_fast.process.plan import Task, task_sources

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


@dataclass
class LoadedTask:
    """A task after loading: its sequences in one ragged batch, ready for convert_batch."""
    index: int
    batch: RaggedBatch
    sources: list[str] = field(default_factory=list)  # the task's relative paths, as --resume checks them
    files: list[tuple[str, float, int]] = field(default_factory=list)  # (rel path, fps, frames) per sequence
    counts: dict = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    errors: list[dict] = field(default_factory=list)


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
            # A path is loaded here; an archive member arrives loaded (plan.py), its poses cut to the body's.
            seq = source if isinstance(source, (Sequence, NoMotion)) else load_sequence(source)
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


def convert_task(loaded: LoadedTask, opts: MapOptions) -> tuple[np.ndarray, set[int]]:
    """Motion of every clip of the task in one convert_batch call, and the sequences that failed (none, unless the
    batch call fails: then one call per sequence finds the bad ones, recorded in the task's errors)."""
    try:
        return loaded.batch.convert(dst_fps=opts.dst_fps, window=opts.window, backend=opts.backend), set()
    except (ValueError, RuntimeError, FloatingPointError):
        return _convert_one_by_one(loaded, opts)


def clip_motion(loaded: LoadedTask, seq: int, start_s: float, valid: int, stick: np.ndarray,
                dst_fps: float) -> ClipMotion:
    """What the motion label source reads of one clip: its stick figure (valid frames) and the root translation
    of its sequence at the clip's frame times (linear between source frames, as the kernels resample it)."""
    trans = loaded.batch.trans[seq]
    position = (start_s + np.arange(valid) / dst_fps) * loaded.batch.fps[seq]
    frames = np.arange(len(trans))
    root = np.stack([np.interp(position, frames, trans[:, axis]) for axis in range(3)], axis=1)
    return ClipMotion(stick=stick[:valid], root=root)


def label_clips(loaded: LoadedTask, opts: MapOptions, failed: set[int], motion: np.ndarray
                ) -> tuple[list[int], list, list[dict], dict]:
    """Label the clips of the sequences that converted: (their rows in the batch, per-frame actions per clip,
    per-clip metadata, clips per label source). A window's first view feeds the motion label source, except
    with the top view, whose screen y is not height (those clips fall back to idle)."""
    batch = loaded.batch
    labeler = _labeler(opts.babel, opts.humanml3d, opts.seed)
    rows, actions, clips, label_sources, labels = [], [], [], {}, {}
    for c, w in enumerate(batch.clip_window):
        seq, window = batch.windows[w]
        if seq in failed:
            continue
        rel, fps, frames = loaded.files[seq]
        start_s = window.start / opts.dst_fps
        if w not in labels:  # once per window, shared by its views
            measured = None if batch.clip_view[c].top else clip_motion(loaded, seq, start_s, window.length,
                                                                        motion[c], opts.dst_fps)
            labels[w] = labeler.label(rel, start_s, window.length, opts.window, opts.dst_fps, source_fps=fps,
                                      source_frames=frames, motion=measured)
        lab = labels[w]
        rows.append(c)
        actions.append(lab.actions)
        label_sources[lab.source] = label_sources.get(lab.source, 0) + 1
        clips.append({"action": lab.action, "description": lab.description, "dataset": dataset_of(rel),
                      "file": rel, "start_s": round(start_s, 6), "source_fps": fps,
                      "view": batch.clip_view[c].name, "valid_length": window.length, "label_source": lab.source,
                      "description_source": lab.description_source})
    return rows, actions, clips, label_sources


def finish_task(loaded: LoadedTask, opts: MapOptions, work_dir: str) -> dict:
    """Convert a loaded task, label its clips and write its shard; returns its info (as writers.shard_summary
    reads it back)."""
    motion, failed = convert_task(loaded, opts)
    rows, actions, clips, label_sources = label_clips(loaded, opts, failed, motion)
    motion = motion[rows] if len(rows) != len(motion) else motion
    actions = np.stack(actions) if actions else np.zeros((0, opts.window), dtype=np.int64)
    info = {"task": loaded.index, "sources": loaded.sources, "counts": loaded.counts, "errors": loaded.errors,
            "label_sources": label_sources}
    writers.write_shard(Path(work_dir, writers.SHARD_NAME.format(loaded.index)), motion, actions, clips, info)
    return {**info, "clips": len(clips)}


def map_task(task: Task, opts: MapOptions, work_dir: str) -> dict:
    """The whole map for one task (load, convert, label, write the shard), as a pool worker runs it."""
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
