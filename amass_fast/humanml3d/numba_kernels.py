"""The numba backend of amass_fast.humanml3d.kernels: every clip of a ragged batch in one parallel loop.

Same steps, names and order as amass_fast.humanml3d.reference (float64), frame by frame with scalar quaternion
helpers; tested against it (tests/humanml3d/test_humanml3d_kernels.py).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from amass_fast.humanml3d.constants import (BONES, CHAIN_START_PARENT, FOOT_CONTACT_THRESHOLD, NUM_FEATURES,
                                            NUM_JOINTS, RAW_OFFSETS, SMOOTH_RADIUS, SMOOTH_SIGMA)

_BONE_A = np.array([a for a, _ in BONES], dtype=np.int64)
_BONE_B = np.array([b for _, b in BONES], dtype=np.int64)
_FROM_ROOT = CHAIN_START_PARENT.copy()
RAW = RAW_OFFSETS.copy()
_FEET = np.array([7, 10, 8, 11], dtype=np.int64)
_k = np.arange(-SMOOTH_RADIUS, SMOOTH_RADIUS + 1, dtype=np.float64)
_WEIGHTS = np.exp(-0.5 * (_k / SMOOTH_SIGMA) ** 2)
_WEIGHTS /= _WEIGHTS.sum()

_jit = nb.njit(cache=True, fastmath=False, nogil=True)


@_jit
def _qmul(a0, a1, a2, a3, b0, b1, b2, b3):
    return (a0 * b0 - a1 * b1 - a2 * b2 - a3 * b3, a0 * b1 + a1 * b0 + a2 * b3 - a3 * b2,
            a0 * b2 - a1 * b3 + a2 * b0 + a3 * b1, a0 * b3 + a1 * b2 - a2 * b1 + a3 * b0)


@_jit
def _qrot(w, x, y, z, vx, vy, vz):
    # v + 2 (w (u x v) + u x (u x v))
    cx, cy, cz = y * vz - z * vy, z * vx - x * vz, x * vy - y * vx
    dx, dy, dz = y * cz - z * cy, z * cx - x * cz, x * cy - y * cx
    return vx + 2.0 * (w * cx + dx), vy + 2.0 * (w * cy + dy), vz + 2.0 * (w * cz + dz)


@_jit
def _qbetween(ax, ay, az, bx, by, bz):
    w = math.sqrt((ax * ax + ay * ay + az * az) * (bx * bx + by * by + bz * bz)) + ax * bx + ay * by + az * bz
    x, y, z = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
    n = math.sqrt(w * w + x * x + y * y + z * z)
    return w / n, x / n, y / n, z / n


@_jit
def _unit3(x, y, z):
    n = math.sqrt(x * x + y * y + z * z)
    return x / n, y / n, z / n


@_jit
def _clip(src, lengths, out, bone_a, bone_b, from_root, feet, weights, threshold):
    """One clip: src [T, 22, 3] -> out [T-1, 263] (reference.features)."""
    T = src.shape[0]
    J = NUM_JOINTS
    gp = np.empty((T, J, 3))
    # uniform_skeleton: root scaled, bones keep their direction and get the target lengths
    s5 = math.sqrt(((src[0, 5] - src[0, 2]) ** 2).sum())
    s8 = math.sqrt(((src[0, 8] - src[0, 5]) ** 2).sum())
    scale = (lengths[5] + lengths[8]) / (s5 + s8)
    for t in range(T):
        for c in range(3):
            gp[t, 0, c] = src[t, 0, c] * scale
        for k in range(bone_a.shape[0]):
            a, b = bone_a[k], bone_b[k]
            ux, uy, uz = _unit3(src[t, b, 0] - src[t, a, 0], src[t, b, 1] - src[t, a, 1], src[t, b, 2] - src[t, a, 2])
            gp[t, b, 0] = gp[t, a, 0] + lengths[b] * ux
            gp[t, b, 1] = gp[t, a, 1] + lengths[b] * uy
            gp[t, b, 2] = gp[t, a, 2] + lengths[b] * uz
    # floor, origin, face Z+ at frame 0
    floor = gp[0, 0, 1]
    for t in range(T):
        for j in range(J):
            floor = min(floor, gp[t, j, 1])
    x0, z0 = gp[0, 0, 0], gp[0, 0, 2]
    ax = (gp[0, 2, 0] - gp[0, 1, 0]) + (gp[0, 17, 0] - gp[0, 16, 0])
    ay = (gp[0, 2, 1] - gp[0, 1, 1]) + (gp[0, 17, 1] - gp[0, 16, 1])
    az = (gp[0, 2, 2] - gp[0, 1, 2]) + (gp[0, 17, 2] - gp[0, 16, 2])
    ax, ay, az = _unit3(ax, ay, az)
    fx, fy, fz = _unit3(az, 0.0, -ax)
    qw, qx, qy, qz = _qbetween(fx, fy, fz, 0.0, 0.0, 1.0)
    for t in range(T):
        for j in range(J):
            gp[t, j, 0], gp[t, j, 1], gp[t, j, 2] = _qrot(qw, qx, qy, qz, gp[t, j, 0] - x0, gp[t, j, 1] - floor,
                                                          gp[t, j, 2] - z0)
    # root rotation from the smoothed facing (hip term p1 - p2, as inverse_kinematics_np)
    fwd = np.empty((T, 3))
    for t in range(T):
        ax = (gp[t, 1, 0] - gp[t, 2, 0]) + (gp[t, 17, 0] - gp[t, 16, 0])
        ay = (gp[t, 1, 1] - gp[t, 2, 1]) + (gp[t, 17, 1] - gp[t, 16, 1])
        az = (gp[t, 1, 2] - gp[t, 2, 2]) + (gp[t, 17, 2] - gp[t, 16, 2])
        ax, ay, az = _unit3(ax, ay, az)
        fwd[t, 0], fwd[t, 1], fwd[t, 2] = az, 0.0, -ax  # smoothed before it is normalised
    radius = (weights.shape[0] - 1) // 2
    r_rot = np.empty((T, 4))
    for t in range(T):
        sx = sy = sz = 0.0
        for i in range(weights.shape[0]):
            u = min(max(t + i - radius, 0), T - 1)
            sx += weights[i] * fwd[u, 0]
            sy += weights[i] * fwd[u, 1]
            sz += weights[i] * fwd[u, 2]
        sx, sy, sz = _unit3(sx, sy, sz)
        r_rot[t, 0], r_rot[t, 1], r_rot[t, 2], r_rot[t, 3] = _qbetween(sx, sy, sz, 0.0, 0.0, 1.0)
    r_rot[0, 0], r_rot[0, 1], r_rot[0, 2], r_rot[0, 3] = 1.0, 0.0, 0.0, 0.0
    world = np.empty((J, 4))
    for t in range(T - 1):
        o = out[t]
        w0, x0_, y0, z0_ = r_rot[t, 0], r_rot[t, 1], r_rot[t, 2], r_rot[t, 3]
        w1, x1, y1, z1 = r_rot[t + 1, 0], r_rot[t + 1, 1], r_rot[t + 1, 2], r_rot[t + 1, 3]
        rv = _qmul(w1, x1, y1, z1, w0, -x0_, -y0, -z0_)
        o[0] = math.asin(rv[2])
        vx, vy, vz = _qrot(w1, x1, y1, z1, gp[t + 1, 0, 0] - gp[t, 0, 0], gp[t + 1, 0, 1] - gp[t, 0, 1],
                           gp[t + 1, 0, 2] - gp[t, 0, 2])
        o[1], o[2], o[3] = vx, vz, gp[t, 0, 1]
        for j in range(1, J):
            rx, ry, rz = _qrot(w0, x0_, y0, z0_, gp[t, j, 0] - gp[t, 0, 0], gp[t, j, 1], gp[t, j, 2] - gp[t, 0, 2])
            o[4 + 3 * (j - 1)], o[5 + 3 * (j - 1)], o[6 + 3 * (j - 1)] = rx, ry, rz
        for k in range(bone_a.shape[0]):
            a, b = bone_a[k], bone_b[k]
            dx, dy, dz = _unit3(gp[t, b, 0] - gp[t, a, 0], gp[t, b, 1] - gp[t, a, 1], gp[t, b, 2] - gp[t, a, 2])
            qb = _qbetween(RAW[b, 0], RAW[b, 1], RAW[b, 2], dx, dy, dz)
            world[b, 0], world[b, 1], world[b, 2], world[b, 3] = qb
            if from_root[b]:
                pw, px, py, pz = w0, x0_, y0, z0_
            else:
                pw, px, py, pz = world[a, 0], world[a, 1], world[a, 2], world[a, 3]
            w, x, y, z = _qmul(pw, -px, -py, -pz, qb[0], qb[1], qb[2], qb[3])
            s = 2.0 / (w * w + x * x + y * y + z * z)
            c = 67 + 6 * (b - 1)
            o[c] = 1.0 - s * (y * y + z * z)
            o[c + 1] = s * (x * y + z * w)
            o[c + 2] = s * (x * z - y * w)
            o[c + 3] = s * (x * y - z * w)
            o[c + 4] = 1.0 - s * (x * x + z * z)
            o[c + 5] = s * (y * z + x * w)
        for j in range(J):
            lx, ly, lz = _qrot(w0, x0_, y0, z0_, gp[t + 1, j, 0] - gp[t, j, 0], gp[t + 1, j, 1] - gp[t, j, 1],
                               gp[t + 1, j, 2] - gp[t, j, 2])
            o[193 + 3 * j], o[194 + 3 * j], o[195 + 3 * j] = lx, ly, lz
        for f in range(4):
            j = feet[f]
            dx = gp[t + 1, j, 0] - gp[t, j, 0]
            dy = gp[t + 1, j, 1] - gp[t, j, 1]
            dz = gp[t + 1, j, 2] - gp[t, j, 2]
            o[259 + f] = 1.0 if dx * dx + dy * dy + dz * dz < threshold else 0.0


@nb.njit(cache=True, parallel=True)
def _batch(frames, offsets, lengths, out, bone_a, bone_b, from_root, feet, weights, threshold):
    for c in nb.prange(offsets.shape[0] - 1):
        a, b = offsets[c], offsets[c + 1]
        _clip(frames[a:b], lengths, out[a - c:b - c - 1], bone_a, bone_b, from_root, feet, weights, threshold)


def features_batch(clips: list, lengths: np.ndarray) -> list:
    """Checked clips [T_i, 22, 3] float64 (kernels.features_batch) -> features [T_i - 1, 263] float64 each."""
    sizes = np.array([len(c) for c in clips], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    frames = np.concatenate(clips, axis=0) if clips else np.zeros((0, NUM_JOINTS, 3))
    out = np.empty((max(int(offsets[-1]) - len(clips), 0), NUM_FEATURES))
    _batch(frames, offsets, lengths, out, _BONE_A, _BONE_B, _FROM_ROOT, _FEET, _WEIGHTS, FOOT_CONTACT_THRESHOLD)
    return [out[offsets[c] - c:offsets[c + 1] - c - 1] for c in range(len(clips))]


@nb.njit(cache=True, parallel=True)
def _recover(vecs, offsets, out):
    # reference.recover_from_ric per clip: yaw = cumsum of column 0 from 0, q = (cos a, 0, sin a, 0); root xz =
    # cumsum of columns 1:3 rotated by q^-1, root y = column 3; joints = ric rotated by q^-1 plus the root's xz
    for c in nb.prange(offsets.shape[0] - 1):
        a, b = offsets[c], offsets[c + 1]
        angle, rx, rz = 0.0, 0.0, 0.0
        for t in range(a, b):
            if t > a:
                angle += vecs[t - 1, 0]
            w, y = math.cos(angle), -math.sin(angle)  # q^-1 = (cos a, 0, -sin a, 0)
            if t > a:
                sx, _, sz = _qrot(w, 0.0, y, 0.0, vecs[t - 1, 1], 0.0, vecs[t - 1, 2])
                rx += sx
                rz += sz
            out[t, 0, 0], out[t, 0, 1], out[t, 0, 2] = rx, vecs[t, 3], rz
            for j in range(1, NUM_JOINTS):
                k = 4 + 3 * (j - 1)
                px, py, pz = _qrot(w, 0.0, y, 0.0, vecs[t, k], vecs[t, k + 1], vecs[t, k + 2])
                out[t, j, 0], out[t, j, 1], out[t, j, 2] = px + rx, py, pz + rz


def recover_batch(vecs: list) -> list:
    """Features [T_i, 263] (any float dtype) -> joints [T_i, 22, 3] float64 each, as reference.recover_from_ric."""
    sizes = np.array([len(v) for v in vecs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    data = np.concatenate([np.asarray(v, dtype=np.float64) for v in vecs], axis=0) if vecs else \
        np.zeros((0, NUM_FEATURES))
    out = np.empty((len(data), NUM_JOINTS, 3))
    _recover(np.ascontiguousarray(data), offsets, out)
    return [out[offsets[c]:offsets[c + 1]] for c in range(len(vecs))]
