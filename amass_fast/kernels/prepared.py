"""Prepared arguments: one checking function per operation, shared by every backend.

Each function here checks a public call's arguments once (types, dtypes, shapes, rates, bounds; errors name the
argument), decides where it computes (``Placement``: compute dtype, backend, the caller's kind and device) and
allocates its outputs, and returns an immutable record (a NamedTuple: cheap to build, once per call) that a backend
adapter (amass_fast.kernels.backends.<name>) runs as is.

In a record, the float arrays are C-contiguous in the compute dtype on the compute device (NumPy for the CPU
backends, torch tensors for cuda) and so are the outputs; the small index and rate arrays are checked NumPy int64 /
float64 on the host (the cuda adapter moves them). The compiled backends take a record itself: csrc/bindings.h
reads the fields it needs by name, so the field names are the C++ boundary too.
"""
from __future__ import annotations

import math
import sys
import warnings
from typing import Any, NamedTuple, Optional, Tuple, Union

import numpy as np

from amass_fast import finite
from amass_fast.kernels import reference, runtime
from amass_fast.kernels.runtime import is_tensor
from amass_fast.kernels.reference import NUM_BODY_JOINTS, STICK_DIM, VIEW_FRONT, VIEW_TOP, resampled_length
from amass_fast.schemas import layouts
from amass_fast.schemas.cameras import CAMERA_FIELDS, Camera, parse_view

SCHEMAS = layouts.SCHEMAS            # stick5, stick12, joints2d, joints3d
UPS = ("z", "y")
MAX_JOINTS = 64  # csrc/amass_math.h kMaxJoints
# Output frames one sequence (or one window) may have: more cannot be allocated, and int64 index arithmetic on
# them stays far from overflow.
MAX_OUTPUT_FRAMES = 1 << 31


# ---------------------------------------------------------------------------------------------------------------
# Where a call computes.

