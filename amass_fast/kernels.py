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
integer data are refused. The float64 NumPy specification of the math is ``amass_fast.reference``.

Backends (``backend=``): ``"cuda"`` (amass_fast._cuda, CUDA torch tensors), ``"cpp"`` (amass_fast._core, C++ and
OpenMP), ``"numba"`` (amass_fast.numba_backend), ``"reference"`` (amass_fast.reference, slow). ``"auto"`` picks
cuda for CUDA tensors, else cpp where _core is built, else numba. All arguments are checked here, the same way for
every backend, so a bad call raises a ValueError/TypeError that names the argument whichever backend runs it.
"""
from __future__ import annotations

import importlib
import math
import sys
import warnings
from typing import Any, Optional, Tuple, Union

import numpy as np

from amass_fast import reference
from amass_fast.reference import NUM_BODY_JOINTS, STICK_DIM, VIEW_FRONT, VIEW_TOP, resampled_length
from amass_fast.schemas import layouts
from amass_fast.schemas.cameras import CAMERA_FIELDS, Camera
from amass_fast.schemas.mirror import AXIS_ANGLE_SIGNS, pose_permutation

__all__ = ["fk", "resample_poses", "project", "convert", "convert_batch", "mirror_params", "lines_from_joints2d",
           "available_backends", "resolve_backend",
           "set_num_threads", "get_num_threads", "parse_view", "resampled_length", "BACKENDS"]

BACKENDS = ("cuda", "cpp", "numba", "reference")
SCHEMAS = layouts.SCHEMAS            # stick5, stick12, joints2d, joints3d
UPS = ("z", "y")
_MAX_JOINTS = 64  # csrc/amass_math.h kMaxJoints
# Output frames one sequence (or one window) may have: more cannot be allocated, and int64 index arithmetic on
# them stays far from overflow.
MAX_OUTPUT_FRAMES = 1 << 31

_modules: dict = {}


def _load(name: str):
    """amass_fast.<name>, or None if it does not import (cached; the error is kept for messages)."""
    if name not in _modules:
        try:
            _modules[name] = importlib.import_module(f"amass_fast.{name}")
        except ImportError as exc:
            _modules[name] = None
            _modules[name + ":error"] = exc
    return _modules[name]


def _torch():
    """torch if the caller has imported it; a tensor cannot exist otherwise, so never import it here."""
    return sys.modules.get("torch")


def _is_tensor(x: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def _cuda_problem() -> Optional[str]:
    """Why the cuda backend cannot run here, or None when it can. Checks torch and the module's own (static) CUDA
    runtime, which can need a newer driver than torch's: then cuda is not offered rather than failing later."""
    cuda = _load("_cuda")
    if cuda is None:
        return f"amass_fast._cuda does not import: {_modules.get('_cuda:error')}; rebuild with AMASS_FAST_CUDA=ON"
    torch = _torch()
    if torch is None or not torch.cuda.is_available():
        return "torch sees no GPU"
    info = _cuda_runtime(cuda)
    if info["device_count"] < 1:
        return f"amass_fast._cuda finds no GPU: {info['error']}"
    return None


def _cuda_runtime(cuda) -> dict:
    """_cuda.runtime_info(), asked once: the driver does not change while the process runs."""
    if "_cuda:runtime" not in _modules:
        _modules["_cuda:runtime"] = cuda.runtime_info()
    return _modules["_cuda:runtime"]


def _cuda_usable() -> bool:
    return _cuda_problem() is None


def available_backends() -> list:
    """The backends that work on this machine, fastest first: "cuda" only where _cuda is built and torch sees a
    GPU, "cpp" where _core is built, "numba" where numba imports, "reference" always."""
    cuda = _load("_cuda")
    if "torch" not in sys.modules and cuda is not None and _cuda_runtime(cuda)["device_count"] > 0:
        try:  # the CUDA backend takes torch tensors: import torch (seconds) only where a GPU is there to use
            import torch  # noqa: F401
        except ImportError:
            pass
    names = []
    if _cuda_usable():
        names.append("cuda")
    if _load("_core") is not None:
        names.append("cpp")
    if _load("numba_backend") is not None:
        names.append("numba")
    names.append("reference")
    return names


