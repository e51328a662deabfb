"""The numba fallback against the float64 reference, function by function and whole-array, plus its guards.

Tolerances: float64 inputs agree with the reference to 1e-12 (same formulas, different summation order);
float32 inputs to 1e-5 (the float32 rounding of inputs and outputs).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from amass_fast.kernels import reference as ref
from amass_fast.io.body_models import BODY_PARENTS, default_rest_joints

nb = pytest.importorskip("amass_fast.kernels.numba_backend")
from amass_fast import kernels  # noqa: E402


def _nb_convert_batch(*args, view_mode=ref.VIEW_FRONT, **kw):
    return kernels.convert_batch(*args, top=view_mode == ref.VIEW_TOP, backend="numba", **kw)

ANGLES = (0.0, 1e-6, 5e-5, 1e-3, 0.5, 2.0, math.pi - 1e-3)


def _aa(angle, seed=0):
    axis = np.random.default_rng(seed).normal(size=3)
    return axis / np.linalg.norm(axis) * angle


@pytest.mark.parametrize("angle", ANGLES)
def test_per_frame_functions_mirror_reference(angle):
    aa, aa2 = _aa(angle), _aa(0.7 * angle + 0.3, seed=1)
    R = np.empty((3, 3))
    nb.rodrigues(aa, R)
    assert np.abs(R - ref.rodrigues(aa)).max() <= 1e-12
    q0, q1 = nb.aa_to_quat(aa), nb.aa_to_quat(aa2)
    assert np.abs(np.array(q0) - ref.aa_to_quat(aa)).max() <= 1e-12
    for alpha in (0.0, 0.25, 1.0):
        expect = ref.quat_slerp(ref.aa_to_quat(aa), ref.aa_to_quat(aa2), alpha)
        assert np.abs(np.array(nb.quat_slerp(q0, q1, alpha)) - expect).max() <= 1e-12
    nb.quat_to_mat(q0, R)
    assert np.abs(R - ref.quat_to_mat(np.array(q0))).max() <= 1e-12
    assert np.abs(np.array(nb.quat_to_aa(q0)) - ref.quat_to_aa(np.array(q0))).max() <= 1e-12


def test_chain_keypoints_camera_projection_mirror_reference():
    rng = np.random.default_rng(3)
    rest = default_rest_joints()
    rot = np.stack([ref.rodrigues(rng.normal(0, 0.5, 3)) for _ in range(22)])
    trans = rng.normal(size=3)
    G, p = np.empty((22, 3, 3)), np.empty((22, 3))
    nb.joint_chain(rot, rest, BODY_PARENTS, trans, G, p)
    assert np.abs(p - ref.joint_chain(rot, rest, BODY_PARENTS, trans)).max() <= 1e-12
    kp = np.empty((8, 3))
    nb.stick_keypoints(p, kp)
    assert np.array_equal(kp, ref.stick_keypoints(p))
    for mode, yaw in ((ref.VIEW_FRONT, 0.0), (ref.VIEW_FRONT, 37.0), (ref.VIEW_TOP, 0.0)):
        cam = nb.clip_camera(kp, -0.3, yaw, mode)
        assert np.abs(np.array(cam) - ref.clip_camera(kp, -0.3, yaw, mode)).max() <= 1e-12
        out = np.empty(20)
        nb.project_keypoints(kp, cam, mode, out)
        assert np.abs(out - ref.project_keypoints(kp, np.array(cam), mode)).max() <= 1e-12
    for k, F, src in ((0, 10, 60.0), (7, 100, 59.99999), (40, 100, 120.0), (99, 100, 250.0)):
        assert nb.source_position(k, F, src, 25.0) == pytest.approx(ref.source_position(k, F, src, 25.0), abs=1e-12)


def _batch(rng, dtype=np.float64):
    lens, fps = [130, 300, 7], [120.0, 59.99999, 250.0]
    offsets = np.concatenate([[0], np.cumsum(lens)])
    poses = rng.normal(0.0, 0.6, (offsets[-1], 156))
    poses[:, :3] += [math.pi / 2, 0.0, 0.0]
    trans = rng.normal(0.0, 0.5, (offsets[-1], 3))
    rest = np.stack([default_rest_joints() + rng.normal(0, 0.01, (22, 3)) for _ in lens])
    clips = dict(clip_seq=[0, 1, 1, 2], clip_start=[0, 0, 40, 0], clip_len=[26, 40, 23, 1], clip_yaw=[0, 90, -30, 10])
    return (poses.astype(dtype), trans.astype(dtype), offsets, np.array(fps), rest, BODY_PARENTS,
            *(np.array(clips[k]) for k in ("clip_seq", "clip_start", "clip_len", "clip_yaw")))


@pytest.mark.parametrize("view_mode", [ref.VIEW_FRONT, ref.VIEW_TOP])
def test_convert_batch_matches_reference(view_mode):
    args = _batch(np.random.default_rng(4))
    expected = ref.convert_batch(*args, window=40, view_mode=view_mode)
    got = _nb_convert_batch(*args, window=40, view_mode=view_mode)
    assert got.dtype == np.float64 and np.abs(got - expected).max() <= 1e-12
    assert np.array_equal(got[3, 1:], np.repeat(got[3, :1], 39, axis=0))   # a 1-frame clip holds its frame
    args32 = _batch(np.random.default_rng(4), np.float32)
    out = np.zeros((4, 40, 20), np.float32)
    got32 = _nb_convert_batch(*args32, window=40, view_mode=view_mode, out=out)
    assert got32 is out and np.abs(got32 - expected).max() <= 1e-5


def test_fk_resample_project_match_reference():
    rng = np.random.default_rng(5)
    poses, trans = rng.normal(0, 0.8, (30, 66)), rng.normal(size=(30, 3))
    rest = default_rest_joints()
    joints = kernels.fk(poses, trans, rest, BODY_PARENTS, backend="numba")
    assert np.abs(joints - ref.fk(poses, trans, rest, BODY_PARENTS)).max() <= 1e-12
    assert kernels.fk(poses.astype(np.float32), trans.astype(np.float32), rest, BODY_PARENTS, backend="numba").dtype == np.float32
    p, t = kernels.resample_poses(poses, trans, 100.0, backend="numba")
    rp, rt = ref.resample_poses(poses, trans, 100.0)
    assert np.abs(p - rp).max() <= 1e-12 and np.abs(t - rt).max() <= 1e-12
    assert np.abs(kernels.project(joints, view=20.0, backend="numba") - ref.project(joints, 20.0)).max() <= 1e-12


def test_bad_arguments_raise_clear_errors():
    """The whole-array entry points check their arguments as amass_fast.kernels does (one set of checks)."""
    args = list(_batch(np.random.default_rng(6)))
    with pytest.raises(ValueError, match=r"`clip_len` must be in 1..window = 40"):
        _nb_convert_batch(*args[:8], np.array([26, 41, 23, 1]), args[9], window=40)
    with pytest.raises(ValueError, match="sequences 0..2"):
        _nb_convert_batch(*args[:6], np.array([0, 3, 1, 2]), *args[7:], window=40)
    with pytest.raises(ValueError, match="seq_offsets"):
        _nb_convert_batch(args[0], args[1], np.array([0, 130, 430, 10**6]), *args[3:], window=40)
    with pytest.raises(TypeError, match="`out` must have dtype float64"):
        _nb_convert_batch(*args, window=40, out=np.zeros((4, 40, 20), np.float32))
    with pytest.raises(ValueError, match=r"`poses` must have shape \(\*, >=66\)"):
        kernels.fk(np.zeros((3, 60)), np.zeros((3, 3)), default_rest_joints(), BODY_PARENTS, backend="numba")
    with pytest.raises(ValueError, match="parents"):
        kernels.fk(np.zeros((3, 66)), np.zeros((3, 3)), default_rest_joints(), BODY_PARENTS[::-1].copy(), backend="numba")


def test_read_only_cache_falls_back_to_memory(monkeypatch):
    """cache=True raises at decoration where the package folder is read-only: _njit must still compile."""
    import numba

    real = numba.njit

    def njit(*a, cache=False, **k):
        if cache:
            raise RuntimeError("cannot cache function 'f': no locator available for file '/ro/f.py'")
        return real(*a, cache=cache, **k)

    monkeypatch.setattr(numba, "njit", njit)

    @nb._njit()
    def twice(x):
        return 2 * x

    assert twice(21) == 42
