"""Map: one task -> one shard. Load and recognise each file, plan its clips, convert the whole task in ONE
convert_batch call, label the clips and write the shard. It depends only on the task and MapOptions (no global
state), so a local process pool or a cluster executor can run it.

Two steps, so the cuda backend can load in workers and convert in the parent:

    load_task    files -> LoadedTask (sequences in one ragged batch; unreadable files recorded, not raised)
    finish_task  LoadedTask -> converted, labelled clips -> the shard; returns the task's info
"""
from __future__ import annotations

import functools
from dataclasses import asdict, astuple, dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np

from amass_fast.outputs import writers
from amass_fast.io.body_models import stature
from amass_fast.process.clips import (RaggedBatch, Skeletons, check_planned_size, min_tail_frames, plan_views,
                                      plan_windows, window_cost)
from amass_fast.io.formats import FormatError, NoMotion, Sequence, load_sequence
from amass_fast.io.tree import dataset_of
from amass_fast.labels.motion import ClipMotion
from amass_fast.process.plan import Task, task_sources
from amass_fast.kernels.reference import resampled_length
from amass_fast.schemas.layouts import flip_screen_x, physics
from amass_fast.schemas.stickgen import enhanced_meta

COUNT_KEYS = ("files", "converted", "no_motion", "failed", "frames", "seconds",
              # What the window plan cost (clips.window_cost), in windows and output frames; every view and mirror
              # of a window shares it.
              "padded_windows", "held_frames", "dropped_frames", "overlap_frames")


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
    # Schemas, cameras and mirroring (docs/SCHEMAS.md); the defaults give plain stick5.
    schema: str = "stick5"
    up: str = "z"
    scale_height: bool = False
    mirror: bool = False
    camera: str = "orthographic"
    random_views: int = 0
    screen_x: str = "right"
    physics: str = "backward"

    @property
    def plain_stick5(self) -> bool:
        """True for the stick5 of the old converter: no camera, scale or mirror option in use."""
        return (self.schema == "stick5" and self.camera == "orthographic" and not self.random_views
                and not self.scale_height and not self.mirror and self.screen_x == "right")


def made_by(opts: MapOptions) -> dict:
    """What makes a shard (every option but the backend, which changes no value beyond float rounding): stored in
    each shard's info, so that --resume refuses shards made with other flags even when run.json is lost."""
    return {k: v for k, v in asdict(opts).items() if k != "backend"}


@dataclass
class LoadedTask:
    """A task after loading: its sequences in one ragged batch, ready for convert_batch."""
    index: int
    batch: RaggedBatch
    sources: list[str] = field(default_factory=list)  # the task's relative paths, as --resume checks them
    files: list[tuple[str, float, int]] = field(default_factory=list)  # (rel path, fps, frames) per sequence
    subjects: list[tuple[str, float]] = field(default_factory=list)   # (gender, stature in cm) per sequence
    counts: dict = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    errors: list[dict] = field(default_factory=list)
    mirror_of: dict = field(default_factory=dict)         # mirrored sequence -> its original (--mirror)
    mirror_window: dict = field(default_factory=dict)     # mirrored window -> its original window
    failed: set = field(default_factory=set)              # sequences whose file failed after loading

    def fail(self, seq: int, step: str, exc: BaseException) -> None:
        """Record that a step (body shape, scale, cameras, conversion, labels) failed for sequence ``seq``: its
        file becomes one line of the task's errors (and its counts move from converted to failed), and every
        sequence of that file (its mirrored copy too) is left out of the shard. The task goes on."""
        original = self.mirror_of.get(seq, seq)
        if original in self.failed:
            return
        self.failed.update([original, *(m for m, o in self.mirror_of.items() if o == original)])
        rel, fps, frames = self.files[original]
        self.counts["failed"] += 1
        self.counts["converted"] -= 1
        self.counts["frames"] -= frames
        self.counts["seconds"] -= frames / fps
        self.errors.append({"file": rel, "reason": f"{rel}: {step} failed: {_reason(exc)}"})