def resolve_backend(requested: str = "auto", *, data_on: str = "any", op: str = "backend") -> str:
    """The one meaning of a backend name, for every caller (the kernels here, `amass-fast process`).

    "auto": "cuda" where it is usable and the data are on a GPU (data_on="cuda") or may be put there
    (data_on="any": a caller that moves the data itself); otherwise the first of "cpp", "numba", "reference" that
    imports. A named backend is returned if it can run here, else RuntimeError (ValueError for an unknown name)
    saying why and what to do. data_on: "cpu", "cuda" or "any"."""
    if requested not in BACKENDS + ("auto",):
        raise ValueError(f"{op}: backend must be one of auto, {', '.join(BACKENDS)}; got {requested!r}")
    if requested == "auto":
        if data_on in ("cuda", "any") and _cuda_problem() is None:
            return "cuda"
        return next(b for b, module in (("cpp", "_core"), ("numba", "numba_backend"), ("reference", "reference"))
                    if _load(module) is not None)
    if requested == "cuda":
        problem = _cuda_problem()
        if problem is not None:
            raise RuntimeError(f"{op}: backend='cuda' is unavailable here ({problem})")
    if requested == "cpp" and _load("_core") is None:
        raise RuntimeError(f"{op}: backend='cpp' is unavailable: amass_fast._core does not import "
                           f"({_modules.get('_core:error')}); build it with tools/build_inplace.sh or "
                           f"`pip install .`")
    if requested == "numba" and _load("numba_backend") is None:
        raise RuntimeError(f"{op}: backend='numba' is unavailable: {_modules.get('numba_backend:error')}")
    return requested


def set_num_threads(n: Optional[int]) -> None:
    """Threads of the CPU backends (cpp's OpenMP loops and numba's parallel loops): a whole number in
    1..amass_fast.cliargs.MAX_THREADS (huge counts can crash OpenMP runtimes); None restores cpp's default."""
    from amass_fast.cliargs import MAX_THREADS

    core = _load("_core")
    if n is None:
        if core is not None:
            core.set_num_threads(0)
        return
    count = _whole(n, "set_num_threads", "n", 1, MAX_THREADS)
    if core is not None:
        core.set_num_threads(count)
    nb = _load("numba_backend")
    if nb is not None:
        nb.set_num_threads(count)


def get_num_threads() -> int:
    """Threads the cpp backend uses (1 if it is not built)."""
    core = _load("_core")
    return core.get_num_threads() if core is not None else 1


def parse_view(view: Union[str, float, int]) -> Tuple[bool, float]:
    """View name -> (top, yaw_deg): "front" -> (False, 0), "side" -> (False, 90), "top" -> (True, 0),
    "yaw:30" / "30" / 30 -> (False, 30). The yaw turns the camera counter-clockwise (seen from above) around the
    body from its front."""
    if isinstance(view, (int, float, np.integer, np.floating)) and not isinstance(view, bool):
        yaw = float(view)
    elif isinstance(view, str):
        name = view.strip().lower()
        named = {"front": (False, 0.0), "side": (False, 90.0), "top": (True, 0.0)}
        if name in named:
            return named[name]
        try:
            yaw = float(name[4:] if name.startswith("yaw:") else name)
        except ValueError:
            yaw = math.nan
    else:
        raise TypeError(f"view must be a str or a number of degrees, got {type(view).__name__}")
    if not math.isfinite(yaw):
        raise ValueError(f"view must be 'front', 'side', 'top', 'yaw:DEGREES' or a number of degrees, got {view!r}")
    return False, yaw


# ---------------------------------------------------------------------------------------------------------------
# Argument preparation: every array becomes a C-contiguous NumPy array (CPU backends) or torch tensor (cuda).

