"""Clips: fixed-length windows over each sequence's 25 fps timeline, camera views, and the ragged batch that turns
many sequences' windows into stick-figure motion with one ``kernels.convert_batch`` call.

A sequence of F source frames at its own rate has T = reference.resampled_length(F, fps, 25) output frames. Windows
of ``window`` frames start every ``stride`` frames; the tail that no full window covers becomes one shorter window,
padded by holding its last frame (``short="pad"``, its true length kept) or dropped (``short="drop"``).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from amass_fast.kernels import convert_batch, parse_view
from amass_fast.kernels.reference import BODY_PARENTS, NUM_BODY_JOINTS, resampled_length

SHORT_MODES = ("pad", "drop", "end")
# The clip frames one sequence may plan (windows x window): 2**24 frames of 20 float32 values is 1.3 GB per view,
# over 180 hours at 25 fps without overlap. A plan beyond it comes from a broken header or extreme flags.
MAX_PLANNED_FRAMES = 1 << 24


@dataclass(frozen=True)
class Window:
    """One clip's span on the resampled timeline: ``length`` valid frames from output frame ``start``."""
    start: int
    length: int


def plan_windows(num_frames: int, src_fps: float, *, dst_fps: float = 25.0, window: int = 250,
                 stride: Optional[int] = None, short: str = "pad", min_length: int = 1) -> list[Window]:
    """Windows over a sequence of ``num_frames`` frames at ``src_fps``, resampled to ``dst_fps``.

    Full windows start at 0, stride, 2 stride, ... while they fit. What comes after the last full window:

    - ``short="pad"``: the frames after it (or the whole sequence, when shorter than one window) form one tail
      window at the next stride position, padded when written;
    - ``short="drop"``: nothing;
    - ``short="end"``: one more full window, ending at the sequence's last frame (it overlaps the window before);
      a sequence shorter than one window is one padded window, as with "pad".

    A padded window of fewer than ``min_length`` frames is dropped. Raises ValueError for bad arguments and for a
    plan of more than MAX_PLANNED_FRAMES clip frames (checked before the windows are built).
    """
    stride = window if stride is None else stride
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be >= 1 frame (got window={window}, stride={stride})")
    if short not in SHORT_MODES:
        raise ValueError(f"short must be one of {SHORT_MODES} (got {short!r})")
    for flag, rate in (("src_fps", src_fps), ("dst_fps", dst_fps)):
        if not (isinstance(rate, (int, float, np.integer, np.floating)) and math.isfinite(rate) and rate > 0):
            raise ValueError(f"{flag} must be a positive, finite frame rate (got {rate!r})")
    if num_frames < 1:
        return []
    span = (num_frames - 1) * dst_fps / src_fps  # output frames - 1; checked before any list is built
    if not span < MAX_PLANNED_FRAMES:
        raise ValueError(f"{num_frames:,} frames at {src_fps:g} fps make {span + 1:.4g} frames at {dst_fps:g} fps, "
                         f"more than the {MAX_PLANNED_FRAMES:,} frames one sequence may plan; the frame rate is "
                         f"broken or the sequence is far too long")
    total = resampled_length(num_frames, src_fps, dst_fps)
    full = 0 if total < window else (total - window) // stride + 1
    covered = (full - 1) * stride + window if full else 0
    tail = full * stride
    if full and short == "end":
        last = Window(total - window, window) if covered < total else None
    elif short != "drop" and covered < total and tail < total and total - tail >= min_length:
        last = Window(tail, total - tail)
    else:
        last = None
    planned = (full + (last is not None)) * window
    if planned > MAX_PLANNED_FRAMES:
        raise ValueError(f"{full + (last is not None):,} windows of {window:,} frames make {planned:,} clip frames "
                         f"for one sequence ({total:,} frames at {dst_fps:g} fps), more than the limit of "
                         f"{MAX_PLANNED_FRAMES:,}; use a larger stride (--stride) or a shorter window (--window)")
    windows = [Window(i * stride, window) for i in range(full)]
    if last is not None:
        windows.append(last)
    return windows


