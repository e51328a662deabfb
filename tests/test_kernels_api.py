"""The public kernel API (amass_fast.kernels): view parsing, backend choice, clear errors for bad arguments; the
CUDA kernels' grid logic and the cuda branches of amass_fast.kernels exercised on the host; and (on a machine with
a GPU, `pytest -m cuda`) the CUDA backend against the cpp backend."""
from __future__ import annotations

import contextlib
import re

import numpy as np
import pytest

from amass_fast import kernels
from amass_fast.kernels import reference
from amass_fast.kernels.backends import cuda as cuda_adapter
from amass_fast.kernels import prepared, runtime


def one_batch(seed: int = 0, frames=(50, 20), fps=(60.0, 100.0), window=8, dtype=np.float64):
    """Keyword arguments of convert_batch: one window from the start of each sequence plus a one-frame clip at
    the end of the last sequence."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(frames)]).astype(np.int64)
    N, S = int(offsets[-1]), len(frames)
    T = [reference.resampled_length(F, f, 25.0) for F, f in zip(frames, fps)]
    clips = [(s, 0, min(window, T[s])) for s in range(S)] + [(S - 1, T[-1] - 1, 1)]
    clip_seq, clip_start, clip_len = (np.array(c, dtype=np.int64) for c in zip(*clips))
    return dict(
        poses=rng.normal(0, 0.5, (N, 66)).astype(dtype), trans=rng.normal(0, 1, (N, 3)).astype(dtype),
        seq_offsets=offsets, seq_fps=np.array(fps), rest_joints=rng.normal(0, 0.3, (S, 22, 3)).astype(dtype),
        parents=reference.BODY_PARENTS.copy(), clip_seq=clip_seq, clip_start=clip_start, clip_len=clip_len,
        clip_yaw=rng.uniform(-180, 180, len(clips)), window=window)


# ---------------------------------------------------------------------------------------------------------------
# parse_view and backends

@pytest.mark.parametrize("view, want", [
    ("front", (False, 0.0)), ("side", (False, 90.0)), ("top", (True, 0.0)), ("yaw:30", (False, 30.0)),
    ("yaw:-12.5", (False, -12.5)), (30, (False, 30.0)), (45.5, (False, 45.5)), ("FRONT", (False, 0.0)),
])
def test_parse_view(view, want):
    assert kernels.parse_view(view) == want


@pytest.mark.parametrize("view", ["back-ish", "yaw:", "yaw:nan", float("inf")])
def test_parse_view_rejects(view):
    with pytest.raises(ValueError, match="view must be"):
        kernels.parse_view(view)


def test_available_backends():
    names = kernels.available_backends()
    assert names[-1] == "reference"
    assert set(names) <= set(kernels.BACKENDS)
    assert names == [b for b in kernels.BACKENDS if b in names]  # fastest first


@pytest.mark.parametrize("backend", [b for b in ("cpp", "numba") if b in kernels.available_backends()])
def test_backends_agree_with_reference(backend):
    args = one_batch()
    want = kernels.convert_batch(**args, backend="reference")
    got = kernels.convert_batch(**args, backend=backend)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_convert_is_convert_batch_of_one_clip():
    args = one_batch(frames=(50,), fps=(60.0,))
    poses, trans, rest = args["poses"], args["trans"], args["rest_joints"][0]
    T = reference.resampled_length(50, 60.0, 25.0)
    for view, top, yaw in (("front", False, 0.0), ("yaw:30", False, 30.0), ("top", True, 0.0)):
        got = kernels.convert(poses, trans, rest, reference.BODY_PARENTS, 60.0, view=view)
        want = reference.convert_batch(poses, trans, [0, 50], [60.0], rest[None], reference.BODY_PARENTS, [0], [0],
                                       [T], [yaw], window=T, view_mode=reference.VIEW_TOP if top else 0)[0]
        assert got.shape == (T, 20)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_project_and_fk_through_every_backend():
    rng = np.random.default_rng(1)
    poses, trans = rng.normal(0, 0.5, (9, 66)), rng.normal(0, 1, (9, 3))
    rest = rng.normal(0, 0.3, (22, 3))
    joints = reference.fk(poses, trans, rest, reference.BODY_PARENTS)
    sticks = reference.project(joints, 90.0)
    for backend in kernels.available_backends():
        if backend == "cuda":
            continue
        np.testing.assert_allclose(kernels.fk(poses, trans, rest, reference.BODY_PARENTS, backend=backend),
                                   joints, rtol=0, atol=1e-9)
        np.testing.assert_allclose(kernels.project(joints, view="side", backend=backend), sticks, rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------------------------------------------
# Bad arguments raise errors that name the argument

def test_bad_shapes():
    args = one_batch()
    with pytest.raises(ValueError, match="`poses` must have shape"):
        kernels.convert_batch(**{**args, "poses": args["poses"][:, :60]})
    with pytest.raises(ValueError, match="`trans` must have shape"):
        kernels.convert_batch(**{**args, "trans": args["trans"][:-1]})
    with pytest.raises(ValueError, match="`rest_joints` must have shape"):
        kernels.convert_batch(**{**args, "rest_joints": args["rest_joints"][:1]})
    with pytest.raises(ValueError, match="`clip_len` must have shape"):
        kernels.convert_batch(**{**args, "clip_len": args["clip_len"][:2]})
    with pytest.raises(ValueError, match="`poses` must have shape"):
        kernels.fk(np.zeros((4, 30)), np.zeros((4, 3)), np.zeros((22, 3)), reference.BODY_PARENTS)
    with pytest.raises(ValueError, match="`joints` must have shape"):
        kernels.project(np.zeros((4, 10, 3)))
    with pytest.raises(ValueError, match="3K"):
        kernels.resample_poses(np.zeros((4, 7)), np.zeros((4, 3)), 60.0)


def test_bad_dtypes():
    args = one_batch()
    with pytest.raises(TypeError, match="`poses` must hold floats"):
        kernels.convert_batch(**{**args, "poses": args["poses"].astype(np.int64)})
    with pytest.raises(TypeError, match="`clip_start` must hold integers"):
        kernels.convert_batch(**{**args, "clip_start": args["clip_start"].astype(np.float64)})
    C, W = len(args["clip_seq"]), args["window"]
    with pytest.raises(TypeError, match="`out` must have dtype float64"):
        kernels.convert_batch(**args, out=np.empty((C, W, 20), np.float32))
    with pytest.raises(ValueError, match="`out` must have shape"):
        kernels.convert_batch(**args, out=np.empty((C, W + 1, 20)))


def test_bad_contents():
    args = one_batch()
    with pytest.raises(ValueError, match="`parents`"):
        kernels.convert_batch(**{**args, "parents": np.r_[reference.BODY_PARENTS[:5], 9, reference.BODY_PARENTS[6:]]})
    with pytest.raises(ValueError, match="`seq_offsets` must increase"):
        kernels.convert_batch(**{**args, "seq_offsets": np.array([0, 50, 40])})
    with pytest.raises(ValueError, match=r"clip 1 \(`clip_start` = 5, `clip_len` = 5\) lies outside"):
        kernels.convert_batch(**{**args, "clip_start": np.array([0, 5, 0])})
    with pytest.raises(ValueError, match="clip_len"):
        kernels.convert_batch(**{**args, "clip_len": np.array([9, 1, 1])})
    with pytest.raises(ValueError, match="`clip_seq` must name sequences"):
        kernels.convert_batch(**{**args, "clip_seq": np.array([0, 2, 1])})
    with pytest.raises(ValueError, match="seq_fps"):
        kernels.convert_batch(**{**args, "seq_fps": np.array([60.0, 0.0])})
    with pytest.raises(ValueError, match="src_fps"):
        kernels.resample_poses(np.zeros((4, 6)), np.zeros((4, 3)), -1.0)
    with pytest.raises(ValueError, match="schema"):
        kernels.project(np.zeros((4, 22, 3)), schema="stick9")


@pytest.mark.parametrize("backend", kernels.available_backends())
def test_clip_bounds_check_does_not_overflow(backend):
    """clip_start near 2**63 plus clip_len wraps around to a negative int64: the check must still refuse it."""
    args = one_batch()
    if backend == "cuda":
        pytest.skip("numpy inputs")
    huge = np.iinfo(np.int64).max - 1
    with pytest.raises(ValueError, match=rf"clip 0 \(`clip_start` = {huge}, `clip_len` = .*\) lies outside"):
        kernels.convert_batch(**{**args, "clip_start": np.array([huge, 0, 0])}, backend=backend)


def test_core_bounds_check_does_not_overflow():
    """The C++ module checks clips itself for direct callers, also without int64 overflow."""
    core = pytest.importorskip("amass_fast._core")
    args = one_batch()
    C, W = len(args["clip_seq"]), args["window"]
    start = np.array([np.iinfo(np.int64).max - 1, 0, 0])
    with pytest.raises(ValueError, match="`clip_start` = 9223372036854775806 .* lies outside"):
        core.convert_batch(args["poses"], args["trans"], args["seq_offsets"], args["seq_fps"],
                           args["rest_joints"], args["parents"], args["clip_seq"], start, args["clip_len"],
                           args["clip_yaw"], 25.0, 0, np.empty((C, W, 20)))
    with pytest.raises(ValueError, match="2\\^31 resampled frames"):
        core.convert_batch(args["poses"], args["trans"], args["seq_offsets"], np.array([5e-324, 60.0]),
                           args["rest_joints"], args["parents"], args["clip_seq"], args["clip_start"],
                           args["clip_len"], args["clip_yaw"], 25.0, 0, np.empty((C, W, 20)))


@pytest.mark.parametrize("rate, error, words", [
    ("abc", TypeError, "`src_fps` must be a frame rate (a number), got 'abc'"),
    (None, TypeError, "`src_fps` must be a frame rate (a number), got None"),
    (True, TypeError, "`src_fps` must be a frame rate (a number), got True"),
    (float("nan"), ValueError, "`src_fps` must be a positive, finite frame rate of at least 2.23e-308, got nan"),
    (5e-324, ValueError, "`src_fps` must be a positive, finite frame rate of at least 2.23e-308, got 5e-324"),
    (1e-300, ValueError, "`src_fps` = 1e-300 makes 4 frames"),
])
def test_bad_rates_name_the_argument(rate, error, words):
    poses, trans = np.zeros((4, 66)), np.zeros((4, 3))
    with pytest.raises(error, match=re.escape(words)):
        kernels.resample_poses(poses, trans, rate)
    if rate != 1e-300:  # as dst_fps, a tiny rate makes few frames: fine
        with pytest.raises(error, match=re.escape(words.replace("`src_fps`", "`dst_fps`"))):
            kernels.resample_poses(poses, trans, 60.0, dst_fps=rate)
    with pytest.raises(error, match=re.escape(words)):
        kernels.convert(poses, trans, np.zeros((22, 3)), reference.BODY_PARENTS, rate)


def test_subnormal_and_tiny_sequence_rates_name_seq_fps():
    args = one_batch()
    for fps in (5e-324, 1e-300):
        with pytest.raises(ValueError, match=r"`seq_fps"):
            kernels.convert_batch(**{**args, "seq_fps": np.array([60.0, fps])})


@pytest.mark.parametrize("window, error", [(float("nan"), ValueError), (0, ValueError), (2.5, ValueError),
                                           ("250", TypeError), (2 ** 40, ValueError), (True, TypeError)])
def test_bad_window_names_the_argument(window, error):
    args = one_batch()
    with pytest.raises(error, match=r"convert_batch: `window` must be a whole number in 1\.\.2147483648, got"):
        kernels.convert_batch(**{**args, "window": window})


@pytest.mark.parametrize("n, error", [(0, ValueError), (-1, ValueError), (10 ** 9, ValueError), (1025, ValueError),
                                      ("4", TypeError), (float("nan"), ValueError)])
def test_thread_counts_are_limited(n, error):
    with pytest.raises(error, match=r"set_num_threads: `n` must be a whole number in 1\.\.1024, got"):
        kernels.set_num_threads(n)


def test_thread_counts_in_range_are_applied():
    core = pytest.importorskip("amass_fast._core")
    try:
        kernels.set_num_threads(3)
        assert kernels.get_num_threads() == 3
        core.set_num_threads(10 ** 6)  # a direct caller of the module is capped too
        assert kernels.get_num_threads() == 1024
    finally:
        kernels.set_num_threads(None)


def test_backend_errors():
    args = one_batch()
    with pytest.raises(ValueError, match="backend must be one of"):
        kernels.convert_batch(**args, backend="tpu")
    with pytest.raises(ValueError, match="backend='cuda' needs CUDA torch tensors"):
        kernels.convert_batch(**args, backend="cuda")
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="a CPU tensor"):
        kernels.fk(torch.zeros(3, 66), torch.zeros(3, 3), torch.zeros(22, 3), reference.BODY_PARENTS, backend="cuda")


def test_core_refuses_wrong_dtypes_instead_of_copying():
    core = pytest.importorskip("amass_fast._core")
    poses, trans, rest = np.zeros((3, 66)), np.zeros((3, 3)), np.zeros((22, 3))
    with pytest.raises(TypeError):  # noconvert: a float32 `out` for float64 data does not match any overload
        core.fk(poses, trans, rest, reference.BODY_PARENTS[:22], np.empty((3, 22, 3), np.float32))
    with pytest.raises(ValueError, match="`out` must have shape"):
        core.fk(poses, trans, rest, reference.BODY_PARENTS[:22], np.empty((3, 21, 3)))
    with pytest.raises(ValueError, match="parents"):
        core.fk(poses, trans, rest, np.zeros(22, np.int64), np.empty((3, 22, 3)))


# ---------------------------------------------------------------------------------------------------------------
# CUDA (run with `pytest -m cuda` where a GPU is lent)

def _cuda_torch():
    torch = pytest.importorskip("torch")
    if "cuda" not in kernels.available_backends():
        pytest.skip("no GPU or amass_fast._cuda not built")
    return torch


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_convert_batch_matches_cpp(dtype):
    torch = _cuda_torch()
    args = one_batch(seed=3, frames=(400, 1, 233, 97), fps=(120.0, 30.0, 59.99999, 250.0), window=11, dtype=dtype)
    want = kernels.convert_batch(**args, backend="cpp")
    gpu = {k: torch.from_numpy(v).cuda() if isinstance(v, np.ndarray) else v for k, v in args.items()}
    got = kernels.convert_batch(**gpu)  # auto -> cuda
    assert got.is_cuda and got.dtype == (torch.float32 if dtype == np.float32 else torch.float64)
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-9)
    top = kernels.convert_batch(**gpu, top=True, backend="cuda")
    np.testing.assert_allclose(top.cpu().numpy(), kernels.convert_batch(**args, top=True), rtol=0,
                               atol=1e-5 if dtype == np.float32 else 1e-9)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_fk_resample_project_match_cpp(dtype):
    torch = _cuda_torch()
    tol = 1e-5 if dtype == np.float32 else 1e-9
    rng = np.random.default_rng(4)
    poses, trans = rng.normal(0, 0.5, (301, 156)).astype(dtype), rng.normal(0, 1, (301, 3)).astype(dtype)
    rest = rng.normal(0, 0.3, (52, 3)).astype(dtype)
    parents = np.r_[reference.BODY_PARENTS, rng.integers(0, 20, 30)]
    gp, gt = torch.from_numpy(poses).cuda(), torch.from_numpy(trans).cuda()
    joints = kernels.fk(gp, gt, rest, parents)
    np.testing.assert_allclose(joints.cpu().numpy(), kernels.fk(poses, trans, rest, parents), rtol=0, atol=tol)
    rp, rt = kernels.resample_poses(gp, gt, 120.0)
    want_p, want_t = kernels.resample_poses(poses, trans, 120.0)
    np.testing.assert_allclose(rp.cpu().numpy(), want_p, rtol=0, atol=10 * tol)
    np.testing.assert_allclose(rt.cpu().numpy(), want_t, rtol=0, atol=tol)
    np.testing.assert_allclose(kernels.project(joints, view="yaw:20").cpu().numpy(),
                               kernels.project(joints.cpu().numpy(), view="yaw:20"), rtol=0, atol=tol)
    sticks = kernels.convert(gp, gt, rest, parents, 120.0)
    np.testing.assert_allclose(sticks.cpu().numpy(), kernels.convert(poses, trans, rest, parents, 120.0),
                               rtol=0, atol=tol)


def many_clips_batch(seed: int = 5, window: int = 250, dtype=np.float64):
    """The real launch shape: window 250 (> one block), more clips than a block's threads, clips of every length
    from 1 frame to a full window (so padding frames fall in the middle and at the end of blocks)."""
    rng = np.random.default_rng(seed)
    frames, fps = (3000, 1200, 701, 1), (120.0, 59.99999, 100.0, 30.0)
    offsets = np.concatenate([[0], np.cumsum(frames)]).astype(np.int64)
    T = [reference.resampled_length(F, f, 25.0) for F, f in zip(frames, fps)]
    clip_seq, clip_start, clip_len = [], [], []
    for c in range(150):
        s = c % 3 if c != 149 else 3
        n = 1 + (37 * c) % window if s != 3 else 1
        n = min(n, T[s])
        clip_seq.append(s), clip_start.append(int(rng.integers(0, T[s] - n + 1))), clip_len.append(n)
    N = int(offsets[-1])
    return dict(
        poses=rng.normal(0, 0.5, (N, 66)).astype(dtype), trans=rng.normal(0, 1, (N, 3)).astype(dtype),
        seq_offsets=offsets, seq_fps=np.array(fps), rest_joints=rng.normal(0, 0.3, (4, 22, 3)).astype(dtype),
        parents=reference.BODY_PARENTS.copy(), clip_seq=np.array(clip_seq, np.int64),
        clip_start=np.array(clip_start, np.int64), clip_len=np.array(clip_len, np.int64),
        clip_yaw=rng.uniform(-180, 180, len(clip_seq)), window=window)


def _cuda_block_size() -> int:
    cuda = runtime.load("_cuda")
    return int(cuda.block_size) if cuda is not None else 128  # csrc/cuda_module.cu kBlockSize


# ---------------------------------------------------------------------------------------------------------------
# The CUDA kernels' index and bounds logic on the host: kernels.cuh run grid-serially (the grid shim in _core)
# with the CUDA module's block size must equal the OpenMP path exactly (same per-item math).

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gridshim_launch_shape_of_the_gpu(dtype):
    """Every kernel with several blocks and a partial last block: 150 clips (> block size) of window 250
    (> block size) for convert_batch; 301 frames for fk / resample / project."""
    core = pytest.importorskip("amass_fast._core")
    block = _cuda_block_size()
    args = many_clips_batch(dtype=dtype)
    C, W = len(args["clip_seq"]), args["window"]
    assert C > block and W > block and (C * W) % block and C % block
    batch = [args[k] for k in ("poses", "trans", "seq_offsets", "seq_fps", "rest_joints", "parents", "clip_seq",
                               "clip_start", "clip_len", "clip_yaw")]
    for view_mode in (reference.VIEW_FRONT, reference.VIEW_TOP):
        want, got = (np.full((C, W, 20), np.nan, dtype) for _ in range(2))
        core.convert_batch(*batch, 25.0, view_mode, want)
        core.convert_batch_gridshim(*batch, 25.0, view_mode, got, block_size=block)
        np.testing.assert_array_equal(got, want)
        assert np.all(np.isfinite(got))
    rng = np.random.default_rng(6)
    F, J = 301, 52
    poses, trans = rng.normal(0, 0.5, (F, 3 * J)).astype(dtype), rng.normal(0, 1, (F, 3)).astype(dtype)
    rest, parents = rng.normal(0, 0.3, (J, 3)).astype(dtype), np.r_[reference.BODY_PARENTS, rng.integers(0, 20, 30)]
    fk_cpu, fk_shim = np.empty((F, J, 3), dtype), np.full((F, J, 3), np.nan, dtype)
    core.fk(poses, trans, rest, parents, fk_cpu)
    core.fk_gridshim(poses, trans, rest, parents, fk_shim, block_size=block)
    np.testing.assert_array_equal(fk_shim, fk_cpu)
    T = reference.resampled_length(F, 59.99999, 25.0)
    outs = [np.full(shape, np.nan, dtype) for shape in ((T, 3 * J), (T, 3), (T, 3 * J), (T, 3))]
    core.resample_poses(poses, trans, 59.99999, 25.0, outs[0], outs[1])
    core.resample_poses_gridshim(poses, trans, 59.99999, 25.0, outs[2], outs[3], block_size=block)
    np.testing.assert_array_equal(outs[2], outs[0])
    np.testing.assert_array_equal(outs[3], outs[1])
    sticks_cpu, sticks_shim = np.empty((F, 20), dtype), np.full((F, 20), np.nan, dtype)
    core.project(fk_cpu, 33.0, reference.VIEW_FRONT, sticks_cpu)
    core.project_gridshim(fk_cpu, 33.0, reference.VIEW_FRONT, sticks_shim, block_size=block)
    np.testing.assert_array_equal(sticks_shim, sticks_cpu)


# ---------------------------------------------------------------------------------------------------------------
# The cuda branches of amass_fast.kernels on the host: CPU torch tensors stand in for CUDA ones, and a stand-in
# for amass_fast._cuda checks every argument against the compiled module's own signatures (names, dtypes, host or
# device, writable, contiguous), then computes with the grid shim. This catches plumbing mistakes (argument order,
# scratch shapes, index dtypes, NumPy arrays left on the host) that would otherwise surface on the first GPU.

_PARAM = re.compile(r"(\w+): (?:ndarray\[dtype=(\w+), order='C', device='(\w+)'(, writable=False)?\]|(float|int))")
_STREAM = 0x5EED  # the stream the stand-in expects: the one the cuda adapter's _stream() returned


def _signatures(fn) -> list:
    """The overloads of a nanobind function, each [(name, dtype or scalar type, device or None, writable)]."""
    return [[(m[0], m[1] or m[4], m[2] or None, not m[3]) for m in _PARAM.findall(line)]
            for line in fn.__doc__.splitlines() if line.startswith(fn.__name__ + "(")]


class _CudaStandIn:
    """amass_fast._cuda with the real module's signatures, computing with _core's grid shim on CPU tensors."""

    def __init__(self, cuda, core, torch):
        self.cuda, self.core, self.torch = cuda, core, torch
        self.block_size = int(cuda.block_size)
        self.calls = []

    def _bind(self, name: str, args: tuple, kwargs: dict) -> dict:
        torch = self.torch
        for overload in _signatures(getattr(self.cuda, name)):
            names = [p[0] for p in overload]
            if len(args) > len(names) or set(kwargs) - set(names[len(args):]):
                continue
            bound = dict(zip(names, args), **kwargs)
            if set(names) - set(bound) - {"stream"}:
                continue
            ok = True
            for pname, kind, device, writable in overload:
                value = bound.get(pname)
                if kind in ("float", "int"):
                    ok &= isinstance(value, (float, int) if kind == "float" else int) and not isinstance(value, bool)
                elif device == "cuda":  # stands in for a CUDA tensor: a contiguous CPU tensor of the exact dtype
                    ok &= (isinstance(value, torch.Tensor) and str(value.dtype) == f"torch.{kind}"
                           and value.is_contiguous() and not value.requires_grad)
                else:
                    ok &= isinstance(value, np.ndarray) and value.dtype == kind and value.flags.c_contiguous
            if ok:
                self.calls.append(name)
                assert bound.get("stream") == _STREAM, f"{name}: launched on {bound.get('stream')}, not the stream"
                return {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in bound.items()}
        raise TypeError(f"_cuda.{name}: incompatible arguments {[type(a).__name__ for a in args]} {list(kwargs)}")

    def fk(self, *args, **kwargs):
        a = self._bind("fk", args, kwargs)
        self.core.fk_gridshim(a["poses"], a["trans"], a["rest_joints"], a["parents"], a["out"], block_size=self.block_size)

    def resample_poses(self, *args, **kwargs):
        a = self._bind("resample_poses", args, kwargs)
        self.core.resample_poses_gridshim(a["poses"], a["trans"], a["src_fps"], a["dst_fps"], a["out_poses"], a["out_trans"],
                                 block_size=self.block_size)

    def project(self, *args, **kwargs):
        a = self._bind("project", args, kwargs)
        F = a["joints"].shape[0]
        assert a["kp_scratch"].shape == (1, F, 8, 3) and a["cam_scratch"].shape == (1, 5)
        self.core.project_gridshim(a["joints"], a["yaw_deg"], a["view_mode"], a["out"], block_size=self.block_size)

    def convert_batch(self, *args, **kwargs):
        a = self._bind("convert_batch", args, kwargs)
        C, W = a["out"].shape[:2]
        assert a["kp_scratch"].shape == (C, W, 8, 3) and a["cam_scratch"].shape == (C, 5)
        self.core.convert_batch_gridshim(*(a[k] for k in ("poses", "trans", "seq_offsets", "seq_fps", "rest_joints",
                                                          "parents", "clip_seq", "clip_start", "clip_len", "clip_yaw",
                                                          "dst_fps", "view_mode", "out")), block_size=self.block_size)

    def convert_joints_batch(self, *args, **kwargs):
        a = self._bind("convert_joints_batch", args, kwargs)
        C, W = a["out"].shape[:2]
        assert a["world_scratch"].shape == (C, W, 22, 3) and a["frame_scratch"].shape == (C, 18)
        self.core.convert_joints_batch_gridshim(
            *(a[k] for k in ("poses", "trans", "seq_offsets", "seq_fps", "rest_joints", "parents", "clip_seq",
                             "clip_start", "clip_len", "clip_scale", "clip_camera", "dst_fps", "up", "out")),
            block_size=self.block_size)


@pytest.mark.parametrize("op", ["fk", "resample_poses", "project", "convert_batch", "convert_joints_batch"])
def test_core_and_cuda_take_the_same_arguments(op):
    """One backend boundary: _cuda's op takes _core's arguments in the same order, then scratch and the stream;
    each *_gridshim entry point takes them plus block_size."""
    core = pytest.importorskip("amass_fast._core")
    cuda = runtime.load("_cuda")
    if cuda is None:
        pytest.skip("amass_fast._cuda is not built (its signatures are what this checks)")
    names = lambda fn: [p[0] for p in _signatures(fn)[0]]  # noqa: E731
    cpu = names(getattr(core, op))
    assert cpu and names(getattr(cuda, op))[:len(cpu)] == cpu
    assert set(names(getattr(cuda, op))[len(cpu):]) <= {"kp_scratch", "cam_scratch", "world_scratch", "frame_scratch",
                                                        "stream"}
    assert names(getattr(core, op + "_gridshim")) == cpu + ["block_size"]


def route_cuda_to_host(monkeypatch, stand_in: _CudaStandIn) -> None:
    """backend='cuda' accepted for CPU tensors and run by the cuda adapter on `stand_in`, on _STREAM."""
    monkeypatch.setitem(runtime._modules, "_cuda", stand_in)
    monkeypatch.setattr(runtime, "cuda_problem", lambda: None)
    resolve = prepared._resolve
    monkeypatch.setattr(prepared, "_resolve", lambda op, backend, on_cuda, tensor:
                        resolve(op, backend, on_cuda or backend == "cuda", tensor))
    monkeypatch.setattr(cuda_adapter, "_stream", lambda device: _STREAM)
    monkeypatch.setattr(cuda_adapter, "_device_guard", lambda device: contextlib.nullcontext())


@pytest.fixture
def cuda_on_host(monkeypatch):
    """kernels with backend='cuda' routed to _CudaStandIn for CPU tensors."""
    torch = pytest.importorskip("torch")
    core = pytest.importorskip("amass_fast._core")
    cuda = runtime.load("_cuda")
    if cuda is None:
        pytest.skip("amass_fast._cuda is not built (its signatures are what this checks)")
    stand_in = _CudaStandIn(cuda, core, torch)
    route_cuda_to_host(monkeypatch, stand_in)
    return torch, stand_in


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_branches_of_kernels_on_host(cuda_on_host, dtype):
    torch, stand_in = cuda_on_host
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    args = many_clips_batch(dtype=dtype)
    want = kernels.convert_batch(**args, backend="cpp")
    # floats as tensors, index and rate arrays left as NumPy (they must be moved to the device) ...
    mixed = {k: torch.from_numpy(v) if k in ("poses", "trans", "rest_joints") else v for k, v in args.items()}
    got = kernels.convert_batch(**mixed, backend="cuda")
    assert isinstance(got, torch.Tensor) and got.dtype == tdtype
    np.testing.assert_array_equal(got.numpy(), want)
    # ... or every array a tensor, int32 indices included; `out` (even one that requires grad) filled and returned
    tensors = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in args.items()}
    tensors.update(clip_len=tensors["clip_len"].int(), seq_offsets=tensors["seq_offsets"].int())
    want_top = kernels.convert_batch(**args, top=True, backend="cpp")
    out = torch.empty(want.shape, dtype=tdtype, requires_grad=True)
    assert kernels.convert_batch(**tensors, top=True, backend="cuda", out=out) is out
    np.testing.assert_array_equal(out.detach().numpy(), want_top)
    # an empty batch launches nothing
    empty = {**tensors, **{k: v[:0] for k, v in tensors.items() if k.startswith("clip_")}}
    assert tuple(kernels.convert_batch(**empty, backend="cuda").shape) == (0, 250, 20)
    # fk, resample_poses, project, convert
    rng = np.random.default_rng(7)
    poses, trans = rng.normal(0, 0.5, (41, 156)).astype(dtype), rng.normal(0, 1, (41, 3)).astype(dtype)
    rest = rng.normal(0, 0.3, (52, 3)).astype(dtype)
    parents = np.r_[reference.BODY_PARENTS, rng.integers(0, 20, 30)]
    tp, tt = torch.from_numpy(poses), torch.from_numpy(trans)
    joints = kernels.fk(tp, tt, rest, parents, backend="cuda")
    np.testing.assert_array_equal(joints.numpy(), kernels.fk(poses, trans, rest, parents, backend="cpp"))
    for got, want in zip(kernels.resample_poses(tp, tt, 120.0, backend="cuda"),
                         kernels.resample_poses(poses, trans, 120.0, backend="cpp")):
        np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(kernels.project(joints, view="yaw:20", backend="cuda").numpy(),
                                  kernels.project(joints.numpy(), view="yaw:20", backend="cpp"))
    np.testing.assert_array_equal(kernels.convert(tp, tt, torch.from_numpy(rest), parents, 120.0, view="top",
                                                  backend="cuda").numpy(),
                                  kernels.convert(poses, trans, rest, parents, 120.0, view="top", backend="cpp"))
    assert stand_in.calls == ["convert_batch"] * 3 + ["fk", "resample_poses", "project", "convert_batch"]


def test_cuda_unavailable_is_explained(monkeypatch):
    """Where the module's CUDA runtime finds no GPU (no driver, or one older than the runtime), cuda is not
    offered and asking for it names the reason."""
    torch = pytest.importorskip("torch")
    cuda = runtime.load("_cuda")
    if cuda is None:
        pytest.skip("amass_fast._cuda is not built")
    info = cuda.runtime_info()
    assert info["runtime_version"] >= 12000 and info["device_count"] == cuda.device_count() >= 0
    if info["device_count"] == 0:
        assert "cuda" not in kernels.available_backends()
        assert re.match(r"cuda\w+: .+", info["error"])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setitem(runtime._modules, "_cuda:runtime", {
        "runtime_version": 13000, "driver_version": 12020, "device_count": 0,
        "error": "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version"})
    assert "cuda" not in kernels.available_backends()
    with pytest.raises(RuntimeError, match="backend='cuda' is unavailable here .*InsufficientDriver"):
        prepared._resolve("fk", "cuda", True, True)


# ---------------------------------------------------------------------------------------------------------------
# More CUDA (GPU only): the real launch shape, NumPy index arrays, `out`, streams, graph capture, a second GPU.

def _cuda_tol(dtype) -> float:
    return 1e-5 if dtype == np.float32 else 1e-9


@pytest.mark.cuda
def test_cuda_runtime_info_agrees_with_torch():
    torch = _cuda_torch()
    info = runtime.load("_cuda").runtime_info()
    assert info["error"] is None and info["device_count"] == torch.cuda.device_count() >= 1
    assert info["driver_version"] >= info["runtime_version"] // 1000 * 1000  # same major version or newer


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_launch_shape_numpy_indices_out_and_side_stream(dtype):
    torch = _cuda_torch()
    args = many_clips_batch(dtype=dtype)
    want = kernels.convert_batch(**args, backend="cpp")
    gpu = {k: torch.from_numpy(v).cuda() if k in ("poses", "trans", "rest_joints") else v for k, v in args.items()}
    got = kernels.convert_batch(**gpu)  # index and rate arrays are NumPy: moved to the GPU by kernels
    assert got.is_cuda
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=0, atol=_cuda_tol(dtype))
    # on a side stream, into a given `out`: valid once that stream is done
    out = torch.full(want.shape, float("nan"), dtype=got.dtype, device="cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        assert kernels.convert_batch(**gpu, out=out) is out
    side.synchronize()
    np.testing.assert_array_equal(out.cpu().numpy(), got.cpu().numpy())
    empty = {**gpu, **{k: v[:0] for k, v in gpu.items() if k.startswith("clip_")}}
    assert tuple(kernels.convert_batch(**empty).shape) == (0, 250, 20)


@pytest.mark.cuda
def test_cuda_launches_go_to_the_current_stream(monkeypatch):
    """A CUDA graph captures only work on the capturing stream (anything on another stream fails the capture),
    so a captured and replayed fk proves the launches use torch's current stream."""
    torch = _cuda_torch()
    monkeypatch.setenv("AMASS_FAST_CUDA_SYNC", "0")  # no synchronisation while capturing
    rng = np.random.default_rng(8)
    poses, trans = rng.normal(0, 0.5, (300, 66)), rng.normal(0, 1, (300, 3))
    rest = rng.normal(0, 0.3, (22, 3))
    gp, gt, gr = (torch.from_numpy(a).cuda() for a in (poses, trans, rest))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside the capture (loads the kernels)
        kernels.fk(gp, gt, gr, reference.BODY_PARENTS)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        joints = kernels.fk(gp, gt, gr, reference.BODY_PARENTS)
    gp.mul_(0.5)  # new inputs in place, then replay
    graph.replay()
    torch.cuda.synchronize()
    want = kernels.fk(poses * 0.5, trans, rest, reference.BODY_PARENTS, backend="cpp")
    np.testing.assert_allclose(joints.cpu().numpy(), want, rtol=0, atol=1e-9)