class _Call:
    """One public call: its name (for messages), compute dtype, where the data live and which backend runs."""

    def __init__(self, op: str, main: Any, main_name: str, backend: str):
        self.op = op
        self.tensor = _is_tensor(main)
        self.device = main.device if self.tensor else None
        on_cuda = self.tensor and main.device.type == "cuda"
        self.dtype = self._compute_dtype(main, main_name)
        self.backend = self._resolve(backend, on_cuda)

    def _compute_dtype(self, x: Any, name: str) -> np.dtype:
        if self.tensor:
            torch = _torch()
            if not x.is_floating_point():
                raise TypeError(f"{self.op}: `{name}` must hold floats (float32 or float64), got {x.dtype}")
            return np.dtype(np.float64 if x.dtype == torch.float64 else np.float32)
        kind = np.asarray(x).dtype
        if kind.kind != "f":
            raise TypeError(f"{self.op}: `{name}` must hold floats (float32 or float64), got {kind}")
        return np.dtype(np.float64 if kind == np.float64 else np.float32)

    def _resolve(self, backend: str, on_cuda: bool) -> str:
        if backend == "cuda" and not on_cuda:
            raise ValueError(f"{self.op}: backend='cuda' needs CUDA torch tensors, got "
                             f"{'a CPU tensor' if self.tensor else 'a NumPy array'}: move the data with "
                             f".cuda() or use backend='cpp'")
        if backend == "auto" and on_cuda and _cuda_problem() is not None:
            warnings.warn(f"the cuda backend is unavailable ({_cuda_problem()}): computing on the CPU and copying "
                          f"back", RuntimeWarning, stacklevel=4)
        return resolve_backend(backend, data_on="cuda" if on_cuda else "cpu", op=self.op)

    # -- arrays -------------------------------------------------------------------------------------------------

    def floats(self, x: Any, name: str, shape: tuple):
        """A float array in the compute dtype, on the compute device; shape: ints, None (any) or ('>=', n)."""
        if _is_tensor(x):
            if not x.is_floating_point():
                raise TypeError(f"{self.op}: `{name}` must hold floats, got {x.dtype}")
            self.check_shape(tuple(x.shape), name, shape)
            torch = _torch()
            dtype = torch.float64 if self.dtype == np.float64 else torch.float32
            if self.backend == "cuda":
                return x.detach().to(device=self.device, dtype=dtype).contiguous()
            return x.detach().to(device="cpu", dtype=dtype).contiguous().numpy()
        a = np.asarray(x)
        if a.dtype.kind not in "f":
            raise TypeError(f"{self.op}: `{name}` must hold floats, got {a.dtype}")
        self.check_shape(a.shape, name, shape)
        a = np.ascontiguousarray(a, dtype=self.dtype)
        return self.to_device(a) if self.backend == "cuda" else a

    def host(self, x: Any, name: str, dtype: type, shape: tuple) -> np.ndarray:
        """A small index / rate array on the host (checked here), int64 or float64."""
        a = x.detach().cpu().numpy() if _is_tensor(x) else np.asarray(x)
        if dtype is np.int64 and a.dtype.kind not in "iu":
            raise TypeError(f"{self.op}: `{name}` must hold integers, got {a.dtype}")
        if dtype is np.float64 and a.dtype.kind not in "iuf":
            raise TypeError(f"{self.op}: `{name}` must hold numbers, got {a.dtype}")
        self.check_shape(a.shape, name, shape)
        return np.ascontiguousarray(a, dtype=dtype)

    def to_device(self, a: np.ndarray):
        """A host array as the compute backend wants it (a CUDA tensor for cuda, unchanged otherwise)."""
        if self.backend != "cuda":
            return a
        return _torch().from_numpy(np.ascontiguousarray(a)).to(self.device)

    def check_shape(self, got: tuple, name: str, want: tuple) -> None:
        ok = len(got) == len(want) and all(
            w is None or (g >= w[1] if isinstance(w, tuple) else g == w) for g, w in zip(got, want))
        if not ok:
            text = ", ".join("*" if w is None else (f">={w[1]}" if isinstance(w, tuple) else str(w)) for w in want)
            raise ValueError(f"{self.op}: `{name}` must have shape ({text}{',' if len(want) == 1 else ''}), "
                             f"got {tuple(got)}")

    def empty(self, shape: tuple):
        if self.backend == "cuda":
            torch = _torch()
            return torch.empty(shape, device=self.device,
                               dtype=torch.float64 if self.dtype == np.float64 else torch.float32)
        return np.empty(shape, dtype=self.dtype)

    def result(self, a):
        """The computed array as the caller's kind and device (NumPy stays NumPy)."""
        if self.backend == "cuda" or not self.tensor:
            return a
        out = _torch().from_numpy(np.ascontiguousarray(a, dtype=self.dtype))
        return out if self.device.type == "cpu" else out.to(self.device)

    def stream(self) -> int:
        return _torch().cuda.current_stream(self.device).cuda_stream

    def device_guard(self):
        return _torch().cuda.device(self.device)


def _shape(x: Any) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _check_parents(call: _Call, parents: Any, num_joints: int) -> np.ndarray:
    parents = call.host(parents, "parents", np.int64, (("min", num_joints),))
    p = parents[:num_joints]
    if num_joints > _MAX_JOINTS:
        raise ValueError(f"{call.op}: at most {_MAX_JOINTS} joints are supported, got {num_joints}")
    bad = np.flatnonzero((p < 0) | (p >= np.arange(num_joints)))
    bad = bad[bad > 0]
    if p[0] >= 0 or len(bad):
        j = 0 if p[0] >= 0 else int(bad[0])
        raise ValueError(f"{call.op}: `parents` must have parents[0] = -1 and 0 <= parents[j] < j for j >= 1 "
                         f"(the joints in chain order); parents[{j}] = {int(p[j])}")
    return parents


