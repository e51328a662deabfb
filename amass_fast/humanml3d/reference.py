"""HumanML3D's motion representation, float64 NumPy reference (one clip at a time, vectorised over frames).

Written from the definition in HumanML3D's ``motion_representation.ipynb`` / ``common/skeleton.py`` /
``common/quaternion.py`` and ``cal_mean_variance.ipynb`` (docs/HUMANML3D.md lists every step). Quaternions are
(w, x, y, z), ``qmul`` is the Hamilton product, ``qbetween(a, b)`` the rotation taking a to b with w >= 0. Joints are
HumanML3D's 22 body joints in its own frame (Y up; stage 1 gives (-x, z, y) of SMPL+H's world joints).

Every function here is the specification the fast paths (:mod:`amass_fast.humanml3d.kernels`) are tested against.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from amass_fast.humanml3d.constants import (CHAIN_START_PARENT, CHAINS, FEATURE_GROUPS, FEET_L, FEET_R,
                                            FOOT_CONTACT_THRESHOLD, NUM_FEATURES, NUM_JOINTS, PARENTS,
                                            RAW_OFFSETS, SMOOTH_RADIUS, SMOOTH_SIGMA,
                                            mirror_permutation)

# --- quaternions -----------------------------------------------------------------------------------------------


def qmul(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Hamilton product q * r of [..., 4] quaternions (w, x, y, z)."""
    w0, x0, y0, z0 = np.moveaxis(q, -1, 0)
    w1, x1, y1, z1 = np.moveaxis(r, -1, 0)
    return np.stack([w0 * w1 - x0 * x1 - y0 * y1 - z0 * z1,
                     w0 * x1 + x0 * w1 + y0 * z1 - z0 * y1,
                     w0 * y1 - x0 * z1 + y0 * w1 + z0 * x1,
                     w0 * z1 + x0 * y1 - y0 * x1 + z0 * w1], axis=-1)


def qinv(q: np.ndarray) -> np.ndarray:
    """Conjugate (the inverse of a unit quaternion)."""
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate [..., 3] vectors by [..., 4] quaternions: v + 2 (w (u x v) + u x (u x v)), u = (x, y, z)."""
    u = q[..., 1:]
    uv = np.cross(u, v)
    return v + 2.0 * (q[..., :1] * uv + np.cross(u, uv))


def qbetween(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation taking direction a to direction b: normalise([|a||b| + a.b, a x b]) ([..., 3] -> [..., 4])."""
    w = np.sqrt((a * a).sum(-1) * (b * b).sum(-1)) + (a * b).sum(-1)
    q = np.concatenate([w[..., None], np.cross(a, b)], axis=-1)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_to_rot6d(q: np.ndarray) -> np.ndarray:
    """Columns 0 and 1 of the rotation matrix of q (scaled by 2/|q|^2 as quaternion_to_matrix does):
    [..., 4] -> [..., 6] = (m00, m10, m20, m01, m11, m21)."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    s = 2.0 / (q * q).sum(-1)
    return np.stack([1 - s * (y * y + z * z), s * (x * y + z * w), s * (x * z - y * w),
                     s * (x * y - z * w), 1 - s * (x * x + z * z), s * (y * z + x * w)], axis=-1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def gaussian_smooth(x: np.ndarray, sigma: float = SMOOTH_SIGMA, radius: int = SMOOTH_RADIUS) -> np.ndarray:
    """Gaussian filter along axis 0 with edge ("nearest") padding, as scipy's gaussian_filter1d(x, sigma, axis=0,
    mode='nearest') with truncate 4: weights exp(-k^2 / (2 sigma^2)), k = -radius..radius, summing to 1."""
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (k / sigma) ** 2)
    w /= w.sum()
    padded = np.concatenate([np.repeat(x[:1], radius, 0), x, np.repeat(x[-1:], radius, 0)], axis=0)
    out = np.zeros_like(x, dtype=np.float64)
    for i, wi in enumerate(w):
        out += wi * padded[i:i + len(x)]
    return out


# --- the steps of process_file ---------------------------------------------------------------------------------

def skeleton_offsets(joints0: np.ndarray) -> np.ndarray:
    """Bone lengths of one frame [22, 3] -> [22] (|p_j - p_parent|; 0 for the root): the target skeleton is
    HumanML3D's clip 000021 at frame 0 (its offsets are RAW_OFFSETS * these lengths)."""
    lengths = np.zeros(NUM_JOINTS)
    lengths[1:] = np.linalg.norm(joints0[1:] - joints0[PARENTS[1:]], axis=-1)
    return lengths