@dataclass(frozen=True)
class WindowCost:
    """What a window plan costs one sequence, in output frames: ``padded`` windows holding ``held`` frames of
    their last frame, ``dropped`` frames of motion in no window, ``overlap`` frames in more than one window."""
    padded: int = 0
    held: int = 0
    dropped: int = 0
    overlap: int = 0


def window_cost(total: int, windows: list[Window], window: int) -> WindowCost:
    """The cost of ``windows`` (from :func:`plan_windows`) over a sequence of ``total`` output frames."""
    covered, end = 0, 0
    for w in sorted(windows, key=lambda w: w.start):
        covered += max(0, w.start + w.length - max(w.start, end))
        end = max(end, w.start + w.length)
    return WindowCost(padded=sum(w.length < window for w in windows), held=sum(window - w.length for w in windows),
                      dropped=total - covered, overlap=sum(w.length for w in windows) - covered)


# The memory one sequence's clips may plan (motion in float32 at the schema's width, the labels' stick5 copy and the
# int64 actions, over every window, view and mirrored copy): far above any real AMASS file with sensible flags.
MAX_PLANNED_BYTES = 4 << 30


def planned_bytes(clips: int, window: int, schema: str = "stick5", plain_stick5: bool = True) -> int:
    """Bytes the clips of one sequence take once converted: ``clips`` x ``window`` frames of the schema's float32
    values (plus stick5's 20 for the labels when the run is not plain stick5) and an int64 action per frame."""
    from amass_fast.schemas.layouts import FRAME_SHAPE

    values = math.prod(FRAME_SHAPE[schema]) + (0 if plain_stick5 else 20)
    return clips * window * (4 * values + 8)


def check_planned_size(windows: int, views: int, window: int, schema: str = "stick5", mirror: bool = False,
                       plain_stick5: bool = True, name: str = "the sequence") -> None:
    """Refuse (ValueError naming ``name``, the limit and the planned size) a sequence whose clips would take more
    than MAX_PLANNED_BYTES, or more than the memory this process may still take (kernels.runtime.memory_available):
    counted before anything is allocated, with its views, mirrored copies, schema width and dtype."""
    from amass_fast.kernels import runtime

    clips = windows * views * (2 if mirror else 1)
    size = planned_bytes(clips, window, schema, plain_stick5)
    if size <= runtime.CHECKED_BYTES:  # small: the system is not asked
        return
    limit, where = MAX_PLANNED_BYTES, "per file"
    available, what = runtime.memory_available()
    if available is not None and available < limit:
        limit, where = available, f"of {what}"
    if size > limit:
        copies = " x 2 (--mirror)" if mirror else ""
        raise ValueError(f"{name}: {windows:,} windows x {views} views{copies} = {clips:,} clips of {window} frames "
                         f"of {schema} (float32) plan {size / 2**30:.3g} GiB, over the limit of "
                         f"{limit / 2**30:.3g} GiB {where}; use fewer --views or --random-views, a "
                         f"larger --stride or a shorter --window")


def min_tail_frames(min_seconds: float, dst_fps: float) -> int:
    """A minimum tail length in seconds (--min-seconds) as output frames; at least 1, as a window holds a frame."""
    return max(1, math.ceil(min_seconds * dst_fps - 1e-9))


@dataclass(frozen=True)
class View:
    """A camera: ``top`` drops height (the old converter's ground-plane view); otherwise ``yaw`` degrees about the vertical,
    relative to the body's facing at the clip's first frame. ``name`` is what a sample's meta["view"] says."""
    top: bool
    yaw: float
    name: str


def view_name(top: bool, yaw: float) -> str:
    if top:
        return "top"
    yaw = yaw % 360.0
    return {0.0: "front", 90.0: "side"}.get(yaw, f"yaw:{yaw:g}")