def load_task(task: Task, opts: MapOptions) -> LoadedTask:
    """Load and recognise a task's files and plan their clips. Unreadable files are recorded, not raised."""
    skeletons = Skeletons(opts.body_model)
    views = clip_views(opts)
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
            check_planned_size(len(windows), len(views), opts.window, opts.schema, opts.mirror, opts.plain_stick5,
                               rel)
            rest = skeletons.rest_joints(seq.gender, seq.kind, seq.betas)
            height_cm = 100.0 * stature(rest) if opts.schema == "stick12" else 0.0  # enhanced_meta's
        except (FormatError, *_STEP_ERRORS) as exc:
            loaded.counts["failed"] += 1
            loaded.errors.append({"file": rel, "reason": _reason(exc)})
            continue
        loaded.batch.add(seq.poses, seq.trans, seq.fps, rest, windows, views)
        loaded.files.append((rel, seq.fps, seq.num_frames))
        loaded.subjects.append((seq.gender, height_cm))
        cost = window_cost(resampled_length(seq.num_frames, seq.fps, opts.dst_fps), windows, opts.window)
        for key, value in zip(("padded_windows", "held_frames", "dropped_frames", "overlap_frames"), astuple(cost)):
            loaded.counts[key] += value
        loaded.counts["converted"] += 1
        loaded.counts["frames"] += seq.num_frames
        loaded.counts["seconds"] += seq.seconds
    return loaded


def clip_views(opts: MapOptions) -> list:
    """The views of every window: --views N yaws from --view, or with --random-views N, N places for the random
    cameras (their view is --view's, which the labels' motion source reads)."""
    if not opts.random_views:
        return plan_views(opts.view, opts.views)
    view = plan_views(opts.view, 1)[0]
    return [replace(view, name=f"random:{i}") for i in range(opts.random_views)]


def add_schema_clips(loaded: LoadedTask, opts: MapOptions) -> None:
    """Prepare a loaded task's batch for the schema options: --mirror appends the mirrored copy of every sequence
    (schemas.mirror_params about its rest pelvis; its windows and views follow the task's own clips), then each
    sequence's scale (--scale-height: schemas.height_scale of its skeleton) and each clip's camera (--camera,
    --random-views: drawn by schemas.random_cameras keyed by the clip's file and first frame)."""
    from amass_fast.kernels import mirror_params
    from amass_fast.schemas.cameras import Camera, clip_key, random_cameras
    from amass_fast.schemas.joints import height_scale

    batch = loaded.batch
    if opts.mirror:
        views_of: dict[int, list] = {}
        for w, view in zip(batch.clip_window, batch.clip_view):
            views_of.setdefault(w, []).append(view)
        windows = list(enumerate(batch.windows))
        for s in range(batch.num_sequences):
            own = [(w, win) for w, (seq, win) in windows if seq == s]
            if not own:
                continue
            try:
                poses, trans = mirror_params(batch.poses[s], batch.trans[s], batch.rest_joints[s][0])
            except _STEP_ERRORS as exc:
                loaded.fail(s, "mirroring", exc)
                continue
            first = len(batch.windows)
            batch.add(poses, trans, batch.fps[s], batch.rest_joints[s], [win for _, win in own], views_of[own[0][0]])
            loaded.mirror_of[batch.num_sequences - 1] = s
            loaded.mirror_window.update({first + i: w for i, (w, _) in enumerate(own)})
            loaded.files.append(loaded.files[s])
            loaded.subjects.append(loaded.subjects[s])
    batch.scale = [_isolated(loaded, s, "--scale-height (body shape)", height_scale, 1.0, rest)
                   if opts.scale_height else 1.0 for s, rest in enumerate(batch.rest_joints)]
    if opts.camera == "orthographic" and not opts.random_views:
        batch.clip_camera = []
        return
    cameras, drawn = [], {}
    for c, w in enumerate(batch.clip_window):
        view, seq = batch.clip_view[c], batch.windows[w][0]
        try:
            if not opts.random_views:
                cameras.append(Camera(opts.camera, yaw_deg=view.yaw).packed())
                continue
            w0 = loaded.mirror_window.get(w, w)  # a mirrored clip sees its original's cameras
            if w0 not in drawn:
                seq0, win = batch.windows[w0]
                drawn[w0] = random_cameras(opts.random_views, opts.seed, opts.camera,
                                           key=clip_key(loaded.files[seq0][0], win.start))
            cameras.append(drawn[w0][int(view.name.split(":")[1])].packed())
        except _STEP_ERRORS as exc:
            loaded.fail(seq, "cameras", exc)
            cameras.append(Camera(yaw_deg=view.yaw).packed())  # a stand-in: the clip is left out
    batch.clip_camera = cameras


