"""The float64 reference checked against independent formulas (scipy's rotations) and its own invariants.

Tolerances: 1e-12 for identities that hold to rounding; small-angle branches are checked for continuity at
SMALL_ANGLE to 1e-12 (their Taylor error there is ~t^4/120 ~ 1e-18).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from amass_fast.kernels import reference as ref

Rotation = pytest.importorskip("scipy.spatial.transform").Rotation


@pytest.mark.parametrize("angle", [0.0, 1e-9, ref.SMALL_ANGLE * 0.999, ref.SMALL_ANGLE * 1.001, 0.3, 2.0, math.pi])
def test_rotations_agree_with_scipy(angle):
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    aa = axis * angle
    expected = Rotation.from_rotvec(aa).as_matrix()
    assert np.abs(ref.rodrigues(aa) - expected).max() <= 1e-12
    q = ref.aa_to_quat(aa)
    assert abs(np.linalg.norm(q) - 1.0) <= 1e-12
    assert np.abs(ref.quat_to_mat(q) - expected).max() <= 1e-12
    assert np.abs(ref.quat_to_aa(q) - aa).max() <= 1e-12


def test_slerp_is_constant_speed_and_shortest_path():
    q0 = ref.aa_to_quat(np.array([0.0, 0.0, 0.2]))
    q1 = ref.aa_to_quat(np.array([0.0, 0.0, 1.4]))
    for alpha in (0.0, 0.25, 0.5, 1.0):
        assert np.abs(ref.quat_to_aa(ref.quat_slerp(q0, q1, alpha)) - [0, 0, 0.2 + 1.2 * alpha]).max() <= 1e-12
    # -q1 is the same rotation: slerp must take the short way, not swing through 2 pi - 1.2.
    mid = ref.quat_to_aa(ref.quat_slerp(q0, -q1, 0.5))
    assert np.abs(mid - [0, 0, 0.8]).max() <= 1e-12
    # Nearly equal quaternions take the lerp branch and still return a unit quaternion between them.
    q2 = ref.aa_to_quat(np.array([0.0, 0.0, 0.2 + 1e-5]))
    assert np.abs(ref.quat_to_aa(ref.quat_slerp(q0, q2, 0.5)) - [0, 0, 0.2 + 5e-6]).max() <= 1e-12


def test_joint_chain_root_turns_about_its_rest_position():
    rest = np.array([[0.1, 0.2, 0.3], [0.1, 1.2, 0.3], [0.1, 2.2, 0.3]])
    parents = np.array([-1, 0, 1])
    rot = np.stack([Rotation.from_rotvec([0, 0, math.pi / 2]).as_matrix(), np.eye(3), np.eye(3)])
    p = ref.joint_chain(rot, rest, parents, np.array([1.0, 0.0, 0.0]))
    assert np.abs(p - [[1.1, 0.2, 0.3], [0.1, 0.2, 0.3], [-0.9, 0.2, 0.3]]).max() <= 1e-12


@pytest.mark.parametrize("fps", [59.99999, 60.0, 100.0, 120.0, 150.0, 250.0])
def test_resampled_length_and_positions_by_time(fps):
    F = int(fps * 600)   # 10 minutes
    T = ref.resampled_length(F, fps, 25.0)
    assert (T - 1) / 25.0 <= (F - 1) / fps + 1e-9 < T / 25.0
    i0, i1, alpha = ref.source_position(T - 1, F, fps, 25.0)
    assert abs(i0 + alpha - (T - 1) * fps / 25.0) <= 1e-6 and i1 <= F - 1
    assert ref.source_position(T + 5, F, fps, 25.0) == (F - 1, F - 1, 0.0)


def test_project_front_top_and_yaw():
    # A T-posed body standing (Z up) and facing -Y: left hip at +X.
    joints = np.zeros((2, 22, 3))
    joints[:, ref.L_HIP] = [0.1, 0, 1.0]
    joints[:, ref.R_HIP] = [-0.1, 0, 1.0]
    joints[:, ref.HEAD] = [0, 0, 1.7]
    joints[:, ref.L_WRIST] = [0.8, 0, 1.4]
    joints[:, ref.R_WRIST] = [-0.8, 0, 1.4]
    joints[:, ref.L_ANKLE] = [0.1, 0, 0.1]
    joints[:, ref.R_ANKLE] = [-0.1, 0, 0.1]
    joints[1] += [0.0, -1.0, 0.0]   # steps towards the camera: invisible from the front
    front = ref.project(joints)
    assert front[0, 6] == pytest.approx(0.8) and front[0, 10] == pytest.approx(-0.8)
    assert front[0, 1] == pytest.approx(1.6) and np.abs(front[1] - front[0]).max() <= 1e-12
    side = ref.project(joints, 90.0)    # camera orbits 90 deg counter-clockwise: screen right = world +Y
    assert side[0, 6] == pytest.approx(0.0, abs=1e-12) and side[1, 12] == pytest.approx(-1.0)
    top = ref.project(joints, view_mode=ref.VIEW_TOP)
    assert top[1, 13] == pytest.approx(-1.0) and top[0, 6] == pytest.approx(0.8)


@pytest.mark.parametrize("angle_between", [0.0, 1e-7, 1e-3, 0.05, 0.4, 0.9, 0.9022, 0.91, 1.5])
def test_slerp_series_weights_equal_the_trigonometric_ones(angle_between):
    """quat_slerp takes its weights from a series for quaternions at most ~52 degrees apart (dot >= 0.9, i.e. a
    quaternion angle below acos(0.9) = 0.451 rad); there it must equal sin(a t) / sin t to 1e-14, on both sides of
    the switch (angles 0.9 and 0.91 rad of rotation straddle it)."""
    axis = np.array([0.2, 0.9, -0.4]) / np.linalg.norm([0.2, 0.9, -0.4])
    q0 = ref.aa_to_quat(np.array([0.3, -0.2, 0.5]))
    step = ref.aa_to_quat(axis * angle_between)
    w, v = q0[0], q0[1:]  # q1 = q0 * step (Hamilton product)
    q1 = np.concatenate([[w * step[0] - v @ step[1:]], w * step[1:] + step[0] * v + np.cross(v, step[1:])])
    d = float(q0 @ q1)
    theta = math.acos(min(d, 1.0))
    for alpha in (0.0, 0.2, 0.5, 0.77, 1.0):
        if theta < 1e-7:
            want = (1 - alpha) * q0 + alpha * q1
        else:
            want = (math.sin((1 - alpha) * theta) * q0 + math.sin(alpha * theta) * q1) / math.sin(theta)
        want /= np.linalg.norm(want)
        assert np.abs(ref.quat_slerp(q0, q1, alpha) - want).max() <= 1e-14
    assert (d >= ref.SLERP_SERIES_DOT) == (angle_between < 2 * math.acos(ref.SLERP_SERIES_DOT))
