"""The compiled CPU backend (amass_fast._core) against the float64 reference, and the CUDA kernels' grid logic
run on the host through the grid shim (block_size > 0) against the OpenMP path, which must agree exactly."""
from __future__ import annotations

import numpy as np
import pytest

from amass_fast import kernels
from amass_fast.kernels import prepared, reference

core = pytest.importorskip("amass_fast._core", reason="amass_fast._core is not built (tools/build_inplace.sh)")

TOL = {np.float32: 1e-5, np.float64: 1e-9}
DTYPES = [np.float32, np.float64]


def random_parents(rng: np.random.Generator, num_joints: int) -> np.ndarray:
    """SMPL body parents for the first 22 joints, random valid parents (< j) after them."""
    extra = [int(rng.integers(0, j)) for j in range(22, num_joints)]
    return np.concatenate([reference.BODY_PARENTS, np.array(extra, dtype=np.int64)])


def random_batch(seed: int, frames=(130, 61, 1, 37), fps=(120.0, 59.99999, 30.0, 250.0), window=13,
                 pose_scale=0.5):
    """A ragged batch over sequences of the given lengths and rates, with clips that cover the odd cases:
    a clip of one frame, clips shorter than the window (padding), a one-frame sequence, varied yaws."""
    rng = np.random.default_rng(seed)
    frames = np.asarray(frames)
    offsets = np.concatenate([[0], np.cumsum(frames)]).astype(np.int64)
    N = int(offsets[-1])
    batch = dict(
        poses=rng.normal(0.0, pose_scale, (N, 156)), trans=rng.normal(0.0, 1.0, (N, 3)), seq_offsets=offsets,
        seq_fps=np.asarray(fps, dtype=np.float64), rest_joints=rng.normal(0.0, 0.3, (len(frames), 52, 3)),
        parents=random_parents(rng, 52))
    clip_seq, clip_start, clip_len = [], [], []
    for s, (F, f) in enumerate(zip(frames, fps)):
        T = reference.resampled_length(int(F), f, 25.0)
        for start in range(0, T, window):
            clip_seq.append(s), clip_start.append(start), clip_len.append(min(window, T - start))
        clip_seq.append(s), clip_start.append(T - 1), clip_len.append(1)  # the last frame alone
    C = len(clip_seq)
    batch.update(clip_seq=np.array(clip_seq, np.int64), clip_start=np.array(clip_start, np.int64),
                 clip_len=np.array(clip_len, np.int64), clip_yaw=rng.uniform(-180.0, 180.0, C))
    return batch, window


def as_dtype(batch: dict, dtype) -> dict:
    floats = ("poses", "trans", "rest_joints")
    return {k: np.ascontiguousarray(v, dtype=dtype) if k in floats else v for k, v in batch.items()}


def core_convert_batch(batch: dict, window: int, view_mode: int, dtype, block_size: int = 0) -> np.ndarray:
    b = as_dtype(batch, dtype)
    out = np.full((len(b["clip_seq"]), window, 20), np.nan, dtype=dtype)
    clips = prepared.ClipBatch(**{k: b[k] for k in prepared.ClipBatch._fields[:9]}, dst_fps=25.0, window=window)
    record = prepared.StickBatch(None, clips, b["clip_yaw"], view_mode, out)
    if block_size:   # the CUDA kernels run grid-serially: their own entry point, the same record + block_size
        core.convert_batch_gridshim(record, block_size=block_size)
    else:
        core.convert_batch(record)
    return out


@pytest.mark.parametrize("view_mode", [reference.VIEW_FRONT, reference.VIEW_TOP])
def test_convert_batch_matches_reference(dtype, view_mode):
    batch, window = random_batch(seed=1)
    want = reference.convert_batch(**as_dtype(batch, dtype), window=window, view_mode=view_mode)
    got = core_convert_batch(batch, window, view_mode, dtype)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL[dtype])
    # and through the public API
    api = kernels.convert_batch(**as_dtype(batch, dtype), window=window, top=view_mode == reference.VIEW_TOP,
                                backend="cpp")
    np.testing.assert_array_equal(api, got)