class Placement(NamedTuple):
    """One call: its name (for messages), the backend that runs it, the compute dtype, and the caller's kind
    (torch tensor or NumPy) and device, where the results go back."""

    op: str
    backend: str
    dtype: np.dtype
    tensor: bool
    device: Any  # the main input's torch device; None for NumPy

    @property
    def on_gpu(self) -> bool:
        """The backend computes on torch tensors on the data's device (runtime.DEVICE), not on host arrays."""
        return runtime.DEVICE[self.backend] == "cuda"

    def floats(self, x: Any, name: str, shape: tuple):
        """A float array in the compute dtype, on the compute device; shape: ints, None (any) or ('>=', n)."""
        if is_tensor(x):
            no_grad_needed(self.op, x, name)
            if not x.is_floating_point():
                raise TypeError(f"{self.op}: `{name}` must hold floats, got {x.dtype}")
            self.check_shape(tuple(x.shape), name, shape)
            torch = runtime.torch()
            dtype = torch.float64 if self.dtype == np.float64 else torch.float32
            if self.on_gpu:
                t = x.detach().to(device=self.device, dtype=dtype).contiguous()
                finite.check_array(t, self.op, name)
                return t
            a = x.detach().to(device="cpu", dtype=dtype).contiguous().numpy()
            finite.check_array(a, self.op, name)  # in the compute dtype: 1e39 is infinite in float32
            return a
        a = np.asarray(x)
        if a.dtype.kind not in "f":
            raise TypeError(f"{self.op}: `{name}` must hold floats, got {a.dtype}")
        self.check_shape(a.shape, name, shape)
        with np.errstate(over="ignore"):
            a = np.ascontiguousarray(a, dtype=self.dtype)
        finite.check_array(a, self.op, name)  # in the compute dtype: 1e39 is infinite in float32
        if self.on_gpu:
            return runtime.torch().from_numpy(a).to(self.device)
        return a

    def host(self, x: Any, name: str, dtype: type, shape: tuple) -> np.ndarray:
        """A small index / rate array on the host (checked here), int64 or float64."""
        a = no_grad_needed(self.op, x, name).detach().cpu().numpy() if is_tensor(x) else np.asarray(x)
        if dtype is np.int64 and a.dtype.kind not in "iu":
            raise TypeError(f"{self.op}: `{name}` must hold integers, got {a.dtype}")
        if dtype is np.float64 and a.dtype.kind not in "iuf":
            raise TypeError(f"{self.op}: `{name}` must hold numbers, got {a.dtype}")
        self.check_shape(a.shape, name, shape)
        return np.ascontiguousarray(a, dtype=dtype)

    def check_shape(self, got: tuple, name: str, want: tuple) -> None:
        ok = len(got) == len(want) and all(
            w is None or (g >= w[1] if isinstance(w, tuple) else g == w) for g, w in zip(got, want))
        if not ok:
            text = ", ".join("*" if w is None else (f">={w[1]}" if isinstance(w, tuple) else str(w)) for w in want)
            raise ValueError(f"{self.op}: `{name}` must have shape ({text}{',' if len(want) == 1 else ''}), "
                             f"got {tuple(got)}")

    def empty(self, shape: tuple):
        """An output array in the compute dtype, where the backend writes; refused (MemoryError giving the planned
        size and the limit) before it is allocated when the compute device cannot hold it."""
        runtime.check_allocation(self.op, shape, np.dtype(self.dtype).itemsize, self.device if self.on_gpu else None)
        if self.on_gpu:
            torch = runtime.torch()
            return torch.empty(shape, device=self.device,
                               dtype=torch.float64 if self.dtype == np.float64 else torch.float32)
        return np.empty(shape, dtype=self.dtype)

    def zeros(self, shape: tuple):
        """empty(shape) filled with zeros."""
        a = self.empty(shape)
        a[...] = 0
        return a

    def output(self, out: Any, shape: tuple):
        """The array the backend writes into: a caller's `out` checked (wrong kind/dtype/shape raise), or a new
        one (out None)."""
        if out is None:
            return self.empty(shape)
        want_kind = "a CUDA tensor" if self.on_gpu else ("a torch tensor" if self.tensor else "a NumPy array")
        if self.tensor != is_tensor(out):
            raise TypeError(f"{self.op}: `out` must be {want_kind} like `poses`, got {type(out).__name__}")
        if is_tensor(out):
            torch = runtime.torch()
            want = torch.float64 if self.dtype == np.float64 else torch.float32
            if out.dtype != want:
                raise TypeError(f"{self.op}: `out` must have dtype {want}, got {out.dtype}")
            if out.device != self.device:
                raise ValueError(f"{self.op}: `out` must be on {self.device}, got {out.device}")
            self.check_shape(tuple(out.shape), "out", shape)
            if not out.is_contiguous():
                raise ValueError(f"{self.op}: `out` must be contiguous")
            if self.on_gpu:
                return out.detach()  # same memory; DLPack refuses tensors that require grad
            if out.device.type != "cpu":  # computed on the CPU for a CUDA caller: fill a host copy, then copy back
                raise ValueError(f"{self.op}: `out` on {out.device} needs backend='cuda'")
            return out.detach().numpy()  # same memory
        if out.dtype != self.dtype:
            raise TypeError(f"{self.op}: `out` must have dtype {self.dtype}, got {out.dtype}")
        self.check_shape(out.shape, "out", shape)
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"{self.op}: `out` must be C-contiguous and writeable")
        return out

    def result(self, a):
        """A computed array as the caller's kind and device (NumPy stays NumPy)."""
        if self.on_gpu or not self.tensor:
            return a
        out = runtime.torch().from_numpy(np.ascontiguousarray(a, dtype=self.dtype))
        return out if self.device.type == "cpu" else out.to(self.device)


