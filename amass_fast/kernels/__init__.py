"""The public kernels of the hot path, and the choice of backend that runs them.

    fk(poses, trans, rest_joints, parents)                      -> joints [F, J, 3]
    resample_poses(poses, trans, src_fps, dst_fps=25.0)         -> (poses [T, P], trans [T, 3])
    project(joints, schema="stick5", view="front")              -> sticks [F, 20]
    convert(poses, trans, rest_joints, parents, src_fps, ...)   -> motion [T, ...]   (one sequence, one clip)
    convert_batch(poses, trans, seq_offsets, ..., clip_yaw)     -> motion [C, window, ...]   (ragged batch)

``schema=`` of convert / convert_batch picks the motion per frame (docs/SCHEMAS.md): "stick5" [20] (default),
"stick12" [48], "joints2d" [22, 2] (through a camera per clip) or "joints3d" [22, 3] (the clip's canonical frame).

Every function takes NumPy arrays or torch tensors (CPU or CUDA), float32 or float64, and returns the kind,
device and dtype of its main input (``poses`` / ``joints``); other float dtypes compute and return float32,
integer data are refused. The float64 NumPy specification of the math is ``amass_fast.kernels.reference``.

Backends (``backend=``): ``"cuda"`` (amass_fast._cuda, CUDA torch tensors), ``"cpp"`` (amass_fast._core, C++ and
OpenMP), ``"numba"`` (amass_fast.kernels.numba_backend), ``"reference"`` (amass_fast.kernels.reference, slow). ``"auto"`` picks
cuda for CUDA tensors, else cpp where _core is built, else numba (``resolve_backend``, the one meaning of "auto").

Every function here is prepare -> adapter: amass_fast.kernels.prepared checks all arguments once, the same way
for every backend (a bad call raises a ValueError/TypeError that names the argument whichever backend runs it),
and the backend's adapter (amass_fast.kernels.backends.<name>) runs the prepared record.

Inside: prepared (the checks, once), runtime (backends, threads), reference (float64), numba_backend (the numba
mirror of csrc/amass_math.h), torch_ops (the torch custom ops and their autograd), backends/ (one adapter per
backend). May import amass_fast.schemas, amass_fast.finite, amass_fast._build; never io or anything above.
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from amass_fast.kernels import prepared, runtime
from amass_fast.kernels.backends import adapter
from amass_fast.kernels.prepared import MAX_OUTPUT_FRAMES, SCHEMAS, UPS
from amass_fast.kernels.runtime import BACKENDS, available_backends, get_num_threads, is_tensor, resolve_backend
from amass_fast.kernels.reference import NUM_BODY_JOINTS, VIEW_TOP, resampled_length
from amass_fast.schemas import layouts
from amass_fast.schemas.cameras import parse_view
from amass_fast.schemas.mirror import mirrored

__all__ = ["fk", "resample_poses", "project", "convert", "convert_batch", "mirror_params", "lines_from_joints2d",
           "available_backends", "resolve_backend",
           "set_num_threads", "get_num_threads", "parse_view", "resampled_length", "BACKENDS"]

# Re-exported for callers that size or check their own calls.
__all__ += ["MAX_OUTPUT_FRAMES", "SCHEMAS", "UPS"]


def set_num_threads(n: Optional[int]) -> None:
    """Threads of the CPU backends (cpp's OpenMP loops and numba's parallel loops): a whole number in
    1..amass_fast.kernels.runtime.MAX_THREADS (huge counts can crash OpenMP runtimes); None restores cpp's default."""
    runtime.set_threads(None if n is None else prepared.whole(n, "set_num_threads", "n", 1, runtime.MAX_THREADS))


# ---------------------------------------------------------------------------------------------------------------
# Public kernels: prepare (every check) -> the resolved backend's adapter -> the result as the caller's kind.

def fk(poses, trans, rest_joints, parents, backend: str = "auto"):
    """Forward kinematics: poses [F, >=3J] axis-angle, trans [F, 3], rest_joints [J, 3] (one body's rest-pose
    joints), parents int [J] (parents[0] = -1, parents[j] < j) -> world joint positions [F, J, 3]."""
    if is_tensor(poses):  # the torch op: differentiable, and traced by torch.compile / torch.export
        return _torch_ops().fk(poses, trans, rest_joints, parents, backend)
    p = prepared.fk(poses, trans, rest_joints, parents, backend)
    adapter(p.place.backend).fk(p)
    return p.place.result(p.out)