_STEP_ERRORS = (ValueError, RuntimeError, FloatingPointError, ArithmeticError, OSError, KeyError, IndexError,
                MemoryError)


def _isolated(loaded: LoadedTask, seq: int, step: str, fn, fallback, *args):
    """``fn(*args)`` for one sequence; a failure is recorded for its file (LoadedTask.fail) and gives ``fallback``."""
    try:
        return fn(*args)
    except _STEP_ERRORS as exc:
        loaded.fail(seq, step, exc)
        return fallback


def convert_task(loaded: LoadedTask, opts: MapOptions) -> tuple[np.ndarray, set[int]]:
    """Motion of every clip of the task in one convert_batch call, and the sequences that failed (none, unless the
    batch call fails: then one call per sequence finds the bad ones, recorded in the task's errors)."""
    try:
        return loaded.batch.convert(dst_fps=opts.dst_fps, window=opts.window, backend=opts.backend,
                                    schema=opts.schema, up=opts.up), set()
    except _STEP_ERRORS:
        return _convert_one_by_one(loaded, opts)


def label_stick5(loaded: LoadedTask, opts: MapOptions, motion: np.ndarray) -> np.ndarray:
    """What the labels' motion source reads: the stick5 of each clip's view, as a plain stick5 run converts it, so
    that labels do not depend on the schema, cameras, scale or mirroring (the motion itself for plain stick5)."""
    if opts.plain_stick5:
        return motion
    plain = replace(loaded.batch, clip_camera=[], scale=[])
    try:
        return plain.convert(dst_fps=opts.dst_fps, window=opts.window, backend=opts.backend)
    except _STEP_ERRORS:
        return np.zeros((plain.num_clips, opts.window, 20), dtype=np.float32)  # the failed ones fall back to idle


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
    from amass_fast.schemas.mirror import mirror_text

    batch = loaded.batch
    labeler = _labeler(opts.babel, opts.humanml3d, opts.seed)
    rows, actions, clips, label_sources, labels = [], [], [], {}, {}
    failed = failed | loaded.failed
    first_clip: dict[int, int] = {}
    for c, w in enumerate(batch.clip_window):
        first_clip.setdefault(w, c)
    for c, w in enumerate(batch.clip_window):  # labels first, once per window: a file whose labels fail is left out
        seq, window = batch.windows[w]
        key = loaded.mirror_window.get(w, w)  # a mirrored clip carries its original's labels
        oseq = loaded.mirror_of.get(seq, seq)
        if seq in failed or oseq in failed or key in labels:
            continue
        rel, fps, frames = loaded.files[seq]
        start_s = window.start / opts.dst_fps
        # Built only if no annotation, CMU description or name labels the clip (most real clips have one).
        measured = None if batch.clip_view[c].top else functools.partial(
            clip_motion, loaded, oseq, start_s, window.length, motion[first_clip[key]], opts.dst_fps)
        try:
            labels[key] = labeler.label(rel, start_s, window.length, opts.window, opts.dst_fps, source_fps=fps,
                                        source_frames=frames, motion=measured)
        except _STEP_ERRORS as exc:
            loaded.fail(seq, "labels", exc)
            failed = failed | loaded.failed
    for c, w in enumerate(batch.clip_window):
        seq, window = batch.windows[w]
        if seq in failed or loaded.mirror_of.get(seq) in failed:  # a mirrored copy goes with its original
            continue
        rel, fps, frames = loaded.files[seq]
        start_s = window.start / opts.dst_fps
        key = loaded.mirror_window.get(w, w)
        lab = labels[key]
        mirrored = seq in loaded.mirror_of
        rows.append(c)
        actions.append(lab.actions)
        label_sources[lab.source] = label_sources.get(lab.source, 0) + 1
        clip = {"action": lab.action, "description": mirror_text(lab.description) if mirrored else lab.description,
                "dataset": dataset_of(rel), "file": rel, "start_s": round(start_s, 6), "source_fps": fps,
                "view": batch.clip_view[c].name, "valid_length": window.length, "label_source": lab.source,
                "description_source": lab.description_source}
        if not opts.plain_stick5:
            camera = batch.clip_camera[c] if batch.clip_camera else None
            if camera is None and opts.schema != "joints3d":
                from amass_fast.schemas.cameras import Camera

                camera = Camera(yaw_deg=batch.clip_view[c].yaw).packed()
            clip.update(schema=opts.schema, up=opts.up, mirrored=mirrored, screen_x=opts.screen_x,
                        scale=round(float(batch.scale[seq]) if batch.scale else 1.0, 9),
                        camera=None if opts.schema == "joints3d" else [round(float(v), 9) for v in camera])
        clips.append(clip)
    return rows, actions, clips, label_sources