def uniform_skeleton(joints: np.ndarray, target_lengths: np.ndarray) -> np.ndarray:
    """Retarget onto the target skeleton ([T, 22, 3] -> [T, 22, 3]). HumanML3D's IK followed by FK on the target
    offsets keeps every bone's direction and gives it the target's length; the root moves by
    scale = (target legs 5 + 8) / (this clip's frame-0 legs 5 + 8)."""
    src = skeleton_offsets(joints[0])
    scale = (target_lengths[5] + target_lengths[8]) / (src[5] + src[8])
    out = np.empty_like(joints, dtype=np.float64)
    out[:, 0] = joints[:, 0] * scale
    for chain in CHAINS:
        for a, b in zip(chain[:-1], chain[1:]):
            out[:, b] = out[:, a] + target_lengths[b] * _unit(joints[:, b] - joints[:, a])
    return out


def _forward_from_across(across: np.ndarray) -> np.ndarray:
    """Facing direction: unit(cross(Y, unit(across)))."""
    return _unit(np.cross(np.array([0.0, 1.0, 0.0]), _unit(across)))


def global_positions(joints: np.ndarray, target_lengths: np.ndarray) -> np.ndarray:
    """Retargeted, on the floor, root at the origin in XZ and facing Z+ at frame 0: [T, 22, 3] -> [T, 22, 3]."""
    p = uniform_skeleton(joints, target_lengths)
    p[..., 1] -= p[..., 1].min()
    first = p[0].copy()
    p = p - first[0] * np.array([1.0, 0.0, 1.0])
    across = (first[2] - first[1]) + (first[17] - first[16])  # process_file: right hip - left hip
    q = qbetween(_forward_from_across(across), np.array([0.0, 0.0, 1.0]))
    return qrot(np.broadcast_to(q, p.shape[:-1] + (4,)), p)


def foot_contacts(gp: np.ndarray, threshold: float = FOOT_CONTACT_THRESHOLD) -> np.ndarray:
    """[T, 22, 3] -> [T-1, 4] float 0/1: squared displacement of joints 7, 10, 8, 11 below threshold (strict)."""
    d = gp[1:, FEET_L + FEET_R] - gp[:-1, FEET_L + FEET_R]
    return ((d * d).sum(-1) < threshold).astype(np.float64)


def root_rotation(gp: np.ndarray) -> np.ndarray:
    """r_rot [T, 4]: per frame the rotation taking the smoothed facing to Z+, frame 0 forced to the identity.
    Skeleton.inverse_kinematics_np unpacks face_joint_indx as (l_hip, r_hip, ...): across = (p1 - p2) + (p17 - p16)
    (the hip term has the opposite sign of global_positions'); cross(Y, unit(across)) smoothed by gaussian_smooth
    BEFORE it is normalised (frames whose across vector tilts out of the ground plane weigh less), then normalised."""
    across = (gp[:, 1] - gp[:, 2]) + (gp[:, 17] - gp[:, 16])
    forward = _unit(gaussian_smooth(np.cross(np.array([0.0, 1.0, 0.0]), _unit(across))))
    r_rot = qbetween(forward, np.broadcast_to([0.0, 0.0, 1.0], forward.shape))
    r_rot[0] = (1.0, 0.0, 0.0, 0.0)
    return r_rot


def local_rotations(gp: np.ndarray, r_rot: np.ndarray) -> np.ndarray:
    """IK rotations [T, 22, 4] (joint 0: r_rot). Joint b after a in a chain: R_loc = R^-1 qbetween(raw_b, unit(p_b -
    p_a)) with R = r_rot at every chain's start (also the arm chains from joint 9), else the parent bone's
    qbetween."""
    T = len(gp)
    quat = np.zeros((T, NUM_JOINTS, 4))
    quat[:, 0] = r_rot
    world = {}
    for chain in CHAINS:
        for a, b in zip(chain[:-1], chain[1:]):
            world[b] = qbetween(np.broadcast_to(RAW_OFFSETS[b], (T, 3)), _unit(gp[:, b] - gp[:, a]))
            prev = r_rot if CHAIN_START_PARENT[b] else world[a]
            quat[:, b] = qmul(qinv(prev), world[b])
    return quat