def _whole(value: Any, op: str, name: str, lo: int, hi: int) -> int:
    """`value` as an int in lo..hi, or a ValueError/TypeError that names the argument and what it got."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise TypeError(f"{op}: `{name}` must be a whole number in {lo}..{hi}, got {value!r} "
                        f"({type(value).__name__})")
    if not (math.isfinite(value) and value == int(value) and lo <= value <= hi):
        raise ValueError(f"{op}: `{name}` must be a whole number in {lo}..{hi}, got {value!r}")
    return int(value)


def _positive_rate(call: _Call, value: Any, name: str) -> float:
    """A frame rate: a positive, finite, normal (not subnormal) float, else an error naming the argument."""
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{call.op}: `{name}` must be a frame rate (a number), got {value!r}")
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{call.op}: `{name}` must be a frame rate (a number), got {value!r}") from None
    if not (math.isfinite(rate) and rate >= sys.float_info.min):
        raise ValueError(f"{call.op}: `{name}` must be a positive, finite frame rate of at least "
                         f"{sys.float_info.min:.3g}, got {value!r}")
    return rate


def _output_length(call: _Call, frames: int, src: float, dst: float, name: str = "src_fps") -> int:
    """reference.resampled_length(frames, src, dst), refused (naming the rate) beyond MAX_OUTPUT_FRAMES."""
    span = (frames - 1) * dst / src
    if not span < MAX_OUTPUT_FRAMES:
        raise ValueError(f"{call.op}: `{name}` = {src!r} makes {frames} frames {span + 1:.4g} frames at "
                         f"dst_fps = {dst!r}, more than {MAX_OUTPUT_FRAMES:,}; the rate is wrong")
    return resampled_length(frames, src, dst)


def _view_mode(call: _Call, schema: str, view: Union[str, float]) -> Tuple[int, float]:
    if schema != "stick5":
        raise ValueError(f"{call.op}: schema must be stick5 (other schemas: convert / convert_batch); got {schema!r}")
    top, yaw = parse_view(view)
    return (VIEW_TOP if top else VIEW_FRONT), yaw


# ---------------------------------------------------------------------------------------------------------------
# Public kernels.

def fk(poses, trans, rest_joints, parents, backend: str = "auto"):
    """Forward kinematics: poses [F, >=3J] axis-angle, trans [F, 3], rest_joints [J, 3] (one body's rest-pose
    joints), parents int [J] (parents[0] = -1, parents[j] < j) -> world joint positions [F, J, 3]."""
    call = _Call("fk", poses, "poses", backend)
    rest = call.floats(rest_joints, "rest_joints", (None, 3))
    J = rest.shape[0]
    if not 1 <= J <= _MAX_JOINTS:
        raise ValueError(f"fk: `rest_joints` must hold 1..{_MAX_JOINTS} joints, got {J}")
    pose_arr = call.floats(poses, "poses", (None, ("min", 3 * J)))
    F = pose_arr.shape[0]
    trans_arr = call.floats(trans, "trans", (F, 3))
    par = _check_parents(call, parents, J)[:J].copy()
    if call.backend in ("numba", "reference"):
        fn = _load(f"{'numba_backend' if call.backend == 'numba' else 'reference'}").fk
        return call.result(np.asarray(fn(pose_arr, trans_arr, rest, par), dtype=call.dtype))
    out = call.empty((F, J, 3))
    if call.backend == "cuda":
        with call.device_guard():
            _load("_cuda").fk(pose_arr, trans_arr, rest, par, out, stream=call.stream())
        return out
    _load("_core").fk(pose_arr, trans_arr, rest, par, out)
    return call.result(out)


def resample_poses(poses, trans, src_fps: float, dst_fps: float = 25.0, backend: str = "auto"):
    """Resample by time from src_fps to dst_fps: each rotation (3 axis-angle values) slerped, translation lerped
    between the two neighbouring source frames. poses [F, P] (P a multiple of 3), trans [F, 3] ->
    (poses [T, P], trans [T, 3]) with T = reference.resampled_length(F, src_fps, dst_fps)."""
    call = _Call("resample_poses", poses, "poses", backend)
    pose_arr = call.floats(poses, "poses", (None, None))
    F, P = pose_arr.shape
    if F < 1 or P % 3:
        raise ValueError(f"resample_poses: `poses` must be [F >= 1, 3K] (axis-angle triples), got {(F, P)}")
    trans_arr = call.floats(trans, "trans", (F, 3))
    src, dst = _positive_rate(call, src_fps, "src_fps"), _positive_rate(call, dst_fps, "dst_fps")
    T = _output_length(call, F, src, dst)
    if call.backend in ("numba", "reference"):
        fn = _load(f"{'numba_backend' if call.backend == 'numba' else 'reference'}").resample_poses
        out_p, out_t = fn(pose_arr, trans_arr, src, dst)
        return call.result(np.asarray(out_p, dtype=call.dtype)), call.result(np.asarray(out_t, dtype=call.dtype))
    out_p, out_t = call.empty((T, P)), call.empty((T, 3))
    if call.backend == "cuda":
        with call.device_guard():
            _load("_cuda").resample_poses(pose_arr, trans_arr, src, dst, out_p, out_t, stream=call.stream())
        return out_p, out_t
    _load("_core").resample_poses(pose_arr, trans_arr, src, dst, out_p, out_t)
    return call.result(out_p), call.result(out_t)


def project(joints, schema: str = "stick5", view: Union[str, float] = "front", backend: str = "auto"):
    """World joints of one clip [F, >=22, 3] (AMASS frame, Z up) -> stick lines [F, 20] in screen space (metres;
    x right, y up). ``view``: "front" (the body faces the camera at frame 0), "side", "top", or a yaw in degrees."""
    call = _Call("project", joints, "joints", backend)
    view_mode, yaw = _view_mode(call, schema, view)
    arr = call.floats(joints, "joints", (None, ("min", NUM_BODY_JOINTS), 3))
    F = arr.shape[0]
    if F < 1:
        raise ValueError("project: `joints` has no frames")
    if call.backend in ("numba", "reference"):
        fn = _load(f"{'numba_backend' if call.backend == 'numba' else 'reference'}").project
        return call.result(np.asarray(fn(arr, yaw_deg=yaw, view_mode=view_mode), dtype=call.dtype))
    out = call.empty((F, STICK_DIM))
    if call.backend == "cuda":
        kp, cam = call.empty((1, F, 8, 3)), call.empty((1, 5))
        with call.device_guard():
            _load("_cuda").project(arr, yaw, view_mode, out, kp, cam, stream=call.stream())
        return out
    _load("_core").project(arr, yaw, view_mode, out)
    return call.result(out)


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
    call = _Call("convert", poses, "poses", backend)
    if schema not in SCHEMAS:
        raise ValueError(f"convert: schema must be one of {', '.join(SCHEMAS)}; got {schema!r}")
    view_mode, yaw = _view_mode(call, "stick5", view)
    shape = _shape(poses)
    F = shape[0] if len(shape) == 2 else 0
    if F < 1:
        raise ValueError(f"convert: `poses` must be [F >= 1, >=66], got shape {shape}")
    src, dst = _positive_rate(call, src_fps, "src_fps"), _positive_rate(call, dst_fps, "dst_fps")
    T = _output_length(call, F, src, dst)
    rest = rest_joints if _is_tensor(rest_joints) else np.asarray(rest_joints)
    call.check_shape(_shape(rest), "rest_joints", (("min", NUM_BODY_JOINTS), 3))
    if mirror:
        poses, trans = mirror_params(poses, trans, rest[0])
    rest = rest[None]  # one sequence
    one = np.zeros(1, dtype=np.int64)
    cameras = None if camera is None else (camera.packed() if isinstance(camera, Camera) else camera)
    if schema == "stick5" and cameras is None and scale != 1.0:  # a scaled stick5: through the view's camera
        cameras = Camera(yaw_deg=yaw).packed()
    plain = schema == "stick5" and cameras is None
    return convert_batch(poses, trans, np.array([0, F]), np.array([src]), rest, parents, one, one,
                         np.array([T]), np.array([yaw]), dst_fps=dst, window=T, top=view_mode == VIEW_TOP,
                         backend=backend, schema=schema, cameras=cameras, up=up,
                         clip_scale=None if plain else np.array([scale], dtype=np.float64))[0]


def mirror_params(poses, trans, rest_pelvis=None):
    """The left-right mirrored body poses [F, 66] and trans [F, 3] of poses [F, >=66] (only the 22 body joints are
    kept) and trans, as ``schemas.mirror_params`` computes them, for NumPy arrays or torch tensors on any device."""
    perm = np.asarray(pose_permutation(3 * NUM_BODY_JOINTS))
    p_x = 0.0 if rest_pelvis is None else float(rest_pelvis[0])
    if _is_tensor(poses):
        torch = _torch()
        body = poses[:, :3 * NUM_BODY_JOINTS].reshape(len(poses), NUM_BODY_JOINTS, 3)
        signs = torch.as_tensor(AXIS_ANGLE_SIGNS, dtype=poses.dtype, device=poses.device)
        out = (body[:, torch.as_tensor(perm, device=poses.device)] * signs).reshape(len(poses), -1)
        t = torch.as_tensor(trans, device=poses.device).clone()
        t[:, 0] = -t[:, 0] - 2.0 * p_x
        return out.contiguous(), t
    poses, trans = np.asarray(poses), np.asarray(trans)
    body = poses[:, :3 * NUM_BODY_JOINTS].reshape(len(poses), NUM_BODY_JOINTS, 3)
    out = (body[:, perm] * AXIS_ANGLE_SIGNS.astype(poses.dtype)).reshape(len(poses), -1)
    t = np.array(trans, copy=True)
    t[:, 0] = -t[:, 0] - 2.0 * p_x
    return out, t


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
    Semantics: amass_fast.reference.convert_batch for stick5 without cameras; else
    amass_fast.reference.convert_joints_batch, then stick5 / stick12 from joints2d by schemas.layouts.
    """
    if schema not in SCHEMAS:
        raise ValueError(f"convert_batch: schema must be one of {', '.join(SCHEMAS)}; got {schema!r}")
    if schema != "stick5" or cameras is not None:
        return _convert_joints(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start,
                               clip_len, clip_yaw, dst_fps, window, top, backend, out, schema, cameras, up, clip_scale)
    if clip_scale is not None:
        raise ValueError("convert_batch: clip_scale applies to stick12, joints2d and joints3d, or to stick5 through "
                         "cameras; stick5 by clip_yaw keeps the body's size")
    call = _Call("convert_batch", poses, "poses", backend)
    window, dst, pose_arr, trans_arr, offsets, fps, rest, par, cseq, cstart, clen = _clip_args(
        call, poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len, window,
        dst_fps)
    C = len(cseq)
    yaw = call.host(np.zeros(C) if clip_yaw is None else clip_yaw, "clip_yaw", np.float64, (C,))
    if C:
        bad = np.flatnonzero(~np.isfinite(yaw))
        if len(bad):
            raise ValueError(f"convert_batch: `clip_yaw` must be finite degrees; clip_yaw[{bad[0]}] = {yaw[bad[0]]}")
    result = _check_out(call, out, (C, window, STICK_DIM))
    view_mode = VIEW_TOP if top else VIEW_FRONT
    if call.backend in ("numba", "reference"):
        fn = _load(f"{'numba_backend' if call.backend == 'numba' else 'reference'}").convert_batch
        motion = fn(pose_arr, trans_arr, offsets, fps, rest, par, cseq, cstart, clen, yaw,
                    dst_fps=dst, window=window, view_mode=view_mode)
        if result is None:
            return call.result(np.asarray(motion, dtype=call.dtype))
        result[...] = motion if not _is_tensor(result) else _torch().from_numpy(np.asarray(motion, call.dtype))
        return out
    target = result if result is not None else call.empty((C, window, STICK_DIM))
    if call.backend == "cuda":
        dev = call.to_device
        kp, cam = call.empty((C, window, 8, 3)), call.empty((C, 5))
        with call.device_guard():
            _load("_cuda").convert_batch(pose_arr, trans_arr, dev(offsets), dev(fps), rest, par, dev(cseq),
                                         dev(cstart), dev(clen), dev(yaw), dst, view_mode, target, kp, cam,
                                         stream=call.stream())
        return out if out is not None else target
    _load("_core").convert_batch(pose_arr, trans_arr, offsets, fps, rest, par, cseq, cstart, clen, yaw, dst,
                                 view_mode, target)
    return out if out is not None else call.result(target)