def test_convert_batch_large_rotations_float32():
    """Angles up to ~pi and near-identical neighbours (the slerp's lerp branch) stay within 1e-5 in float32."""
    batch, window = random_batch(seed=2, pose_scale=1.5)
    batch["poses"][1:40:2] = batch["poses"][0:39:2] + 1e-7  # pairs of almost equal frames
    want = reference.convert_batch(**as_dtype(batch, np.float32), window=window)
    got = core_convert_batch(batch, window, reference.VIEW_FRONT, np.float32)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("block_size", [1, 7, 32, 128])
def test_gridshim_convert_batch_equals_cpp(dtype, block_size):
    batch, window = random_batch(seed=3)
    for view_mode in (reference.VIEW_FRONT, reference.VIEW_TOP):
        want = core_convert_batch(batch, window, view_mode, dtype)
        got = core_convert_batch(batch, window, view_mode, dtype, block_size=block_size)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("block_size", [1, 5, 64])
def test_gridshim_odd_sizes(block_size):
    """C = 1, F = 1, clip_len = 1, a window that is no multiple of the block, a window of one frame."""
    for frames, fps, window in (((1,), (60.0,), 1), ((1,), (60.0,), 7), ((200,), (100.0,), 51), ((9,), (25.0,), 3)):
        batch, window = random_batch(seed=4, frames=frames, fps=fps, window=window)
        for dtype in DTYPES:
            want = core_convert_batch(batch, window, reference.VIEW_FRONT, dtype)
            got = core_convert_batch(batch, window, reference.VIEW_FRONT, dtype, block_size=block_size)
            np.testing.assert_array_equal(got, want)
            assert np.all(np.isfinite(got))


def test_fk_matches_reference_and_gridshim(dtype):
    rng = np.random.default_rng(5)
    F, J = 45, 52
    poses, trans = rng.normal(0, 0.8, (F, 3 * J + 9)).astype(dtype), rng.normal(0, 1, (F, 3)).astype(dtype)
    rest, parents = rng.normal(0, 0.3, (J, 3)).astype(dtype), random_parents(rng, J)
    want = reference.fk(poses, trans, rest, parents)
    out = np.empty((F, J, 3), dtype)
    core.fk(prepared.Fk(None, poses, trans, rest, parents, out))
    np.testing.assert_allclose(out, want, rtol=0, atol=TOL[dtype])
    for block_size in (1, 32):
        shim = np.empty_like(out)
        core.fk_gridshim(prepared.Fk(None, poses, trans, rest, parents, shim), block_size=block_size)
        np.testing.assert_array_equal(shim, out)


@pytest.mark.parametrize("src_fps", [59.99999, 60.0, 100.0, 120.0, 150.0, 250.0, 24.0])
def test_resample_poses_matches_reference(dtype, src_fps):
    rng = np.random.default_rng(6)
    F = int(src_fps * 1.3) + 1
    poses, trans = rng.normal(0, 0.6, (F, 156)).astype(dtype), rng.normal(0, 1, (F, 3)).astype(dtype)
    T = reference.resampled_length(F, src_fps, 25.0)
    want_p, want_t = reference.resample_poses(poses, trans, src_fps)
    assert want_p.shape == (T, 156)
    out_p, out_t = np.empty((T, 156), dtype), np.empty((T, 3), dtype)
    core.resample_poses(prepared.Resample(None, poses, trans, src_fps, 25.0, out_p, out_t))
    np.testing.assert_allclose(out_t, want_t, rtol=0, atol=TOL[dtype])
    np.testing.assert_allclose(out_p, want_p, rtol=0, atol=TOL[dtype])
    shim_p, shim_t = np.empty_like(out_p), np.empty_like(out_t)
    core.resample_poses_gridshim(prepared.Resample(None, poses, trans, src_fps, 25.0, shim_p, shim_t), block_size=7)
    np.testing.assert_array_equal(shim_p, out_p)
    np.testing.assert_array_equal(shim_t, out_t)


def test_resample_does_not_drift_at_59_99999():
    """Output frame k sits at k / 25 s: a translation that grows linearly in time is reproduced exactly."""
    src = 59.99999
    F = int(src * 600)  # ten minutes
    t = np.arange(F, dtype=np.float64) / src
    trans = np.stack([t, np.zeros(F), np.zeros(F)], axis=1)
    T = reference.resampled_length(F, src, 25.0)
    assert T == 15000  # the last source frame is at 599.98 s: output frames 0 .. 14999
    out_p, out_t = np.empty((T, 3)), np.empty((T, 3))
    core.resample_poses(prepared.Resample(None, np.zeros((F, 3)), trans, src, 25.0, out_p, out_t))
    np.testing.assert_allclose(out_t[:, 0], np.arange(len(out_t)) / 25.0, rtol=0, atol=1e-9)