def plan_views(view: str | float = "front", views: int = 1) -> list[View]:
    """The cameras of every clip: ``view`` and, with ``views`` = N > 1, N yaws evenly spaced around the body
    starting at it (N = 4 from front: front, yaw:90 = side, yaw:180, yaw:270)."""
    top, yaw = parse_view(view)
    if views < 1:
        raise ValueError(f"--views must be >= 1 (got {views})")
    if top and views > 1:
        raise ValueError("--views N turns the camera about the vertical; it cannot apply to --view top")
    yaws = [yaw + 360.0 * i / views for i in range(views)]
    return [View(top, y % 360.0, view_name(top, y)) for y in yaws]


@dataclass
class RaggedBatch:
    """Many sequences' body poses concatenated, with per-sequence offsets, rates and skeletons, and the clips over
    them: the arguments of one ``kernels.convert_batch`` call. Only the 66 body pose values of each frame are kept,
    in float32: the output is float32, the float32 kernels stay within about 1e-6 m of float64 (tests/kernels/test_native.py),
    and they read half the bytes and run about twice as fast. Every batch converts the same way, whatever its files.

    Clips are ordered by sequence, then window, then view; ``clip_window`` indexes ``windows`` (one per sequence
    window, shared by its views) so that labels are computed once per window.
    """
    poses: list = field(default_factory=list)
    trans: list = field(default_factory=list)
    fps: list = field(default_factory=list)
    rest_joints: list = field(default_factory=list)
    windows: list = field(default_factory=list)      # (sequence index, Window)
    clip_window: list = field(default_factory=list)  # index into windows, per clip
    clip_view: list = field(default_factory=list)    # View, per clip
    # Schemas other than plain stick5 (docs/SCHEMAS.md): a packed camera [6] per clip (None: the stick5 view by
    # yaw) and a canonical scale per sequence (1: none); set by the caller before convert.
    clip_camera: list = field(default_factory=list)
    scale: list = field(default_factory=list)

    @property
    def num_sequences(self) -> int:
        return len(self.poses)

    @property
    def num_clips(self) -> int:
        return len(self.clip_window)

    def add(self, poses: np.ndarray, trans: np.ndarray, fps: float, rest_joints: np.ndarray,
            windows: list[Window], views: list[View]) -> None:
        """Append one sequence (poses [F, >=66], trans [F, 3], rest_joints [>=22, 3]) and its clips."""
        seq = self.num_sequences
        # A copy, not a view: a view would keep the file's hand/face columns alive until the task converts.
        self.poses.append(np.array(poses[:, :3 * NUM_BODY_JOINTS], dtype=np.float32))
        self.trans.append(np.asarray(trans, dtype=np.float32))
        self.fps.append(float(fps))
        self.rest_joints.append(np.asarray(rest_joints, dtype=np.float64)[:NUM_BODY_JOINTS])
        for w in windows:
            self.windows.append((seq, w))
            for v in views:
                self.clip_window.append(len(self.windows) - 1)
                self.clip_view.append(v)

    def split(self) -> list["RaggedBatch"]:
        """One batch per sequence, clips in the same order (to find a sequence that fails to convert)."""
        parts = [RaggedBatch([p], [t], [f], [r]) for p, t, f, r in zip(self.poses, self.trans, self.fps,
                                                                         self.rest_joints)]
        local = {}  # window index -> its index inside its sequence's part
        for w, (seq, win) in enumerate(self.windows):
            local[w] = len(parts[seq].windows)
            parts[seq].windows.append((0, win))
        for c, (w, view) in enumerate(zip(self.clip_window, self.clip_view)):
            part = parts[self.windows[w][0]]
            part.clip_window.append(local[w])
            part.clip_view.append(view)
            if self.clip_camera:
                part.clip_camera.append(self.clip_camera[c])
        for part, k in zip(parts, self.scale):
            part.scale.append(k)
        return parts

    def uses_cameras(self) -> bool:
        """True when clips have cameras or sequences a scale: then convert goes through the joints kernels."""
        return any(c is not None for c in self.clip_camera) or any(k != 1.0 for k in self.scale)

    def convert(self, *, dst_fps: float = 25.0, window: int = 250, backend: str = "auto", schema: str = "stick5",
                up: str = "z") -> np.ndarray:
        """Motion of every clip, float32 [C, window, ...] (stick5 [C, window, 20] by default), from one
        ``convert_batch`` call. stick5 without cameras or scales is the stick5 kernel by each clip's view; any
        other schema goes through the clips' cameras (clip_camera; None: orthographic at the view's yaw) and the
        sequences' scales."""
        from amass_fast.schemas.layouts import FRAME_SHAPE

        if self.num_clips == 0:
            return np.zeros((0, window, *FRAME_SHAPE[schema]), dtype=np.float32)
        tops = {v.top for v in self.clip_view}
        if len(tops) > 1:
            raise ValueError("one batch cannot mix the top view with yawed views")
        offsets = np.zeros(self.num_sequences + 1, dtype=np.int64)
        np.cumsum([len(p) for p in self.poses], out=offsets[1:])
        seq_of = np.array([self.windows[w][0] for w in self.clip_window], dtype=np.int64)
        start = np.array([self.windows[w][1].start for w in self.clip_window], dtype=np.int64)
        length = np.array([self.windows[w][1].length for w in self.clip_window], dtype=np.int64)
        yaw = np.array([v.yaw for v in self.clip_view], dtype=np.float64)
        poses, trans = np.concatenate(self.poses), np.concatenate(self.trans)
        rest = np.stack(self.rest_joints).astype(np.float32)
        if backend == "cuda":  # one host-to-device copy per batch
            import torch

            poses, trans, rest = (torch.from_numpy(a).cuda() for a in (poses, trans, rest))
        extra = {}
        if schema != "stick5" or self.uses_cameras():
            from amass_fast.schemas.cameras import Camera

            extra = dict(schema=schema, up=up, clip_scale=np.array([self.scale[s] if self.scale else 1.0
                                                                   for s in seq_of], dtype=np.float64))
            if schema != "joints3d":
                cams = [c if c is not None else Camera(yaw_deg=v.yaw).packed()
                        for c, v in zip(self.clip_camera or [None] * self.num_clips, self.clip_view)]
                extra["cameras"] = np.stack(cams)
        motion = convert_batch(poses, trans, offsets, np.array(self.fps), rest, BODY_PARENTS, seq_of, start, length,
                               yaw, dst_fps=dst_fps, window=window, top=tops.pop(), backend=backend, **extra)
        if backend == "cuda":
            motion = motion.cpu().numpy()
        return np.asarray(motion, dtype=np.float32)