def finish_task(loaded: LoadedTask, opts: MapOptions, work_dir: str) -> dict:
    """Convert a loaded task, label its clips and write its shard; returns its info (as writers.shard_summary
    reads it back)."""
    add_schema_clips(loaded, opts)
    motion, failed = convert_task(loaded, opts)
    rows, actions, clips, label_sources = label_clips(loaded, opts, failed, label_stick5(loaded, opts, motion))
    motion = motion[rows] if len(rows) != len(motion) else motion
    if opts.screen_x == "left":
        motion = flip_screen_x(motion, opts.schema).astype(np.float32)
    if opts.schema == "stick12":
        add_stick_gen_meta(loaded, opts, motion, rows, clips)
    actions = np.stack(actions) if actions else np.zeros((0, opts.window), dtype=np.int64)
    info = {"task": loaded.index, "sources": loaded.sources, "counts": loaded.counts, "errors": loaded.errors,
            "label_sources": label_sources, "made_by": made_by(opts)}
    writers.write_shard(Path(work_dir, writers.SHARD_NAME.format(loaded.index)), motion, actions, clips, info)
    return {**info, "clips": len(clips)}


def add_stick_gen_meta(loaded: LoadedTask, opts: MapOptions, motion: np.ndarray, rows: list[int],
                       clips: list[dict]) -> None:
    """stick12 clips: the physics method (--physics) and stick-gen's ``enhanced_meta`` (schemas.stickgen) of each
    clip, measured on its motion as written."""
    batch = loaded.batch
    for clip, values, c in zip(clips, motion, rows):
        seq = batch.windows[batch.clip_window[c]][0]
        _, fps, frames = loaded.files[seq]
        gender, height_cm = loaded.subjects[seq]
        clip["physics"] = opts.physics
        clip["enhanced_meta"] = enhanced_meta(values, physics(values, opts.dst_fps, opts.physics),
                                              clip["valid_length"], opts.dst_fps, source_fps=fps,
                                              source_frames=frames, gender=gender, height_cm=height_cm)


def map_task(task: Task, opts: MapOptions, work_dir: str) -> dict:
    """The whole map for one task (load, convert, label, write the shard), as a pool worker runs it."""
    return finish_task(load_task(task, opts), opts, work_dir)


def _convert_one_by_one(loaded: LoadedTask, opts: MapOptions) -> tuple[np.ndarray, set[int]]:
    """Motion of every clip of the batch (zeros for failed sequences) and the failed sequences, recorded."""
    batch = loaded.batch
    from amass_fast.schemas.layouts import FRAME_SHAPE

    motion = np.zeros((batch.num_clips, opts.window, *FRAME_SHAPE[opts.schema]), dtype=np.float32)
    clip_seq = np.array([batch.windows[w][0] for w in batch.clip_window])
    failed = set()
    for s, part in enumerate(batch.split()):
        try:
            motion[clip_seq == s] = part.convert(dst_fps=opts.dst_fps, window=opts.window, backend=opts.backend,
                                                 schema=opts.schema, up=opts.up)
        except _STEP_ERRORS as exc:
            failed.add(s)
            loaded.fail(s, "conversion", exc)
    return motion, failed


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text if type(exc).__name__ in ("FormatError", "ArchiveError") else f"{type(exc).__name__}: {text}"


@functools.lru_cache(maxsize=4)
def _labeler(babel: Optional[str], humanml3d: Optional[str], seed: int):
    """One Labeler per process and option set (its indexes load lazily, once)."""
    from amass_fast.labels import Labeler

    return Labeler(babel_dir=babel, humanml3d_dir=humanml3d, seed=seed)
