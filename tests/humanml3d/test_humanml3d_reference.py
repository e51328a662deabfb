"""HumanML3D's representation as the float64 reference states it: shapes, formulas and invariants.

Tolerances: invariants that hold exactly in exact arithmetic are checked to 1e-9 (float64 rounding of a few hundred
operations); the numba backend against the reference to 1e-9; the float32 API results to 1e-5.
"""
from __future__ import annotations

import numpy as np
import pytest

from amass_fast import humanml3d, kernels
from amass_fast.harness import synthetic
from amass_fast.io.body_models import BODY_PARENTS, default_rest_joints
from amass_fast.humanml3d import kernels as hk
from amass_fast.humanml3d import reference as ref
from amass_fast.humanml3d.constants import AXES, FEATURE_GROUPS, NUM_FEATURES



def clip(motion: str = "walk", frames: int = 80, seed: int = 0, heading: float = 0.3) -> np.ndarray:
    """Joints [T, 22, 3] of a synthetic motion in HumanML3D's stage-1 frame (Y up)."""
    rng = np.random.default_rng(seed)
    body, trans = synthetic.motion_curves(motion, frames, 20.0, rng, heading)
    world = kernels.fk(body, trans, default_rest_joints(), BODY_PARENTS, backend="reference")
    return world @ AXES * np.array([-1.0, 1.0, 1.0])


TARGET = ref.skeleton_offsets(clip(seed=99)[0])


def test_shapes_and_layout():
    joints = clip(frames=50)
    vecs = ref.features(joints, TARGET)
    assert vecs.shape == (49, NUM_FEATURES)
    assert set(np.unique(vecs[:, 259:])) <= {0.0, 1.0}
    rec = ref.recover_from_ric(vecs)
    assert rec.shape == (49, 22, 3)
    # ric columns hold joints 1..21 relative to the root's XZ, root height in column 3
    np.testing.assert_allclose(rec[:, 0, 1], vecs[:, 3], atol=0)
    # Std's group averaging: constant within each group
    mean, std = ref.mean_std([vecs, ref.features(clip("run", 60, seed=3), TARGET)])
    for a, b in FEATURE_GROUPS:
        np.testing.assert_allclose(std[a:b], std[a:b].mean(), rtol=1e-12)
    assert mean.shape == std.shape == (NUM_FEATURES,)


def test_features_to_joints_recovers_global_positions():
    """Without the facing crossing 180 degrees, recover_from_ric gives back the retargeted, floored, centred,
    Z+-facing positions (frames 0..T-2)."""
    joints = clip(frames=120, heading=0.2)
    gp = ref.global_positions(joints, TARGET)
    np.testing.assert_allclose(ref.recover_from_ric(ref.features(joints, TARGET)), gp[:-1], atol=1e-9)


def test_retarget_keeps_directions_and_sets_lengths():
    joints = clip(frames=30)
    out = ref.uniform_skeleton(joints, TARGET)
    np.testing.assert_allclose(ref.skeleton_offsets(out[7]), TARGET, atol=1e-12)
    scale = (TARGET[5] + TARGET[8]) / (ref.skeleton_offsets(joints[0])[5] + ref.skeleton_offsets(joints[0])[8])
    np.testing.assert_allclose(out[:, 0], joints[:, 0] * scale, atol=1e-12)
    d0 = joints[:, 16] - joints[:, 13]
    d1 = out[:, 16] - out[:, 13]
    np.testing.assert_allclose(np.cross(d0, d1), 0, atol=1e-12)


def test_mirroring_twice_is_identity():
    for J in (22, 52):
        joints = np.random.default_rng(J).normal(size=(5, J, 3))
        np.testing.assert_array_equal(ref.mirror(ref.mirror(joints)), joints)
    m = ref.mirror(np.arange(22 * 3, dtype=float).reshape(1, 22, 3))
    assert m[0, 1, 0] == -(2 * 3) and m[0, 2, 1] == 1 * 3 + 1  # left hip <- right hip, x negated