class Skeletons:
    """Rest joints [22, 3] per sequence: the body model for its gender and kind found in ``model_dir``, else the
    built-in skeleton. Models are loaded once per (gender, kind) and rest joints computed once per (model, betas)."""

    def __init__(self, model_dir: Optional[str] = None):
        self.model_dir = model_dir
        self._models: dict = {}
        self._rest: dict = {}

    def model_for(self, gender: str, kind: str):
        from amass_fast.io import body_models

        key = (gender, kind)
        if key not in self._models:
            model = body_models.find_body_model(self.model_dir, gender, kind) if self.model_dir else None
            if model is None:
                if self.model_dir:
                    warnings.warn(f"no {gender} {kind} model in {self.model_dir}: using the built-in skeleton for "
                                  f"those sequences", UserWarning, stacklevel=2)
                model = body_models.default_body_model(warn=False)  # process says once per run that it is in use
            self._models[key] = model
        return self._models[key]

    def rest_joints(self, gender: str, kind: str, betas: np.ndarray) -> np.ndarray:
        model = self.model_for(gender, kind)
        betas = np.ascontiguousarray(betas, dtype=np.float64)
        key = (id(model), betas.tobytes())
        if key not in self._rest:
            self._rest[key] = np.asarray(model.rest_joints(betas), dtype=np.float64)[:NUM_BODY_JOINTS]
        return self._rest[key]