def _clip_args(call: _Call, poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len,
               window, dst_fps) -> tuple:
    """The sequences and clip windows of a batch call, checked: (window, dst_fps, poses, trans, offsets, fps,
    rest, parents, clip_seq, clip_start, clip_len)."""
    window = _whole(window, call.op, "window", 1, MAX_OUTPUT_FRAMES)
    dst = _positive_rate(call, dst_fps, "dst_fps")
    pose_arr = call.floats(poses, "poses", (None, ("min", 3 * NUM_BODY_JOINTS)))
    N = pose_arr.shape[0]
    trans_arr = call.floats(trans, "trans", (N, 3))
    offsets = call.host(seq_offsets, "seq_offsets", np.int64, (None,))
    S = len(offsets) - 1
    if S < 0:
        raise ValueError("convert_batch: `seq_offsets` must have S + 1 >= 1 entries, got none")
    if offsets[0] < 0 or offsets[-1] > N or np.any(np.diff(offsets) < 1):
        raise ValueError(f"convert_batch: `seq_offsets` must increase strictly (every sequence >= 1 frame) within "
                         f"0..{N} (the rows of poses), got {offsets.tolist() if S < 8 else offsets}")
    fps = call.host(seq_fps, "seq_fps", np.float64, (S,))
    bad = np.flatnonzero(~(np.isfinite(fps) & (fps >= sys.float_info.min)))
    if len(bad):
        raise ValueError(f"convert_batch: `seq_fps` must be positive, finite frame rates of at least "
                         f"{sys.float_info.min:.3g}; seq_fps[{bad[0]}] = {fps[bad[0]]!r}")
    frames = np.diff(offsets)
    span = (frames - 1) * dst / fps  # the resampled length of every sequence, checked before it becomes an int
    bad = np.flatnonzero(~(span < MAX_OUTPUT_FRAMES))
    if len(bad):
        s = int(bad[0])
        raise ValueError(f"convert_batch: `seq_fps[{s}]` = {fps[s]!r} makes {frames[s]} frames {span[s] + 1:.4g} "
                         f"frames at dst_fps = {dst!r}, more than {MAX_OUTPUT_FRAMES:,}; the rate is wrong")
    lengths = np.floor(span + reference.LENGTH_EPS).astype(np.int64) + 1  # <= MAX_OUTPUT_FRAMES: no overflow below
    rest = call.floats(rest_joints, "rest_joints", (S, ("min", NUM_BODY_JOINTS), 3))
    par = _check_parents(call, parents, NUM_BODY_JOINTS)
    cseq = call.host(clip_seq, "clip_seq", np.int64, (None,))
    C = len(cseq)
    cstart = call.host(clip_start, "clip_start", np.int64, (C,))
    clen = call.host(clip_len, "clip_len", np.int64, (C,))
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
    return window, dst, pose_arr, trans_arr, offsets, fps, rest, par, cseq, cstart, clen