def no_grad_needed(op: str, x: Any, name: str):
    """`x` (a torch tensor) itself, or a ValueError naming the argument when it requires grad while autograd is
    recording: the op has no backward for it here, and detaching it silently would train nothing. Ops with a
    backward (amass_fast.kernels.torch_ops) detach their inputs themselves, inside the autograd function."""
    if x.requires_grad and runtime.torch().is_grad_enabled():
        raise ValueError(f"{op}: `{name}` requires grad, but {op} has no backward for `{name}`: its gradient "
                         f"would be lost. Pass `{name}.detach()` (or call under torch.no_grad()) to use it as a "
                         f"constant; docs/TORCH.md lists the ops and arguments that have a backward")
    return x


def place(op: str, main: Any, main_name: str, backend: str) -> Placement:
    """The Placement of a call whose main input (poses / joints) is `main`: its float dtype is the compute dtype
    (float64 stays float64, other floats compute in float32; integers are refused), its kind and device are the
    result's, and `backend` is resolved for data there."""
    tensor = is_tensor(main)
    on_cuda = tensor and main.device.type == "cuda"
    return Placement(op, _resolve(op, backend, on_cuda, tensor), _compute_dtype(op, main, main_name, tensor),
                     tensor, main.device if tensor else None)


def _compute_dtype(op: str, x: Any, name: str, tensor: bool) -> np.dtype:
    if tensor:
        if not x.is_floating_point():
            raise TypeError(f"{op}: `{name}` must hold floats (float32 or float64), got {x.dtype}")
        return np.dtype(np.float64 if x.dtype == runtime.torch().float64 else np.float32)
    kind = np.asarray(x).dtype
    if kind.kind != "f":
        raise TypeError(f"{op}: `{name}` must hold floats (float32 or float64), got {kind}")
    return np.dtype(np.float64 if kind == np.float64 else np.float32)


def _resolve(op: str, backend: str, on_cuda: bool, tensor: bool) -> str:
    """The backend of a call with data on a GPU (on_cuda) or not: runtime.resolve_backend, plus the checks that
    depend on where the data are."""
    if runtime.DEVICE.get(backend) == "cuda" and not on_cuda:
        raise ValueError(f"{op}: backend='cuda' needs CUDA torch tensors, got "
                         f"{'a CPU tensor' if tensor else 'a NumPy array'}: move the data with "
                         f".cuda() or use backend='cpp'")
    if backend == "auto" and on_cuda and runtime.cuda_problem() is not None:
        warnings.warn(f"the cuda backend is unavailable ({runtime.cuda_problem()}): computing on the CPU and "
                      f"copying back", RuntimeWarning, stacklevel=5)
    return runtime.resolve_backend(backend, data_on="cuda" if on_cuda else "cpu", op=op)


# ---------------------------------------------------------------------------------------------------------------
# Scalar checks.

