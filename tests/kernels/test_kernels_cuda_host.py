"""The cuda branches of amass_fast.kernels on the host, through the stand-in for amass_fast._cuda of
tests/conftest.py (cuda_on_host): one backend boundary, every op routed to the grid shim, and a missing GPU
explained."""
from __future__ import annotations

import re

import numpy as np
import pytest

from amass_fast import kernels
from amass_fast.kernels import prepared, reference, runtime


@pytest.mark.parametrize("op", ["fk", "resample_poses", "project", "convert_batch", "convert_joints_batch"])
def test_core_and_cuda_take_the_same_arguments(nanobind_signatures, op):
    """One backend boundary: _cuda's op takes the record _core's op takes, then scratch and the stream; each
    *_gridshim entry point takes the record plus block_size."""
    core = pytest.importorskip("amass_fast._core")
    cuda = runtime.load("_cuda")
    if cuda is None:
        pytest.skip("amass_fast._cuda is not built (its signatures are what this checks)")
    names = lambda fn: [p[0] for p in nanobind_signatures(fn)[0]]  # noqa: E731
    cpu = names(getattr(core, op))
    assert cpu and names(getattr(cuda, op))[:len(cpu)] == cpu
    assert set(names(getattr(cuda, op))[len(cpu):]) <= {"kp_scratch", "cam_scratch", "world_scratch", "frame_scratch",
                                                        "stream"}
    assert names(getattr(core, op + "_gridshim")) == cpu + ["block_size"]


def test_cuda_branches_of_kernels_on_host(many_clips_batch, cuda_on_host, dtype):
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