def _check_cameras(call: _Call, cameras, yaw: np.ndarray, C: int) -> np.ndarray:
    """Packed cameras float64 [C, 6] from [6] or [C, 6] (None: orthographic at the clips' yaws), checked."""
    if cameras is None:
        packed = np.tile(Camera().packed(), (C, 1))
        packed[:, CAMERA_FIELDS.index("yaw_deg")] = yaw
        return packed
    cams = cameras.detach().cpu().numpy() if _is_tensor(cameras) else np.asarray(cameras)
    if cams.dtype.kind not in "iuf":
        raise TypeError(f"{call.op}: `cameras` must hold numbers, got {cams.dtype}")
    if cams.shape == (len(CAMERA_FIELDS),):
        cams = np.tile(cams, (C, 1))
    call.check_shape(cams.shape, "cameras", (C, len(CAMERA_FIELDS)))
    cams = np.ascontiguousarray(cams, dtype=np.float64)
    kind, elev, dist, focal = (cams[:, CAMERA_FIELDS.index(n)] for n in
                               ("perspective", "elevation_deg", "distance_m", "focal_mm"))
    bad = np.flatnonzero(~np.all(np.isfinite(cams), axis=1) | ~np.isin(kind, (0.0, 1.0)) | (np.abs(elev) > 90.0)
                         | ~(dist > 0) | ~(focal > 0))
    if len(bad):
        raise ValueError(f"{call.op}: cameras[{bad[0]}] = {cams[bad[0]].tolist()} is not a packed camera "
                         f"{CAMERA_FIELDS}: perspective 0 or 1, finite values, elevation in -90..90, distance "
                         f"and focal length > 0")
    return cams


