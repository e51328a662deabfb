"""The CUDA backend on a GPU (`pytest -m cuda`, benches/gpu_check.sh) against the cpp backend: convert_batch,
fk, resample_poses and project, the real launch shape, NumPy index arrays, `out`, streams, graph capture, a
second GPU."""
from __future__ import annotations

import numpy as np
import pytest

from amass_fast import kernels
from amass_fast.kernels import prepared, reference, runtime


# ---------------------------------------------------------------------------------------------------------------
# CUDA (run with `pytest -m cuda` where a GPU is lent)

def _cuda_torch():
    torch = pytest.importorskip("torch")
    if "cuda" not in kernels.available_backends():
        pytest.skip("no GPU or amass_fast._cuda not built")
    return torch


@pytest.mark.cuda
def test_cuda_convert_batch_matches_cpp(one_batch, dtype):
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
def test_cuda_launch_shape_numpy_indices_out_and_side_stream(many_clips_batch, dtype):
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
def test_cuda_second_device(one_batch):
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
        out = torch.empty(poses.shape[0], 22, 3, device="cuda:1", dtype=poses.dtype)
        runtime.load("_cuda").fk(prepared.Fk(None, poses, dev1["trans"], dev1["rest_joints"][0].to("cuda:0"),
                                             reference.BODY_PARENTS[:22], out))