def features(joints: np.ndarray, target_lengths: np.ndarray,
             threshold: float = FOOT_CONTACT_THRESHOLD) -> np.ndarray:
    """HumanML3D's new_joint_vecs of one clip: joints [T, >=22, 3] (stage-1 joints, Y up) -> [T-1, 263] float64.

    Columns: [0] arcsin(y of r_rot[t+1] r_rot[t]^-1) (half the yaw step); [1:3] XZ of r_rot[t+1] applied to the
    root step; [3] root height; [4:67] joints 1..21 relative to the root's XZ, rotated by r_rot[t]; [67:193] 6D of
    the IK rotations of joints 1..21; [193:259] all joints' steps rotated by r_rot[t]; [259:263] foot contacts."""
    joints = np.asarray(joints, dtype=np.float64)[:, :NUM_JOINTS]
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3) or len(joints) < 2:
        raise ValueError(f"joints must be [T >= 2, 22, 3] (HumanML3D writes nothing for fewer than 2 frames), "
                         f"got {joints.shape}")
    gp = global_positions(joints, target_lengths)
    T = len(gp)
    r_rot = root_rotation(gp)
    quat = local_rotations(gp, r_rot)
    out = np.empty((T - 1, NUM_FEATURES))
    r_vel = qmul(r_rot[1:], qinv(r_rot[:-1]))
    out[:, 0] = np.arcsin(r_vel[:, 2])
    out[:, 1:3] = qrot(r_rot[1:], gp[1:, 0] - gp[:-1, 0])[:, [0, 2]]
    out[:, 3] = gp[:-1, 0, 1]
    local = gp[:-1].copy()
    local[..., 0] -= local[:, :1, 0]
    local[..., 2] -= local[:, :1, 2]
    rot = np.broadcast_to(r_rot[:-1, None], local.shape[:-1] + (4,))
    out[:, 4:67] = qrot(rot, local)[:, 1:].reshape(T - 1, -1)
    out[:, 67:193] = quat_to_rot6d(quat[:-1, 1:]).reshape(T - 1, -1)
    out[:, 193:259] = qrot(rot, gp[1:] - gp[:-1]).reshape(T - 1, -1)
    out[:, 259:263] = foot_contacts(gp, threshold)
    return out


def recover_from_ric(vecs: np.ndarray) -> np.ndarray:
    """HumanML3D's recover_from_ric: [T, 263] -> joints [T, 22, 3]. Yaw angle = cumulative sum of column 0 from
    0 (used as the quaternion (cos a, 0, sin a, 0)); root XZ = cumulative sum of columns 1:3 rotated back, root Y =
    column 3; joints = the ric columns rotated back plus the root's XZ. It is not global_positions once the facing
    has crossed +-180 degrees (qbetween's w >= 0 flips the sign of that frame's step)."""
    vecs = np.asarray(vecs, dtype=np.float64)
    T = len(vecs)
    angle = np.zeros(T)
    angle[1:] = np.cumsum(vecs[:-1, 0])
    q = np.zeros((T, 4))
    q[:, 0], q[:, 2] = np.cos(angle), np.sin(angle)
    step = np.zeros((T, 3))
    step[1:, 0], step[1:, 2] = vecs[:-1, 1], vecs[:-1, 2]
    root = np.cumsum(qrot(qinv(q), step), axis=0)
    root[:, 1] = vecs[:, 3]
    ric = vecs[:, 4:4 + (NUM_JOINTS - 1) * 3].reshape(T, NUM_JOINTS - 1, 3)
    joints = qrot(np.broadcast_to(qinv(q)[:, None], ric.shape[:-1] + (4,)), ric)
    joints[..., 0] += root[:, None, 0]
    joints[..., 2] += root[:, None, 2]
    return np.concatenate([root[:, None], joints], axis=1)


def mirror(joints: np.ndarray) -> np.ndarray:
    """swap_left_right: x negated, the left and right body joints swapped, and the hands too for more than 24
    joints ([T, J, 3] -> [T, J, 3], J = 22 or 52); its own inverse."""
    out = np.array(joints, dtype=np.float64, copy=True)
    if out.ndim != 3 or out.shape[-1] != 3 or out.shape[1] not in (NUM_JOINTS, 52):
        raise ValueError(f"mirror needs joints [T, 22 or 52, 3], got {out.shape}")
    out[..., 0] *= -1
    return out[:, mirror_permutation(out.shape[1])]


def mean_std(vecs: list, groups: Optional[tuple] = FEATURE_GROUPS) -> tuple[np.ndarray, np.ndarray]:
    """cal_mean_variance: every clip's [T, 263] features with no NaN, stacked; Mean per column; Std (ddof 0) per
    column then replaced by its group's mean over FEATURE_GROUPS. Returns (Mean [263], Std [263]) float64."""
    data = np.concatenate([np.asarray(v, dtype=np.float64) for v in vecs if not np.isnan(v).any()], axis=0)
    mean, std = data.mean(axis=0), data.std(axis=0)
    for a, b in groups or ():
        std[a:b] = std[a:b].mean()
    return mean, std