def whole(value: Any, op: str, name: str, lo: int, hi: int) -> int:
    """`value` as an int in lo..hi, or a ValueError/TypeError that names the argument and what it got."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise TypeError(f"{op}: `{name}` must be a whole number in {lo}..{hi}, got {value!r} "
                        f"({type(value).__name__})")
    if not (math.isfinite(value) and value == int(value) and lo <= value <= hi):
        raise ValueError(f"{op}: `{name}` must be a whole number in {lo}..{hi}, got {value!r}")
    return int(value)


def positive_rate(op: str, value: Any, name: str) -> float:
    """A frame rate: a positive, finite, normal (not subnormal) float, else an error naming the argument."""
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{op}: `{name}` must be a frame rate (a number), got {value!r}")
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: `{name}` must be a frame rate (a number), got {value!r}") from None
    if not (math.isfinite(rate) and rate >= sys.float_info.min):
        raise ValueError(f"{op}: `{name}` must be a positive, finite frame rate of at least "
                         f"{sys.float_info.min:.3g}, got {value!r}")
    return rate


def output_length(op: str, frames: int, src: float, dst: float, name: str = "src_fps") -> int:
    """reference.resampled_length(frames, src, dst), refused (naming the rate) beyond MAX_OUTPUT_FRAMES."""
    span = (frames - 1) * dst / src
    if not span < MAX_OUTPUT_FRAMES:
        raise ValueError(f"{op}: `{name}` = {src!r} makes {frames} frames {span + 1:.4g} frames at "
                         f"dst_fps = {dst!r}, more than {MAX_OUTPUT_FRAMES:,}; the rate is wrong")
    return resampled_length(frames, src, dst)


def _view_mode(op: str, schema: str, view: Union[str, float]) -> Tuple[int, float]:
    if schema != "stick5":
        raise ValueError(f"{op}: schema must be stick5 (other schemas: convert / convert_batch); got {schema!r}")
    top, yaw = parse_view(view)
    return (VIEW_TOP if top else VIEW_FRONT), yaw


def _parents(p: Placement, parents: Any, num_joints: int) -> np.ndarray:
    parents = p.host(parents, "parents", np.int64, (("min", num_joints),))
    head = parents[:num_joints]
    if num_joints > MAX_JOINTS:
        raise ValueError(f"{p.op}: at most {MAX_JOINTS} joints are supported, got {num_joints}")
    bad = np.flatnonzero((head < 0) | (head >= np.arange(num_joints)))
    bad = bad[bad > 0]
    if head[0] >= 0 or len(bad):
        j = 0 if head[0] >= 0 else int(bad[0])
        raise ValueError(f"{p.op}: `parents` must have parents[0] = -1 and 0 <= parents[j] < j for j >= 1 "
                         f"(the joints in chain order); parents[{j}] = {int(head[j])}")
    return parents


def _shape(x: Any) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


# ---------------------------------------------------------------------------------------------------------------
# The operations' records and their checking functions.

class Fk(NamedTuple):
    """fk: poses [F, >=3J], trans [F, 3], rest_joints [J, 3], parents int64 [J] -> out [F, J, 3]."""
    place: Placement
    poses: Any
    trans: Any
    rest_joints: Any
    parents: np.ndarray
    out: Any


def fk(poses, trans, rest_joints, parents, backend: str) -> Fk:
    """The checked arguments of kernels.fk."""
    p = place("fk", poses, "poses", backend)
    rest = p.floats(rest_joints, "rest_joints", (None, 3))
    J = rest.shape[0]
    if not 1 <= J <= MAX_JOINTS:
        raise ValueError(f"fk: `rest_joints` must hold 1..{MAX_JOINTS} joints, got {J}")
    pose_arr = p.floats(poses, "poses", (None, ("min", 3 * J)))
    F = pose_arr.shape[0]
    trans_arr = p.floats(trans, "trans", (F, 3))
    par = _parents(p, parents, J)[:J].copy()
    return Fk(p, pose_arr, trans_arr, rest, par, p.empty((F, J, 3)))


class FkBackward(NamedTuple):
    """fk's backward: fk's record (its `out` unused), grad_out [F, J, 3] -> grad_poses [F, P], grad_trans [F, 3]
    and, unless None, grad_rest [F, J, 3] (each frame's part; the caller sums them)."""
    fwd: Fk
    grad_out: Any
    grad_poses: Any
    grad_trans: Any
    grad_rest: Any


def fk_backward(poses, trans, rest_joints, parents, grad_out, backend: str, with_rest: bool) -> FkBackward:
    """The checked arguments of fk's backward (poses, trans, rest_joints and parents as kernels.fk takes them)."""
    f = fk(poses, trans, rest_joints, parents, backend)
    p = f.place
    F, J = f.out.shape[:2]
    grad = p.floats(grad_out, "grad_out", (F, J, 3))
    return FkBackward(f, grad, p.empty(f.poses.shape), p.empty((F, 3)), p.empty((F, J, 3)) if with_rest else None)


class Resample(NamedTuple):
    """resample_poses: poses [F, 3K], trans [F, 3], rates -> out_poses [T, 3K], out_trans [T, 3]."""
    place: Placement
    poses: Any
    trans: Any
    src_fps: float
    dst_fps: float
    out_poses: Any
    out_trans: Any


def resample_poses(poses, trans, src_fps, dst_fps, backend: str) -> Resample:
    """The checked arguments of kernels.resample_poses."""
    p = place("resample_poses", poses, "poses", backend)
    pose_arr = p.floats(poses, "poses", (None, None))
    F, P = pose_arr.shape
    if F < 1 or P % 3:
        raise ValueError(f"resample_poses: `poses` must be [F >= 1, 3K] (axis-angle triples), got {(F, P)}")
    trans_arr = p.floats(trans, "trans", (F, 3))
    src, dst = positive_rate(p.op, src_fps, "src_fps"), positive_rate(p.op, dst_fps, "dst_fps")
    T = output_length(p.op, F, src, dst)
    return Resample(p, pose_arr, trans_arr, src, dst, p.empty((T, P)), p.empty((T, 3)))


class Project(NamedTuple):
    """project: joints [F, >=22, 3], camera yaw and view mode -> out [F, 20]."""
    place: Placement
    joints: Any
    yaw_deg: float
    view_mode: int
    out: Any


def project(joints, schema: str, view: Union[str, float], backend: str) -> Project:
    """The checked arguments of kernels.project."""
    p = place("project", joints, "joints", backend)
    view_mode, yaw = _view_mode(p.op, schema, view)
    arr = p.floats(joints, "joints", (None, ("min", NUM_BODY_JOINTS), 3))
    F = arr.shape[0]
    if F < 1:
        raise ValueError("project: `joints` has no frames")
    return Project(p, arr, yaw, view_mode, p.empty((F, STICK_DIM)))


class ClipBatch(NamedTuple):
    """The sequences and clip windows of a batch call: poses [N, >=66], trans [N, 3], seq_offsets int64 [S + 1],
    seq_fps float64 [S], rest_joints [S, >=22, 3], parents int64 [>=22], clip_seq / clip_start / clip_len int64
    [C], dst_fps and window."""
    poses: Any
    trans: Any
    seq_offsets: np.ndarray
    seq_fps: np.ndarray
    rest_joints: Any
    parents: np.ndarray
    clip_seq: np.ndarray
    clip_start: np.ndarray
    clip_len: np.ndarray
    dst_fps: float
    window: int

    @property
    def clips(self) -> int:
        return len(self.clip_seq)

    @property
    def sources(self) -> tuple:
        """poses .. clip_len: the leading arguments of the batch functions of reference and numba_backend."""
        return self[:9]


class StickBatch(NamedTuple):
    """convert_batch, stick5 by camera yaw: clip_yaw float64 [C] (degrees), view_mode -> out [C, window, 20]."""
    place: Placement
    batch: ClipBatch
    clip_yaw: np.ndarray
    view_mode: int
    out: Any


class JointsBatch(NamedTuple):
    """convert_joints_batch: clip_scale float64 [C], clip_camera float64 [C, 6] (packed cameras), up (reference.UP_Z
    or UP_Y) -> out [C, window, 22, 3] (joints3d) or [C, window, 22, 2] (joints2d). `schema` is what the caller
    asked for: the line schemas (stick5 / stick12) are gathered from the joints2d afterwards."""
    place: Placement
    batch: ClipBatch
    clip_scale: np.ndarray
    clip_camera: np.ndarray
    up: int
    schema: str
    out: Any


def convert_batch(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len,
                  clip_yaw, dst_fps, window, top: bool, backend: str, out: Any, schema: str, cameras: Any,
                  up: str, clip_scale: Any) -> Union[StickBatch, JointsBatch]:
    """The checked arguments of kernels.convert_batch: a StickBatch (stick5 without cameras) or a JointsBatch
    (every other schema, and stick5 through cameras)."""
    if schema not in SCHEMAS:
        raise ValueError(f"convert_batch: schema must be one of {', '.join(SCHEMAS)}; got {schema!r}")
    if schema != "stick5" or cameras is not None:
        return _joints_batch(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start,
                             clip_len, clip_yaw, dst_fps, window, top, backend, out, schema, cameras, up, clip_scale)
    if clip_scale is not None:
        raise ValueError("convert_batch: clip_scale applies to stick12, joints2d and joints3d, or to stick5 through "
                         "cameras; stick5 by clip_yaw keeps the body's size")
    p = place("convert_batch", poses, "poses", backend)
    batch = _clip_batch(p, poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len,
                        window, dst_fps)
    yaw = _clip_yaw(p, clip_yaw, batch.clips)
    target = p.output(out, (batch.clips, batch.window, STICK_DIM))
    return StickBatch(p, batch, yaw, VIEW_TOP if top else VIEW_FRONT, target)


def _joints_batch(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len,
                  clip_yaw, dst_fps, window, top, backend, out, schema, cameras, up, clip_scale) -> JointsBatch:
    p = place("convert_batch", poses, "poses", backend)
    if top:
        raise ValueError(f"convert_batch: top (the ground-plane view) is a stick5 view; schema {schema!r} takes "
                         f"cameras (an elevation of 90 looks from straight above)")
    if up not in UPS:
        raise ValueError(f"convert_batch: up must be one of {', '.join(UPS)}; got {up!r}")
    if schema == "joints3d" and cameras is not None:
        raise ValueError("convert_batch: joints3d is the canonical 3D frame, without a camera; pass cameras only "
                         "for stick5, stick12 or joints2d")
    batch = _clip_batch(p, poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len,
                        window, dst_fps)
    C = batch.clips
    yaw = _clip_yaw(p, clip_yaw, C)
    cams = _cameras(p, cameras, yaw, C)
    scale = p.host(np.ones(C) if clip_scale is None else clip_scale, "clip_scale", np.float64, (C,))
    if not np.all(np.isfinite(scale) & (scale > 0)):
        raise ValueError("convert_batch: `clip_scale` must be positive, finite factors")
    finite.check_values(scale, p.dtype, p.op, "clip_scale")
    shape = (C, batch.window) + layouts.FRAME_SHAPE[schema]
    if schema in ("joints2d", "joints3d"):
        joints = p.output(out, shape)
    else:  # the lines are gathered from joints2d afterwards: a caller's `out` is checked now, filled then
        if out is not None:
            p.output(out, shape)
        joints = p.empty((C, batch.window, NUM_BODY_JOINTS, 2))
    return JointsBatch(p, batch, scale, cams, reference.UP_Y if up == "y" else reference.UP_Z, schema, joints)


class JointsBackward(NamedTuple):
    """convert_joints_batch's backward: its record (its `out` unused), grad_out [C, window, 22, 3 or 2] ->
    grad_poses [N, P], grad_trans [N, 3] (zeros: the backends add into them)."""
    fwd: JointsBatch
    grad_out: Any
    grad_poses: Any
    grad_trans: Any


def convert_joints_batch_backward(fwd: JointsBatch, grad_out) -> JointsBackward:
    """The record of convert_joints_batch's backward; grad_out as the backend takes it (compute dtype, contiguous,
    on the compute device)."""
    b, p = fwd.batch, fwd.place
    return JointsBackward(fwd, grad_out, p.zeros(b.poses.shape), p.zeros(b.trans.shape))


def _clip_yaw(p: Placement, clip_yaw: Any, C: int) -> np.ndarray:
    yaw = p.host(np.zeros(C) if clip_yaw is None else clip_yaw, "clip_yaw", np.float64, (C,))
    if C:
        bad = np.flatnonzero(~np.isfinite(yaw))
        if len(bad):
            raise ValueError(f"convert_batch: `clip_yaw` must be finite degrees; clip_yaw[{bad[0]}] = {yaw[bad[0]]}")
        finite.check_values(yaw, p.dtype, p.op, "clip_yaw")
    return yaw


def _clip_batch(p: Placement, poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start,
                clip_len, window, dst_fps) -> ClipBatch:
    """The sequences and clip windows of a batch call, checked."""
    window = whole(window, p.op, "window", 1, MAX_OUTPUT_FRAMES)
    dst = positive_rate(p.op, dst_fps, "dst_fps")
    pose_arr = p.floats(poses, "poses", (None, ("min", 3 * NUM_BODY_JOINTS)))
    N = pose_arr.shape[0]
    trans_arr = p.floats(trans, "trans", (N, 3))
    offsets = p.host(seq_offsets, "seq_offsets", np.int64, (None,))
    S = len(offsets) - 1
    if S < 0:
        raise ValueError("convert_batch: `seq_offsets` must have S + 1 >= 1 entries, got none")
    frames = np.diff(offsets)
    if offsets[0] < 0 or offsets[-1] > N or (frames < 1).any():
        raise ValueError(f"convert_batch: `seq_offsets` must increase strictly (every sequence >= 1 frame) within "
                         f"0..{N} (the rows of poses), got {offsets.tolist() if S < 8 else offsets}")
    fps = p.host(seq_fps, "seq_fps", np.float64, (S,))
    bad = np.flatnonzero(~(np.isfinite(fps) & (fps >= sys.float_info.min)))
    if len(bad):
        raise ValueError(f"convert_batch: `seq_fps` must be positive, finite frame rates of at least "
                         f"{sys.float_info.min:.3g}; seq_fps[{bad[0]}] = {fps[bad[0]]!r}")
    span = (frames - 1) * dst / fps  # the resampled length of every sequence, checked before it becomes an int
    bad = np.flatnonzero(~(span < MAX_OUTPUT_FRAMES))
    if len(bad):
        s = int(bad[0])
        raise ValueError(f"convert_batch: `seq_fps[{s}]` = {fps[s]!r} makes {frames[s]} frames {span[s] + 1:.4g} "
                         f"frames at dst_fps = {dst!r}, more than {MAX_OUTPUT_FRAMES:,}; the rate is wrong")
    lengths = np.floor(span + reference.LENGTH_EPS).astype(np.int64) + 1  # <= MAX_OUTPUT_FRAMES: no overflow below
    rest = p.floats(rest_joints, "rest_joints", (S, ("min", NUM_BODY_JOINTS), 3))
    par = _parents(p, parents, NUM_BODY_JOINTS)
    cseq = p.host(clip_seq, "clip_seq", np.int64, (None,))
    C = len(cseq)
    cstart = p.host(clip_start, "clip_start", np.int64, (C,))
    clen = p.host(clip_len, "clip_len", np.int64, (C,))
    if C:
        if cseq.min() < 0 or cseq.max() >= S:
            raise ValueError(f"convert_batch: `clip_seq` must name sequences 0..{S - 1}, got {cseq.min()}..{cseq.max()}")
        if clen.min() < 1 or clen.max() > window:
            raise ValueError(f"convert_batch: `clip_len` must be in 1..window = {window}, got "
                             f"{clen.min()}..{clen.max()}")
        # Overflow-safe: no clip_start + clip_len, which wraps around for a start near 2**63.
        outside = np.flatnonzero((cstart < 0) | (cstart > lengths[cseq] - clen))
        if len(outside):
            c = int(outside[0])
            raise ValueError(f"convert_batch: clip {c} (`clip_start` = {cstart[c]}, `clip_len` = {clen[c]}) lies "
                             f"outside its sequence {cseq[c]}, which has output frames 0..{lengths[cseq[c]] - 1} at "
                             f"{dst} fps")
    return ClipBatch(pose_arr, trans_arr, offsets, fps, rest, par, cseq, cstart, clen, dst, window)


def _cameras(p: Placement, cameras, yaw: np.ndarray, C: int) -> np.ndarray:
    """Packed cameras float64 [C, 6] from [6] or [C, 6] (None: orthographic at the clips' yaws), checked."""
    if cameras is None:
        packed = np.tile(Camera().packed(), (C, 1))
        packed[:, CAMERA_FIELDS.index("yaw_deg")] = yaw
        return packed
    if is_tensor(cameras):
        cams = no_grad_needed(p.op, cameras, "cameras").detach().cpu().numpy()
    else:
        cams = np.asarray(cameras)
    if cams.dtype.kind not in "iuf":
        raise TypeError(f"{p.op}: `cameras` must hold numbers, got {cams.dtype}")
    if cams.shape == (len(CAMERA_FIELDS),):
        cams = np.tile(cams, (C, 1))
    p.check_shape(cams.shape, "cameras", (C, len(CAMERA_FIELDS)))
    cams = np.ascontiguousarray(cams, dtype=np.float64)
    kind, elev, dist, focal = (cams[:, CAMERA_FIELDS.index(n)] for n in
                               ("perspective", "elevation_deg", "distance_m", "focal_mm"))
    bad = np.flatnonzero(~np.all(np.isfinite(cams), axis=1) | ~np.isin(kind, (0.0, 1.0)) | (np.abs(elev) > 90.0)
                         | ~(dist > 0) | ~(focal > 0))
    if len(bad):
        raise ValueError(f"{p.op}: cameras[{bad[0]}] = {cams[bad[0]].tolist()} is not a packed camera "
                         f"{CAMERA_FIELDS}: perspective 0 or 1, finite values, elevation in -90..90, distance "
                         f"and focal length > 0")
    finite.check_values(cams, p.dtype, p.op, "cameras")
    return cams


class Convert(NamedTuple):
    """kernels.convert as one clip of convert_batch: the checked rates, length, view and camera; rest_joints as
    given (shape checked), for the mirror about its pelvis."""
    frames: int
    src_fps: float
    dst_fps: float
    length: int
    view_mode: int
    yaw_deg: float
    rest_joints: Any
    cameras: Any       # packed [6] or None (stick5 by yaw)
    clip_scale: Optional[np.ndarray]


def convert(poses, rest_joints, src_fps, dst_fps, schema: str, view, backend: str, camera: Any,
            scale: float) -> Convert:
    """The checked arguments of kernels.convert (the rest is checked by convert_batch)."""
    p = place("convert", poses, "poses", backend)
    if schema not in SCHEMAS:
        raise ValueError(f"convert: schema must be one of {', '.join(SCHEMAS)}; got {schema!r}")
    view_mode, yaw = _view_mode(p.op, "stick5", view)
    shape = _shape(poses)
    F = shape[0] if len(shape) == 2 else 0
    if F < 1:
        raise ValueError(f"convert: `poses` must be [F >= 1, >=66], got shape {shape}")
    src, dst = positive_rate(p.op, src_fps, "src_fps"), positive_rate(p.op, dst_fps, "dst_fps")
    T = output_length(p.op, F, src, dst)
    rest = rest_joints if is_tensor(rest_joints) else np.asarray(rest_joints)
    p.check_shape(_shape(rest), "rest_joints", (("min", NUM_BODY_JOINTS), 3))
    cameras = None if camera is None else (camera.packed() if isinstance(camera, Camera) else camera)
    if schema == "stick5" and cameras is None and scale != 1.0:  # a scaled stick5: through the view's camera
        cameras = Camera(yaw_deg=yaw).packed()
    plain = schema == "stick5" and cameras is None
    return Convert(F, src, dst, T, view_mode, yaw, rest, cameras,
                   None if plain else np.array([scale], dtype=np.float64))