def resample_poses(poses, trans, src_fps: float, dst_fps: float = 25.0, backend: str = "auto"):
    """Resample by time from src_fps to dst_fps: each rotation (3 axis-angle values) slerped, translation lerped
    between the two neighbouring source frames. poses [F, P] (P a multiple of 3), trans [F, 3] ->
    (poses [T, P], trans [T, 3]) with T = reference.resampled_length(F, src_fps, dst_fps)."""
    p = prepared.resample_poses(poses, trans, src_fps, dst_fps, backend)
    adapter(p.place.backend).resample_poses(p)
    return p.place.result(p.out_poses), p.place.result(p.out_trans)


def project(joints, schema: str = "stick5", view: Union[str, float] = "front", backend: str = "auto"):
    """World joints of one clip [F, >=22, 3] (AMASS frame, Z up) -> stick lines [F, 20] in screen space (metres;
    x right, y up). ``view``: "front" (the body faces the camera at frame 0), "side", "top", or a yaw in degrees."""
    p = prepared.project(joints, schema, view, backend)
    adapter(p.place.backend).project(p)
    return p.place.result(p.out)


def convert(poses, trans, rest_joints, parents, src_fps: float, dst_fps: float = 25.0, schema: str = "stick5",
            view: Union[str, float] = "front", backend: str = "auto", *, camera: Any = None, mirror: bool = False,
            up: str = "z", scale: float = 1.0):
    """One sequence -> motion at dst_fps: resample, FK and the schema fused in one pass (one clip covering all
    T = reference.resampled_length(F, src_fps, dst_fps) frames). poses [F, >=66], trans [F, 3], rest_joints
    [>=22, 3], parents int [>=22].

    schema: "stick5" -> [T, 20] (default), "stick12" -> [T, 48], "joints2d" -> [T, 22, 2], "joints3d" ->
    [T, 22, 3] (docs/SCHEMAS.md). camera: a ``schemas.Camera`` or packed [6] for the 2D schemas (default: the
    orthographic camera of ``view``). mirror: convert the left-right mirrored motion (``schemas.mirror_params``
    on the body poses, about the rest pelvis). up ("z" or "y") and scale: joints3d's up axis and the canonical
    scale (``schemas.height_scale``) of every schema but stick5 without a camera."""
    c = prepared.convert(poses, rest_joints, src_fps, dst_fps, schema, view, backend, camera, scale)
    if mirror:
        poses, trans = mirror_params(poses, trans, c.rest_joints[0])
    one = np.zeros(1, dtype=np.int64)
    return convert_batch(poses, trans, np.array([0, c.frames]), np.array([c.src_fps]), c.rest_joints[None],
                         parents, one, one, np.array([c.length]), np.array([c.yaw_deg]), dst_fps=c.dst_fps,
                         window=c.length, top=c.view_mode == VIEW_TOP, backend=backend, schema=schema,
                         cameras=c.cameras, up=up, clip_scale=c.clip_scale)[0]


def mirror_params(poses, trans, rest_pelvis=None):
    """The left-right mirrored body poses [F, 66] and trans [F, 3] of poses [F, >=66] (only the 22 body joints are
    kept) and trans, as ``schemas.mirror_params`` computes them, for NumPy arrays or torch tensors on any device."""
    shape, trans_shape = tuple(np.shape(poses)), tuple(np.shape(trans))
    if len(shape) != 2 or shape[1] < 3 * NUM_BODY_JOINTS:
        raise ValueError(f"mirror_params: `poses` must be [F, >={3 * NUM_BODY_JOINTS}] (the body's axis-angles), got "
                         f"shape {list(shape)}")
    if trans_shape != (shape[0], 3):
        raise ValueError(f"mirror_params: `trans` must be [F, 3] = [{shape[0]}, 3] like poses, got "
                         f"{list(trans_shape)}")
    p_x = 0.0 if rest_pelvis is None else float(rest_pelvis[0])
    body = poses[:, :3 * NUM_BODY_JOINTS] if is_tensor(poses) else np.asarray(poses)[:, :3 * NUM_BODY_JOINTS]
    return mirrored(body, trans if is_tensor(poses) else np.asarray(trans), p_x)