@pytest.mark.cuda
def test_cuda_second_device():
    """Data on cuda:1 while cuda:0 is current: computed on cuda:1, returned there."""
    torch = _cuda_torch()
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    args = one_batch(seed=9)
    want = kernels.convert_batch(**args, backend="cpp")
    dev1 = {k: torch.from_numpy(v).to("cuda:1") if isinstance(v, np.ndarray) else v for k, v in args.items()}
    with torch.cuda.device(0):
        got = kernels.convert_batch(**dev1)
    assert got.device == torch.device("cuda:1")
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="same CUDA device"):
        poses = dev1["poses"]
        runtime.load("_cuda").fk(poses, dev1["trans"], dev1["rest_joints"][0].to("cuda:0"),
                                  reference.BODY_PARENTS[:22], torch.empty(poses.shape[0], 22, 3, device="cuda:1",
                                                                           dtype=poses.dtype))


@pytest.mark.parametrize("flag, value", [("--threads", "0"), ("--threads", "100000000"), ("--threads", "x"),
                                         ("--frames", "1"), ("--frames", "nan")])
def test_bench_flags_exit_two_naming_the_flag(flag, value, capsys):
    from amass_fast.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["bench", "--quick", flag, value])
    assert exc.value.code == 2 and f"argument {flag}" in capsys.readouterr().err


def test_resolve_backend_is_the_one_meaning_of_auto(monkeypatch):
    """auto: cuda only where usable and the data are (or may be put) on a GPU, else the first CPU backend that
    imports; named backends are checked; an unknown name is refused naming the choices."""
    cpu_first = next(b for b in ("cpp", "numba", "reference") if b in kernels.available_backends())
    monkeypatch.setattr(runtime, "cuda_problem", lambda: None)
    assert kernels.resolve_backend("auto", data_on="cuda") == "cuda"
    assert kernels.resolve_backend("auto", data_on="any") == "cuda"
    assert kernels.resolve_backend("auto", data_on="cpu") == cpu_first
    monkeypatch.setattr(runtime, "cuda_problem", lambda: "torch sees no GPU")
    assert kernels.resolve_backend("auto", data_on="any") == cpu_first
    with pytest.raises(RuntimeError, match="no GPU"):
        kernels.resolve_backend("cuda")
    with pytest.raises(ValueError, match="auto, cuda, cpp, numba, reference"):
        kernels.resolve_backend("fast")
    assert kernels.resolve_backend("reference") == "reference"