def lines_from_joints2d(joints2d, schema: str):
    """stick5 [..., T, 20] or stick12 [..., T, 48] from joints2d [..., T, 22, 2] (NumPy or torch, any device):
    one gather and mean (schemas.layouts.line_endpoints), equal to schemas.layouts.stick5 / stick12."""
    a, b = layouts.line_endpoints(schema)
    if _is_tensor(joints2d):
        torch = _torch()
        a, b = torch.as_tensor(a, device=joints2d.device), torch.as_tensor(b, device=joints2d.device)
    lines = 0.5 * (joints2d[..., a, :] + joints2d[..., b, :])
    return lines.reshape(*lines.shape[:-2], 2 * len(a))


def _convert_joints(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len,
                    clip_yaw, dst_fps, window, top, backend, out, schema, cameras, up, clip_scale):
    """convert_batch for joints3d, joints2d and the line schemas through cameras: one convert_joints_batch pass
    (resample, FK, canonical frame, camera), then the line schemas as a gather of joints2d."""
    call = _Call("convert_batch", poses, "poses", backend)
    if top:
        raise ValueError(f"convert_batch: top (the ground-plane view) is a stick5 view; schema {schema!r} takes "
                         f"cameras (an elevation of 90 looks from straight above)")
    if up not in UPS:
        raise ValueError(f"convert_batch: up must be one of {', '.join(UPS)}; got {up!r}")
    if schema == "joints3d" and cameras is not None:
        raise ValueError("convert_batch: joints3d is the canonical 3D frame, without a camera; pass cameras only "
                         "for stick5, stick12 or joints2d")
    window, dst, pose_arr, trans_arr, offsets, fps, rest, par, cseq, cstart, clen = _clip_args(
        call, poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len, window,
        dst_fps)
    C = len(cseq)
    yaw = call.host(np.zeros(C) if clip_yaw is None else clip_yaw, "clip_yaw", np.float64, (C,))
    if not np.all(np.isfinite(yaw)):
        raise ValueError("convert_batch: `clip_yaw` must be finite degrees")
    cams = _check_cameras(call, cameras, yaw, C)
    scale = call.host(np.ones(C) if clip_scale is None else clip_scale, "clip_scale", np.float64, (C,))
    if not np.all(np.isfinite(scale) & (scale > 0)):
        raise ValueError("convert_batch: `clip_scale` must be positive, finite factors")
    dim = 3 if schema == "joints3d" else 2
    shape = (C, window) + layouts.FRAME_SHAPE[schema]
    result = _check_out(call, out, shape)
    upc = reference.UP_Y if up == "y" else reference.UP_Z
    if call.backend in ("numba", "reference"):
        fn = _load(f"{'numba_backend' if call.backend == 'numba' else 'reference'}").convert_joints_batch
        joints = call.result(np.asarray(fn(pose_arr, trans_arr, offsets, fps, rest, par, cseq, cstart, clen, scale,
                                           cams, dst_fps=dst, window=window, up=upc, dim=dim), dtype=call.dtype))
    else:
        joints = call.empty((C, window, NUM_BODY_JOINTS, dim))
        if call.backend == "cuda":
            dev = call.to_device
            world, frame = call.empty((C, window, NUM_BODY_JOINTS, 3)), call.empty((C, reference.FRAME_SIZE))
            with call.device_guard():
                _load("_cuda").convert_joints_batch(pose_arr, trans_arr, dev(offsets), dev(fps), rest, par, dev(cseq),
                                                    dev(cstart), dev(clen), dev(scale), dev(cams), dst, upc, joints,
                                                    world, frame, stream=call.stream())
        else:
            _load("_core").convert_joints_batch(pose_arr, trans_arr, offsets, fps, rest, par, cseq, cstart, clen,
                                                scale, cams, dst, upc, joints)
            joints = call.result(joints)
    motion = joints if schema in ("joints2d", "joints3d") else lines_from_joints2d(joints, schema)
    if result is None:
        return motion
    if _is_tensor(out):
        out.copy_(motion if _is_tensor(motion) else _torch().from_numpy(np.ascontiguousarray(motion)))
    else:
        out[...] = motion
    return out