def convert_batch(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len,
                  clip_yaw=None, *, dst_fps: float = 25.0, window: int = 250, top: bool = False,
                  backend: str = "auto", out: Optional[Any] = None, schema: str = "stick5",
                  cameras: Optional[Any] = None, up: str = "z", clip_scale: Optional[Any] = None):
    """Ragged batch: S sequences concatenated along frames, C clips (windows) over them -> motion [C, window, ...]:
    stick5 [C, window, 20] (the default), stick12 [C, window, 48], joints2d [C, window, 22, 2] or joints3d
    [C, window, 22, 3] by ``schema`` (docs/SCHEMAS.md).

    poses [N, >=66] axis-angle, trans [N, 3]: all sequences' source frames, concatenated.
    seq_offsets int [S + 1]: sequence s owns rows seq_offsets[s]:seq_offsets[s + 1] (strictly increasing).
    seq_fps [S]: each sequence's frame rate. rest_joints [S, >=22, 3]: each sequence's rest-pose joints.
    parents int [>=22]: the chain; only the 22 body joints are evaluated.
    clip_seq int [C]: each clip's sequence. clip_start int [C]: its first frame, counted in dst_fps frames from
    the sequence start. clip_len int [C]: its valid frames (1..window); frames at and after clip_len repeat the
    last valid one. clip_yaw [C]: camera yaw in degrees relative to the body's facing at the clip's first frame
    (default 0: the front view). top: the ground-plane view instead (stick5 only; clip_yaw ignored). Each clip
    must lie inside its sequence's reference.resampled_length(frames, fps, dst_fps) output frames.
    cameras: packed cameras (schemas.cameras.CAMERA_FIELDS) float [6] (one for all) or [C, 6] for the 2D schemas;
    default: the orthographic camera at clip_yaw. up: "z" or "y", joints3d's up axis. clip_scale [C]: canonical
    scale per clip (default 1; schemas.height_scale gives stick-gen's 1.8 m).
    out: optional array of the result's shape to fill (same kind, device and dtype as the result); it is returned.
    Semantics: amass_fast.kernels.reference.convert_batch for stick5 without cameras; else
    amass_fast.kernels.reference.convert_joints_batch, then stick5 / stick12 from joints2d by schemas.layouts.
    """
    if is_tensor(poses):  # the torch ops: traced by torch.compile / torch.export
        motion = _torch_ops().convert_batch(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq,
                                            clip_start, clip_len, clip_yaw, dst_fps, window, top, backend, schema,
                                            cameras, up, clip_scale)
        if schema in ("stick5", "stick12") and motion.shape[-1] == 2:
            motion = lines_from_joints2d(motion, schema)
        if out is None:
            return motion
        prepared.place("convert_batch", poses, "poses", backend).output(out, tuple(motion.shape))  # checks `out`
        return _fill(out, motion)
    p = prepared.convert_batch(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start,
                               clip_len, clip_yaw, dst_fps, window, top, backend, out, schema, cameras, up, clip_scale)
    if isinstance(p, prepared.StickBatch):
        adapter(p.place.backend).convert_batch(p)
        return out if out is not None else p.place.result(p.out)
    adapter(p.place.backend).convert_joints_batch(p)
    if p.schema in ("joints2d", "joints3d"):
        return out if out is not None else p.place.result(p.out)
    motion = lines_from_joints2d(p.place.result(p.out), p.schema)
    return motion if out is None else _fill(out, motion)


def _fill(out, motion):
    """A caller's `out` filled with `motion` (checked by prepared first: kind, dtype, shape) and returned."""
    if is_tensor(out):  # written as the backends write it (an `out` that requires grad is a buffer here)
        out.detach().copy_(motion if is_tensor(motion) else runtime.torch().from_numpy(np.ascontiguousarray(motion)))
    else:
        out[...] = motion
    return out


def _torch_ops():
    """amass_fast.kernels.torch_ops (imports torch and registers the ops on first use; a tensor means torch is there)."""
    from amass_fast.kernels import torch_ops
    return torch_ops


def lines_from_joints2d(joints2d, schema: str):
    """stick5 [..., T, 20] or stick12 [..., T, 48] from joints2d [..., T, 22, 2] (NumPy or torch, any device):
    schemas.layouts.lines, the one body of the line schemas."""
    return layouts.lines(joints2d, schema)