@pytest.mark.parametrize("view", [(reference.VIEW_FRONT, 0.0), (reference.VIEW_FRONT, 37.5), (reference.VIEW_TOP, 0.0)])
def test_project_matches_reference(dtype, view):
    rng = np.random.default_rng(7)
    joints = rng.normal(0, 0.5, (23, 24, 3)).astype(dtype)
    view_mode, yaw = view
    want = reference.project(joints, yaw, view_mode)
    out = np.empty((23, 20), dtype)
    core.project(prepared.Project(None, joints, yaw, view_mode, out))
    np.testing.assert_allclose(out, want, rtol=0, atol=TOL[dtype])
    shim = np.empty_like(out)
    core.project_gridshim(prepared.Project(None, joints, yaw, view_mode, shim), block_size=5)
    np.testing.assert_array_equal(shim, out)


def test_thread_setting_keeps_results():
    batch, window = random_batch(seed=8, frames=(400, 300), fps=(120.0, 100.0), window=25)
    before = core.get_num_threads()
    try:
        kernels.set_num_threads(1)
        assert core.get_num_threads() == 1 and kernels.get_num_threads() == 1
        one = core_convert_batch(batch, window, reference.VIEW_FRONT, np.float64)
        kernels.set_num_threads(2)
        assert core.get_num_threads() == 2
        two = core_convert_batch(batch, window, reference.VIEW_FRONT, np.float64)
    finally:
        core.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def test_torch_cpu_tensors_in_torch_out():
    torch = pytest.importorskip("torch")
    batch, window = random_batch(seed=9)
    want = core_convert_batch(batch, window, reference.VIEW_FRONT, np.float32)
    t = {k: torch.from_numpy(np.asarray(v)) for k, v in as_dtype(batch, np.float32).items()}
    got = kernels.convert_batch(**t, window=window, backend="cpp")
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and got.device.type == "cpu"
    np.testing.assert_array_equal(got.numpy(), want)
    # float16 in: computed and returned in float32
    half = kernels.fk(t["poses"][:5, :66].half(), t["trans"][:5], t["rest_joints"][0, :22], t["parents"][:22])
    assert half.dtype == torch.float32 and half.shape == (5, 22, 3)
    # an `out` tensor is filled in place and returned
    out = torch.empty(tuple(got.shape), dtype=torch.float32)
    assert kernels.convert_batch(**t, window=window, backend="cpp", out=out) is out
    np.testing.assert_array_equal(out.numpy(), want)


# ---------------------------------------------------------------------------------------------------------------
# The kernels' polynomial sin/cos (amass_math.h sincos_poly): the error bounds stated there, measured against
# float64 libm (itself within 1 ulp), over the angles rotations use and far beyond them.

@pytest.mark.parametrize("dtype,limit,ulps", [(np.float32, 8192.0, 2.0), (np.float64, 1e5, 2.0)])
def test_sincos_poly_error_bound(dtype, limit, ulps):
    rng = np.random.default_rng(11)
    x = np.concatenate([np.linspace(-2 * np.pi, 2 * np.pi, 200_001), rng.uniform(-limit, limit, 200_000),
                        np.arange(-64, 65) * (np.pi / 4), [0.0, -0.0, 1e-30, 5e-5]]).astype(dtype)
    s, c = np.empty_like(x), np.empty_like(x)
    core.sincos(x, s, c)
    exact = x.astype(np.float64)
    eps = np.finfo(dtype).eps   # 1 ulp of 1
    err_s = np.abs(s.astype(np.float64) - np.sin(exact)).max() / eps
    err_c = np.abs(c.astype(np.float64) - np.cos(exact)).max() / eps
    assert err_s <= ulps and err_c <= ulps, (err_s, err_c)
    assert s[np.flatnonzero(x == 0)[0]] == 0 and c[np.flatnonzero(x == 0)[0]] == 1
    # A wrong quadrant or a missing polynomial term would be off by far more than the bound: the test can fail.
    assert np.abs(s.astype(np.float64) - np.sin(exact + 1e-6)).max() / eps > ulps