def _check_out(call: _Call, out: Any, shape: tuple):
    """The array the backend writes into, from a caller's `out` (None: allocate); wrong kind/dtype/shape raise."""
    if out is None:
        return None
    want_kind = "a CUDA tensor" if call.backend == "cuda" else ("a torch tensor" if call.tensor else "a NumPy array")
    if call.tensor != _is_tensor(out):
        raise TypeError(f"{call.op}: `out` must be {want_kind} like `poses`, got {type(out).__name__}")
    if _is_tensor(out):
        torch = _torch()
        want = torch.float64 if call.dtype == np.float64 else torch.float32
        if out.dtype != want:
            raise TypeError(f"{call.op}: `out` must have dtype {want}, got {out.dtype}")
        if out.device != call.device:
            raise ValueError(f"{call.op}: `out` must be on {call.device}, got {out.device}")
        call.check_shape(tuple(out.shape), "out", shape)
        if not out.is_contiguous():
            raise ValueError(f"{call.op}: `out` must be contiguous")
        if call.backend == "cuda":
            return out.detach()  # same memory; DLPack refuses tensors that require grad
        if out.device.type != "cpu":  # computed on the CPU for a CUDA caller: fill a host copy, then copy back
            raise ValueError(f"{call.op}: `out` on {out.device} needs backend='cuda'")
        return out.detach().numpy() if call.backend == "cpp" else out
    if out.dtype != call.dtype:
        raise TypeError(f"{call.op}: `out` must have dtype {call.dtype}, got {out.dtype}")
    call.check_shape(out.shape, "out", shape)
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"{call.op}: `out` must be C-contiguous and writeable")
    return out
