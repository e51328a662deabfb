"""The public kernel API (amass_fast.kernels): view parsing, backend choice, clear errors for bad arguments, and
(on a machine with a GPU, `pytest -m cuda`) the CUDA backend against the cpp backend."""
from __future__ import annotations

import numpy as np
import pytest

from amass_fast import kernels, reference


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
    with pytest.raises(ValueError, match="clip 1 covers output frames"):
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
