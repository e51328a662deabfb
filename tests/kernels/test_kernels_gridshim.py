"""The CUDA kernels' index and bounds logic on the host: kernels.cuh run grid-serially (the grid shim in _core)
with the CUDA module's block size must equal the OpenMP path exactly (same per-item math)."""
from __future__ import annotations

import numpy as np
import pytest

from amass_fast.kernels import prepared, reference, runtime


def _cuda_block_size() -> int:
    cuda = runtime.load("_cuda")
    return int(cuda.block_size) if cuda is not None else 128  # csrc/cuda_module.cu kBlockSize


# ---------------------------------------------------------------------------------------------------------------
# The CUDA kernels' index and bounds logic on the host: kernels.cuh run grid-serially (the grid shim in _core)
# with the CUDA module's block size must equal the OpenMP path exactly (same per-item math).

def test_gridshim_launch_shape_of_the_gpu(many_clips_batch, dtype):
    """Every kernel with several blocks and a partial last block: 150 clips (> block size) of window 250
    (> block size) for convert_batch; 301 frames for fk / resample / project."""
    core = pytest.importorskip("amass_fast._core")
    block = _cuda_block_size()
    args = many_clips_batch(dtype=dtype)
    C, W = len(args["clip_seq"]), args["window"]
    assert C > block and W > block and (C * W) % block and C % block
    batch = prepared.ClipBatch(**{k: args[k] for k in prepared.ClipBatch._fields[:9]}, dst_fps=25.0, window=W)
    for view_mode in (reference.VIEW_FRONT, reference.VIEW_TOP):
        want, got = (np.full((C, W, 20), np.nan, dtype) for _ in range(2))
        core.convert_batch(prepared.StickBatch(None, batch, args["clip_yaw"], view_mode, want))
        core.convert_batch_gridshim(prepared.StickBatch(None, batch, args["clip_yaw"], view_mode, got),
                                    block_size=block)
        np.testing.assert_array_equal(got, want)
        assert np.all(np.isfinite(got))
    rng = np.random.default_rng(6)
    F, J = 301, 52
    poses, trans = rng.normal(0, 0.5, (F, 3 * J)).astype(dtype), rng.normal(0, 1, (F, 3)).astype(dtype)
    rest, parents = rng.normal(0, 0.3, (J, 3)).astype(dtype), np.r_[reference.BODY_PARENTS, rng.integers(0, 20, 30)]
    fk_cpu, fk_shim = np.empty((F, J, 3), dtype), np.full((F, J, 3), np.nan, dtype)
    core.fk(prepared.Fk(None, poses, trans, rest, parents, fk_cpu))
    core.fk_gridshim(prepared.Fk(None, poses, trans, rest, parents, fk_shim), block_size=block)
    np.testing.assert_array_equal(fk_shim, fk_cpu)
    T = reference.resampled_length(F, 59.99999, 25.0)
    outs = [np.full(shape, np.nan, dtype) for shape in ((T, 3 * J), (T, 3), (T, 3 * J), (T, 3))]
    core.resample_poses(prepared.Resample(None, poses, trans, 59.99999, 25.0, outs[0], outs[1]))
    core.resample_poses_gridshim(prepared.Resample(None, poses, trans, 59.99999, 25.0, outs[2], outs[3]),
                                 block_size=block)
    np.testing.assert_array_equal(outs[2], outs[0])
    np.testing.assert_array_equal(outs[3], outs[1])
    sticks_cpu, sticks_shim = np.empty((F, 20), dtype), np.full((F, 20), np.nan, dtype)
    core.project(prepared.Project(None, fk_cpu, 33.0, reference.VIEW_FRONT, sticks_cpu))
    core.project_gridshim(prepared.Project(None, fk_cpu, 33.0, reference.VIEW_FRONT, sticks_shim), block_size=block)
    np.testing.assert_array_equal(sticks_shim, sticks_cpu)