def test_contacts_fall_where_the_feet_stop():
    """A body that stands 10 frames, then slides at 0.1 m per frame: contacts 1 while still, 0 while moving."""
    pose = clip(frames=2)[0]
    steps = np.concatenate([np.zeros(10), 0.1 * np.arange(1, 11)])
    joints = pose[None] + steps[:, None, None] * np.array([0.0, 0.0, 1.0])
    contacts = ref.features(joints, ref.skeleton_offsets(pose))[:, 259:]
    np.testing.assert_array_equal(contacts[:9], 1.0)
    np.testing.assert_array_equal(contacts[9:], 0.0)


def test_yaw_column_is_half_the_turn():
    """Column 0 is arcsin of the y of the per-frame root quaternion step: half the yaw step (in radians)."""
    pose = clip(frames=2)[0]
    T, rate = 300, 0.01  # radians per frame about Y, around the root
    angles = rate * np.arange(T)
    c, s = np.cos(angles), np.sin(angles)
    rot = np.stack([np.stack([c, 0 * c, s], -1), np.tile([0.0, 1.0, 0.0], (T, 1)), np.stack([-s, 0 * c, c], -1)], 1)
    joints = np.einsum("tij,nj->tni", rot, pose - pose[0]) + pose[0]
    vecs = ref.features(joints, ref.skeleton_offsets(pose))
    # away from the ends the smoothing (radius 80 frames) sees a constant turn
    np.testing.assert_allclose(np.abs(vecs[100:200, 0]), rate / 2, rtol=1e-6)


def test_two_frames_give_one_row_and_one_frame_none():
    joints = clip(frames=2)
    assert ref.features(joints, TARGET).shape == (1, NUM_FEATURES)
    with pytest.raises(ValueError, match="2 frames"):
        ref.features(joints[:1], TARGET)
    with pytest.raises(ValueError, match="2 frames"):
        hk.features_batch([joints[:1]], TARGET)


@pytest.mark.parametrize("backend", ["numba", "reference", "auto"])
def test_backends_agree_with_reference(backend):
    clips = [clip(m, n, seed=i) for i, (m, n) in enumerate(zip(synthetic.MOTIONS * 2, range(2, 200, 17)))]
    want = [ref.features(c, TARGET) for c in clips]
    got = hk.features_batch(clips, TARGET, backend=backend)
    assert [g.shape for g in got] == [w.shape for w in want]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-9)


@pytest.mark.parametrize("backend", ["numba", "reference", "auto"])
def test_recover_batch_agrees_with_reference(backend):
    clips = [clip(m, n, seed=i, heading=2.5 * i) for i, (m, n) in
             enumerate(zip(synthetic.MOTIONS * 2, range(2, 200, 17)))]
    vecs = [v.astype(np.float32) for v in hk.features_batch(clips, TARGET)]
    got = hk.recover_batch(vecs, backend=backend)
    for g, v in zip(got, vecs):
        np.testing.assert_allclose(g, ref.recover_from_ric(v), atol=1e-9)
    with pytest.raises(ValueError, match="263"):
        hk.recover_batch([np.zeros((3, 262))])


def test_public_api():
    joints = clip(frames=40)
    vecs = humanml3d.features_from_joints(joints, clip(seed=99)[0])
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(vecs, ref.features(joints, TARGET), atol=1e-5)
    back = humanml3d.joints_from_features(vecs)
    np.testing.assert_allclose(back, ref.recover_from_ric(ref.features(joints, TARGET)), atol=1e-5)
    np.testing.assert_array_equal(humanml3d.mirror_joints(humanml3d.mirror_joints(joints)), joints)
    mean, std = humanml3d.mean_std([vecs, np.full_like(vecs, np.nan)])  # the NaN clip is skipped
    np.testing.assert_allclose(mean, vecs.mean(0), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="263"):
        humanml3d.joints_from_features(vecs[:, :10])
    with pytest.raises(ValueError, match="backend"):
        humanml3d.features_from_joints(joints, TARGET, backend="gpu")


def test_gaussian_smooth_matches_scipy():
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(1).normal(size=(230, 3))
    for n in (1, 5, 230):
        np.testing.assert_allclose(ref.gaussian_smooth(x[:n]),
                                   scipy_ndimage.gaussian_filter1d(x[:n], 20, axis=0, mode="nearest"), atol=1e-12)
