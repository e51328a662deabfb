"""numba fallback of the hot path, mirroring ``amass_fast/kernels/reference.py`` function by function.

Same names and the same math as the reference (and ``csrc/amass_math.h``), with two mechanical differences so that
the inner loops never allocate: functions that return a matrix or an array in the reference write into a
caller-supplied ``out`` (and scratch) array here, and quaternions, axis-angles and cameras travel as tuples.
Arithmetic is float64 whatever the input; outputs take the input's float dtype (float32 in -> float32 out).

Loops over whole arrays (``fk_loop``, ``resample_loop``, ``project_loop``, ``convert_batch_loop``,
``convert_joints_batch_loop``, ``fk_backward_loop``, ``convert_joints_batch_backward_loop``) write into outputs the
caller allocated; ``amass_fast.kernels.backends.numba`` runs them
with the arguments amass_fast.kernels checked. For direct use, the whole-array entry points are
amass_fast.kernels with backend="numba" (the same checks):

    fk(poses, trans, rest_joints, parents) -> [F, J, 3]
    resample_poses(poses, trans, src_fps, dst_fps=25.0) -> (poses [T, P], trans [T, 3])
    project(joints, yaw_deg=0.0, view_mode=VIEW_FRONT) -> [F, 20]
    convert_batch(..., *, dst_fps=25.0, window=250, view_mode=VIEW_FRONT, out=None) -> [C, window, 20]

Loops over frames (fk, resample) and over clips (convert_batch) run in parallel (``prange``); call
:func:`set_num_threads` to choose how many threads.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from amass_fast.kernels.reference import (HEAD, KP_HEAD, KP_L_ANKLE, KP_L_WRIST, KP_LEFT_AXIS, KP_NECK, KP_PELVIS,
                                          KP_R_ANKLE, KP_R_WRIST, L_ANKLE, L_HIP, L_SHOULDER, L_WRIST,
                                          NUM_BODY_JOINTS, NUM_KEYPOINTS, R_ANKLE, R_HIP, R_SHOULDER, R_WRIST,
                                          SLERP_SERIES_DOT, SLERP_SERIES_TERMS, SMALL_ANGLE, STICK5_LINES, VIEW_TOP,
                                          resampled_length, FR_COS, FR_DISTANCE, FR_FORWARD, FR_ORIGIN, FR_PERSP,
                                          FR_RIGHT, FR_SCALE, FR_SIN, FR_TARGET, FR_UP, FRAME_SIZE, NEAR_M, UP_Z)

_LINES = np.array(STICK5_LINES, dtype=np.int64)   # [5, 2] keypoint rows (from, to); a compile-time constant
_FRAMES_PER_TASK = 64                              # frames per parallel task in fk / resample (scratch reuse)


def _njit(parallel: bool = False):
    """numba.njit with an on-disk cache; a read-only package folder makes cache=True raise at decoration time,
    so fall back to compiling in memory there."""
    def decorate(fn):
        try:
            return numba.njit(cache=True, parallel=parallel)(fn)
        except Exception:  # numba raises RuntimeError("cannot cache function ...") when it has nowhere to write
            return numba.njit(cache=False, parallel=parallel)(fn)
    return decorate


def set_num_threads(n: int) -> None:
    """Threads used by the parallel loops (at most numba.config.NUMBA_NUM_THREADS)."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


# ---------------------------------------------------------------------------------------------------------------
# Per-frame math (mirrors reference.py).

@_njit()
def rodrigues_terms(x, y, z):
    """(t2, a, b, c) with t2 = |aa|^2 and a, b, c as reference.rodrigues_terms."""
    t2 = x * x + y * y + z * z
    t = math.sqrt(t2)
    if t < SMALL_ANGLE:
        return t2, 1.0 - t2 / 6.0, 0.5 - t2 / 24.0, 1.0 / 6.0 - t2 / 120.0
    return t2, math.sin(t) / t, (1.0 - math.cos(t)) / t2, (t - math.sin(t)) / (t2 * t)


@_njit()
def rodrigues(aa, out):
    """out[3, 3] = I + a S + b S^2, S = skew(aa), with a, b of rodrigues_terms."""
    x, y, z = float(aa[0]), float(aa[1]), float(aa[2])
    t2, a, b, _ = rodrigues_terms(x, y, z)
    # S^2 = aa aa^T - t2 I
    out[0, 0] = 1.0 + b * (x * x - t2)
    out[0, 1] = -a * z + b * x * y
    out[0, 2] = a * y + b * x * z
    out[1, 0] = a * z + b * x * y
    out[1, 1] = 1.0 + b * (y * y - t2)
    out[1, 2] = -a * x + b * y * z
    out[2, 0] = -a * y + b * x * z
    out[2, 1] = a * x + b * y * z
    out[2, 2] = 1.0 + b * (z * z - t2)


@_njit()
def aa_to_quat(aa):
    """q = (cos(t/2), sin(t/2)/t * aa) as a tuple (w, x, y, z)."""
    x, y, z = float(aa[0]), float(aa[1]), float(aa[2])
    t2 = x * x + y * y + z * z
    t = math.sqrt(t2)
    if t < SMALL_ANGLE:
        s = 0.5 - t2 / 48.0
    else:
        s = math.sin(0.5 * t) / t
    return math.cos(0.5 * t), s * x, s * y, s * z


@_njit()
def slerp_weight(a, xm1):
    """sin(a t) / sin t for x = cos t near 1, given xm1 = x - 1 (Eberly's series, as reference.slerp_weight)."""
    f = 1.0
    for i in range(SLERP_SERIES_TERMS, 0, -1):
        f = 1.0 + (a * a - i * i) * (1.0 / (i * (2 * i + 1))) * xm1 * f
    return a * f


@_njit()
def quat_slerp(q0, q1, alpha):
    """Shortest-path slerp of two (w, x, y, z) tuples; alpha = 0 gives q0, alpha = 1 gives +-q1."""
    d = q0[0] * q1[0] + q0[1] * q1[1] + q0[2] * q1[2] + q0[3] * q1[3]
    sign = 1.0
    if d < 0.0:
        sign, d = -1.0, -d
    if d >= SLERP_SERIES_DOT:
        w0, w1 = slerp_weight(1.0 - alpha, d - 1.0), slerp_weight(alpha, d - 1.0)
    else:
        theta = math.acos(min(d, 1.0))
        sin_theta = math.sin(theta)
        w0 = math.sin((1.0 - alpha) * theta) / sin_theta
        w1 = math.sin(alpha * theta) / sin_theta
    w1 *= sign
    w = w0 * q0[0] + w1 * q1[0]
    x = w0 * q0[1] + w1 * q1[1]
    y = w0 * q0[2] + w1 * q1[2]
    z = w0 * q0[3] + w1 * q1[3]
    n = math.sqrt(w * w + x * x + y * y + z * z)
    return w / n, x / n, y / n, z / n


@_njit()
def quat_to_mat(q, out):
    w, x, y, z = q
    out[0, 0] = 1 - 2 * (y * y + z * z)
    out[0, 1] = 2 * (x * y - w * z)
    out[0, 2] = 2 * (x * z + w * y)
    out[1, 0] = 2 * (x * y + w * z)
    out[1, 1] = 1 - 2 * (x * x + z * z)
    out[1, 2] = 2 * (y * z - w * x)
    out[2, 0] = 2 * (x * z - w * y)
    out[2, 1] = 2 * (y * z + w * x)
    out[2, 2] = 1 - 2 * (x * x + y * y)


@_njit()
def quat_to_aa(q):
    """Inverse of aa_to_quat, angle in [0, pi], as a tuple (x, y, z)."""
    w, x, y, z = q
    if w < 0.0:
        w, x, y, z = -w, -x, -y, -z
    n = math.sqrt(x * x + y * y + z * z)
    if n < SMALL_ANGLE:
        f = 2.0 / w   # t = 2 atan2(n, w) ~ 2 n / w
    else:
        f = 2.0 * math.atan2(n, w) / n
    return f * x, f * y, f * z


@_njit()
def joint_chain(rot, rest, parents, trans, G, out):
    """World joint positions into out [J, 3] (G [J, 3, 3] is scratch for the world rotations).

    p_0 = rest_0 + trans;  G_0 = R_0;  p_j = p_parent + G_parent (rest_j - rest_parent);  G_j = G_parent R_j.
    """
    J = G.shape[0]
    for r in range(3):
        out[0, r] = rest[0, r] + float(trans[r])
        for c in range(3):
            G[0, r, c] = rot[0, r, c]
    for j in range(1, J):
        q = parents[j]
        d0, d1, d2 = rest[j, 0] - rest[q, 0], rest[j, 1] - rest[q, 1], rest[j, 2] - rest[q, 2]
        for r in range(3):
            out[j, r] = out[q, r] + G[q, r, 0] * d0 + G[q, r, 1] * d1 + G[q, r, 2] * d2
            for c in range(3):
                G[j, r, c] = G[q, r, 0] * rot[j, 0, c] + G[q, r, 1] * rot[j, 1, c] + G[q, r, 2] * rot[j, 2, c]


@_njit()
def rodrigues_backward(aa, g, out):
    """out[3] = dL/daa from dL/dw g[3]: g + b (aa x g) + c (aa x (aa x g)) (as reference.rodrigues_backward)."""
    x, y, z = float(aa[0]), float(aa[1]), float(aa[2])
    _, _, b, c = rodrigues_terms(x, y, z)
    u0, u1, u2 = y * g[2] - z * g[1], z * g[0] - x * g[2], x * g[1] - y * g[0]
    w0, w1, w2 = y * u2 - z * u1, z * u0 - x * u2, x * u1 - y * u0
    out[0] = g[0] + b * u0 + c * w0
    out[1] = g[1] + b * u1 + c * w1
    out[2] = g[2] + b * u2 + c * w2


@_njit()
def joint_chain_backward(G, p, rest, parents, grad_p, A, B, grad_w, grad_trans, grad_rest):
    """From one frame's world rotations G [J, 3, 3] (joint_chain's scratch), positions p [J, 3] and dL/dp [J, 3]:
    dL/dw into grad_w [J, 3], dL/dtrans into grad_trans [3], dL/drest added to grad_rest [J, 3] (A, B [J, 3]:
    scratch for the subtree sums); as reference.joint_chain_backward."""
    J = p.shape[0]
    for j in range(J):
        A[j, 0] = p[j, 1] * grad_p[j, 2] - p[j, 2] * grad_p[j, 1]
        A[j, 1] = p[j, 2] * grad_p[j, 0] - p[j, 0] * grad_p[j, 2]
        A[j, 2] = p[j, 0] * grad_p[j, 1] - p[j, 1] * grad_p[j, 0]
        for i in range(3):
            B[j, i] = grad_p[j, i]
    for j in range(J - 1, -1, -1):
        v0 = A[j, 0] - (p[j, 1] * B[j, 2] - p[j, 2] * B[j, 1])
        v1 = A[j, 1] - (p[j, 2] * B[j, 0] - p[j, 0] * B[j, 2])
        v2 = A[j, 2] - (p[j, 0] * B[j, 1] - p[j, 1] * B[j, 0])
        for i in range(3):
            grad_w[j, i] = G[j, 0, i] * v0 + G[j, 1, i] * v1 + G[j, 2, i] * v2
        if j == 0:
            break
        q = parents[j]
        for i in range(3):
            u = G[q, 0, i] * B[j, 0] + G[q, 1, i] * B[j, 1] + G[q, 2, i] * B[j, 2]
            grad_rest[j, i] += u
            grad_rest[q, i] -= u
            A[q, i] += A[j, i]
            B[q, i] += B[j, i]
    for i in range(3):
        grad_trans[i] = B[0, i]
        grad_rest[0, i] += B[0, i]


@_njit()
def source_position(k, num_frames, src_fps, dst_fps):
    """Output frame k is at source position s = k * src_fps / dst_fps (from k, never accumulated).
    Returns the two neighbouring frames and the weight of i1."""
    s = k * src_fps / dst_fps
    i0 = int(math.floor(s))
    if i0 >= num_frames - 1:
        return num_frames - 1, num_frames - 1, 0.0
    if i0 < 0:
        return 0, 0, 0.0
    return i0, i0 + 1, s - i0


@_njit()
def interpolate_frame(poses, trans, i0, i1, alpha, num_joints, rot, t):
    """Local rotations into rot [J, 3, 3] and translation into t [3], between source frames i0 and i1."""
    for j in range(num_joints):
        q0 = aa_to_quat(poses[i0, 3 * j:3 * j + 3])
        if alpha == 0.0:  # on a source frame: no slerp (as reference.interpolate_frame)
            quat_to_mat(q0, rot[j])
            continue
        q1 = aa_to_quat(poses[i1, 3 * j:3 * j + 3])
        quat_to_mat(quat_slerp(q0, q1, alpha), rot[j])
    for r in range(3):
        t[r] = (1.0 - alpha) * trans[i0, r] + alpha * trans[i1, r]


@_njit()
def stick_keypoints(joints, kp):
    """The 7 stick5 points plus the body's left axis (left hip - right hip) as row 7, into kp [8, 3]."""
    for r in range(3):
        kp[KP_HEAD, r] = joints[HEAD, r]
        kp[KP_NECK, r] = 0.5 * (joints[L_SHOULDER, r] + joints[R_SHOULDER, r])
        kp[KP_L_WRIST, r] = joints[L_WRIST, r]
        kp[KP_R_WRIST, r] = joints[R_WRIST, r]
        kp[KP_PELVIS, r] = 0.5 * (joints[L_HIP, r] + joints[R_HIP, r])
        kp[KP_L_ANKLE, r] = joints[L_ANKLE, r]
        kp[KP_R_ANKLE, r] = joints[R_ANKLE, r]
        kp[KP_LEFT_AXIS, r] = joints[L_HIP, r] - joints[R_HIP, r]


@_njit()
def clip_camera(first_kp, min_ankle_z, yaw_deg, view_mode):
    """Camera of one clip as a tuple (right_x, right_y, origin_x, origin_y, origin_z); see reference.clip_camera."""
    ox, oy = first_kp[KP_PELVIS, 0], first_kp[KP_PELVIS, 1]
    if view_mode == VIEW_TOP:
        return 1.0, 0.0, ox, oy, 0.0
    lx, ly = first_kp[KP_LEFT_AXIS, 0], first_kp[KP_LEFT_AXIS, 1]
    n = math.sqrt(lx * lx + ly * ly)
    if n < 1e-9:  # hips vertical (lying on a side): no facing, keep the world axes
        lx, ly, n = 1.0, 0.0, 1.0
    lx, ly = lx / n, ly / n
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return c * lx - s * ly, s * lx + c * ly, ox, oy, min_ankle_z


@_njit()
def project_keypoints(kp, camera, view_mode, out):
    """One frame of stick5 lines into out [20], screen space."""
    rx, ry, ox, oy, oz = camera
    for line in range(_LINES.shape[0]):
        for end in range(2):
            row = _LINES[line, end]
            x, y, z = kp[row, 0], kp[row, 1], kp[row, 2]
            if view_mode == VIEW_TOP:
                sx, sy = x - ox, y - oy
            else:
                sx, sy = (x - ox) * rx + (y - oy) * ry, z - oz
            out[4 * line + 2 * end] = sx
            out[4 * line + 2 * end + 1] = sy


@_njit()
def clip_frame(first, min_ankle_z, scale, camera, fr):
    """The frame record of one clip into fr [18]; see reference.clip_frame."""
    lx, ly = first[L_HIP, 0] - first[R_HIP, 0], first[L_HIP, 1] - first[R_HIP, 1]
    n = math.sqrt(lx * lx + ly * ly)
    if n < 1e-9:
        lx, ly, n = 1.0, 0.0, 1.0
    fr[FR_COS], fr[FR_SIN] = lx / n, ly / n
    fr[FR_ORIGIN] = 0.5 * (first[L_HIP, 0] + first[R_HIP, 0])
    fr[FR_ORIGIN + 1] = 0.5 * (first[L_HIP, 1] + first[R_HIP, 1])
    fr[FR_ORIGIN + 2] = min_ankle_z
    fr[FR_SCALE] = scale
    y, e = math.radians(camera[1]), math.radians(camera[2])
    cy, sy, ce, se = math.cos(y), math.sin(y), math.cos(e), math.sin(e)
    fr[FR_PERSP] = 1.0 if camera[0] != 0.0 else 0.0
    fr[FR_RIGHT], fr[FR_RIGHT + 1], fr[FR_RIGHT + 2] = cy, sy, 0.0
    fr[FR_UP], fr[FR_UP + 1], fr[FR_UP + 2] = -sy * se, cy * se, ce
    fr[FR_FORWARD], fr[FR_FORWARD + 1], fr[FR_FORWARD + 2] = -sy * ce, cy * ce, -se
    fr[FR_DISTANCE], fr[FR_TARGET] = camera[3], camera[5]


@_njit()
def canonical_point(p, fr):
    """World point [3] -> canonical (z up), as a tuple: scale * rotation (p - origin)."""
    dx, dy, dz = p[0] - fr[FR_ORIGIN], p[1] - fr[FR_ORIGIN + 1], p[2] - fr[FR_ORIGIN + 2]
    c, s, k = fr[FR_COS], fr[FR_SIN], fr[FR_SCALE]
    return k * (c * dx + s * dy), k * (c * dy - s * dx), k * dz


@_njit()
def frame_joints3d(world, fr, up, out):
    """World joints [>=22, 3] -> joints3d into out [22, 3]; up y: (x, y, z) -> (x, z, -y)."""
    for j in range(NUM_BODY_JOINTS):
        x, y, z = canonical_point(world[j], fr)
        out[j, 0] = x
        out[j, 1] = y if up == UP_Z else z
        out[j, 2] = z if up == UP_Z else -y


@_njit()
def frame_joints2d(world, fr, P, out):
    """World joints [>=22, 3] -> joints2d into out [22, 2] through the clip's camera (P [22, 3]: scratch)."""
    for j in range(NUM_BODY_JOINTS):
        P[j, 0], P[j, 1], P[j, 2] = canonical_point(world[j], fr)
    r0, r1, r2 = fr[FR_RIGHT], fr[FR_RIGHT + 1], fr[FR_RIGHT + 2]
    u0, u1, u2 = fr[FR_UP], fr[FR_UP + 1], fr[FR_UP + 2]
    d0, d1, d2 = fr[FR_FORWARD], fr[FR_FORWARD + 1], fr[FR_FORWARD + 2]
    if fr[FR_PERSP] == 0.0:
        for j in range(NUM_BODY_JOINTS):
            out[j, 0] = P[j, 0] * r0 + P[j, 1] * r1 + P[j, 2] * r2
            out[j, 1] = P[j, 0] * u0 + P[j, 1] * u1 + P[j, 2] * u2
        return
    t0, t1, t2 = 0.5 * (P[L_HIP, 0] + P[R_HIP, 0]), 0.5 * (P[L_HIP, 1] + P[R_HIP, 1]), fr[FR_TARGET]
    tr, tu = t0 * r0 + t1 * r1 + t2 * r2, t0 * u0 + t1 * u1 + t2 * u2
    dist = fr[FR_DISTANCE]
    for j in range(NUM_BODY_JOINTS):
        q0, q1, q2 = P[j, 0] - t0, P[j, 1] - t1, P[j, 2] - t2
        k = dist / max(q0 * d0 + q1 * d1 + q2 * d2 + dist, NEAR_M)
        out[j, 0] = k * (q0 * r0 + q1 * r1 + q2 * r2) + tr
        out[j, 1] = k * (q0 * u0 + q1 * u1 + q2 * u2) + tu


@_njit()
def _min_ankle_z(kps):
    m = np.inf
    for k in range(kps.shape[0]):
        m = min(m, kps[k, KP_L_ANKLE, 2], kps[k, KP_R_ANKLE, 2])
    return m


# ---------------------------------------------------------------------------------------------------------------
# Kernels over whole arrays.

@_njit(parallel=True)
def fk_loop(poses, trans, rest, parents, out):
    F, J = out.shape[0], out.shape[1]
    tasks = (F + _FRAMES_PER_TASK - 1) // _FRAMES_PER_TASK
    for task in prange(tasks):
        rot, G, p = np.empty((J, 3, 3)), np.empty((J, 3, 3)), np.empty((J, 3))
        for f in range(task * _FRAMES_PER_TASK, min(F, (task + 1) * _FRAMES_PER_TASK)):
            for j in range(J):
                rodrigues(poses[f, 3 * j:3 * j + 3], rot[j])
            joint_chain(rot, rest, parents, trans[f], G, p)
            for j in range(J):
                for r in range(3):
                    out[f, j, r] = p[j, r]


@_njit(parallel=True)
def fk_backward_loop(poses, trans, rest, parents, grad_out, grad_poses, grad_trans, grad_rest):
    """fk's gradients: grad_out [F, J, 3] -> grad_poses [F, P] (columns past 3J zero), grad_trans [F, 3] and, when
    grad_rest is [F, J, 3] (not [0, J, 3]), each frame's dL/drest (the caller sums them)."""
    F, J = grad_out.shape[0], grad_out.shape[1]
    with_rest = grad_rest.shape[0] == F
    tasks = (F + _FRAMES_PER_TASK - 1) // _FRAMES_PER_TASK
    for task in prange(tasks):
        rot, G, p = np.empty((J, 3, 3)), np.empty((J, 3, 3)), np.empty((J, 3))
        A, B, gw, gr = np.empty((J, 3)), np.empty((J, 3)), np.empty((J, 3)), np.empty((J, 3))
        for f in range(task * _FRAMES_PER_TASK, min(F, (task + 1) * _FRAMES_PER_TASK)):
            for j in range(J):
                rodrigues(poses[f, 3 * j:3 * j + 3], rot[j])
            joint_chain(rot, rest, parents, trans[f], G, p)
            gr[:] = 0.0
            joint_chain_backward(G, p, rest, parents, grad_out[f], A, B, gw, grad_trans[f], gr)
            grad_poses[f, 3 * J:] = 0.0
            for j in range(J):
                rodrigues_backward(poses[f, 3 * j:3 * j + 3], gw[j], grad_poses[f, 3 * j:3 * j + 3])
            if with_rest:
                grad_rest[f] = gr


@_njit(parallel=True)
def resample_loop(poses, trans, src_fps, dst_fps, out_p, out_t):
    F, T, num_rot = poses.shape[0], out_p.shape[0], poses.shape[1] // 3
    for k in prange(T):
        i0, i1, alpha = source_position(k, F, src_fps, dst_fps)
        for j in range(num_rot):
            q = quat_slerp(aa_to_quat(poses[i0, 3 * j:3 * j + 3]), aa_to_quat(poses[i1, 3 * j:3 * j + 3]), alpha)
            x, y, z = quat_to_aa(q)
            out_p[k, 3 * j], out_p[k, 3 * j + 1], out_p[k, 3 * j + 2] = x, y, z
        for r in range(3):
            out_t[k, r] = (1.0 - alpha) * trans[i0, r] + alpha * trans[i1, r]


@_njit()
def project_loop(joints, yaw_deg, view_mode, out):
    F = joints.shape[0]
    kps = np.empty((F, NUM_KEYPOINTS, 3))
    for f in range(F):
        stick_keypoints(joints[f], kps[f])
    cam = clip_camera(kps[0], _min_ankle_z(kps), yaw_deg, view_mode)
    for f in range(F):
        project_keypoints(kps[f], cam, view_mode, out[f])


@_njit()
def _clip_world_joints(poses, trans, seq_offsets, seq_fps, rest, parents, s, start, dst_fps, world):
    """World body joints of output frames start .. start + len(world) - 1 of sequence s, into world [n, 22, 3]."""
    J = NUM_BODY_JOINTS
    a, b = seq_offsets[s], seq_offsets[s + 1]
    rot, G, t = np.empty((J, 3, 3)), np.empty((J, 3, 3)), np.empty(3)
    seq_poses, seq_trans, seq_rest = poses[a:b], trans[a:b], rest[s]
    for k in range(world.shape[0]):
        i0, i1, alpha = source_position(start + k, b - a, seq_fps[s], dst_fps)
        interpolate_frame(seq_poses, seq_trans, i0, i1, alpha, J, rot, t)
        joint_chain(rot, seq_rest, parents, t, G, world[k])


@_njit(parallel=True)
def convert_batch_loop(poses, trans, seq_offsets, seq_fps, rest, parents, clip_seq, clip_start, clip_len,
                          clip_yaw, dst_fps, view_mode, out):
    C, window = out.shape[0], out.shape[1]
    for c in prange(C):
        n = clip_len[c]
        world = np.empty((n, NUM_BODY_JOINTS, 3))
        _clip_world_joints(poses, trans, seq_offsets, seq_fps, rest, parents, clip_seq[c], clip_start[c],
                           dst_fps, world)
        project_loop(world, clip_yaw[c], view_mode, out[c, :n])
        for k in range(n, window):
            out[c, k] = out[c, n - 1]


@_njit(parallel=True)
def convert_joints_batch_loop(poses, trans, seq_offsets, seq_fps, rest, parents, clip_seq, clip_start, clip_len,
                                 clip_scale, clip_camera, dst_fps, up, out):
    C, window, J = out.shape[0], out.shape[1], NUM_BODY_JOINTS
    for c in prange(C):
        n = clip_len[c]
        world = np.empty((n, J, 3))
        P, fr = np.empty((J, 3)), np.empty(FRAME_SIZE)
        _clip_world_joints(poses, trans, seq_offsets, seq_fps, rest, parents, clip_seq[c], clip_start[c],
                           dst_fps, world)
        min_z = np.inf
        for k in range(n):
            min_z = min(min_z, world[k, L_ANKLE, 2], world[k, R_ANKLE, 2])
        clip_frame(world[0], min_z, clip_scale[c], clip_camera[c], fr)
        for k in range(window):
            if out.shape[3] == 3:
                frame_joints3d(world[min(k, n - 1)], fr, up, out[c, k])
            else:
                frame_joints2d(world[min(k, n - 1)], fr, P, out[c, k])


# ---------------------------------------------------------------------------------------------------------------
# Backward of the joint schemas (joints3d, joints2d) w.r.t. poses and trans, as the reference's functions of the
# same names (gradients into caller-supplied arrays; quaternions as tuples).

@_njit()
def aa_to_quat_backward(aa, gq, out):
    """out[3] = dL/daa from dL/dq (tuple) for q = aa_to_quat(aa) (as reference.aa_to_quat_backward)."""
    x, y, z = float(aa[0]), float(aa[1]), float(aa[2])
    t2 = x * x + y * y + z * z
    t = math.sqrt(t2)
    if t < SMALL_ANGLE:
        s, h = 0.5 - t2 / 48.0, -1.0 / 24.0
    else:
        s, h = math.sin(0.5 * t) / t, (0.5 * t * math.cos(0.5 * t) - math.sin(0.5 * t)) / (t2 * t)
    k = -0.5 * s * gq[0] + h * (x * gq[1] + y * gq[2] + z * gq[3])
    out[0], out[1], out[2] = k * x + s * gq[1], k * y + s * gq[2], k * z + s * gq[3]


@_njit()
def slerp_weight_backward(a, xm1):
    """d slerp_weight(a, xm1) / d xm1 (as reference.slerp_weight_backward)."""
    f, df = 1.0, 0.0
    for i in range(SLERP_SERIES_TERMS, 0, -1):
        c = (a * a - i * i) * (1.0 / (i * (2 * i + 1)))
        df = c * (f + xm1 * df)
        f = 1.0 + c * xm1 * f
    return a * df


@_njit()
def slerp_trig_weights_backward(d, alpha):
    """(dw0/dd, dw1/dd) of the trigonometric slerp weights (as reference.slerp_trig_weights_backward)."""
    theta = math.acos(d)
    sin_theta = math.sqrt((1.0 - d) * (1.0 + d))
    s, c = math.sin(alpha * theta), math.cos(alpha * theta)
    w1 = s / sin_theta
    dw1 = (d * s - alpha * c * sin_theta) / (sin_theta * sin_theta * sin_theta)
    return alpha * s / sin_theta - w1 - d * dw1, dw1


@_njit()
def quat_slerp_backward(q0, q1, alpha, gq):
    """(dL/dq0, dL/dq1) as tuples from dL/dq for q = quat_slerp(q0, q1, alpha) (as reference.quat_slerp_backward)."""
    dot = q0[0] * q1[0] + q0[1] * q1[1] + q0[2] * q1[2] + q0[3] * q1[3]
    sign = -1.0 if dot < 0.0 else 1.0
    d = sign * dot
    if d >= SLERP_SERIES_DOT:
        w0, w1 = slerp_weight(1.0 - alpha, d - 1.0), slerp_weight(alpha, d - 1.0)
        dw0, dw1 = slerp_weight_backward(1.0 - alpha, d - 1.0), slerp_weight_backward(alpha, d - 1.0)
    else:
        theta = math.acos(d)
        sin_theta = math.sqrt((1.0 - d) * (1.0 + d))
        w1 = math.sin(alpha * theta) / sin_theta
        w0 = math.cos(alpha * theta) - d * w1
        dw0, dw1 = slerp_trig_weights_backward(d, alpha)
    q = np.empty(4)
    for i in range(4):
        q[i] = w0 * q0[i] + sign * w1 * q1[i]
    n = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    og = 0.0
    for i in range(4):
        og += q[i] / n * gq[i]
    g = np.empty(4)
    ga, gb = 0.0, 0.0
    for i in range(4):
        g[i] = (gq[i] - q[i] / n * og) / n
        ga += g[i] * q0[i]
        gb += g[i] * q1[i]
    gd = ga * dw0 + sign * gb * dw1
    a = (w0 * g[0] + sign * gd * q1[0], w0 * g[1] + sign * gd * q1[1], w0 * g[2] + sign * gd * q1[2],
         w0 * g[3] + sign * gd * q1[3])
    b = (sign * w1 * g[0] + sign * gd * q0[0], sign * w1 * g[1] + sign * gd * q0[1],
         sign * w1 * g[2] + sign * gd * q0[2], sign * w1 * g[3] + sign * gd * q0[3])
    return a, b


@_njit()
def quat_rotation_backward(q, g):
    """dL/dq = 2 q (x) (0, g) as a tuple (as reference.quat_rotation_backward)."""
    w, x, y, z = q
    return (-2.0 * (x * g[0] + y * g[1] + z * g[2]), 2.0 * (w * g[0] + (y * g[2] - z * g[1])),
            2.0 * (w * g[1] + (z * g[0] - x * g[2])), 2.0 * (w * g[2] + (x * g[1] - y * g[0])))


@_njit()
def interpolate_frame_backward(p0, p1, alpha, num_joints, grad_w, grad_t, g0, g1, gt0, gt1):
    """interpolate_frame's backward into g0, g1 [3J] and gt0, gt1 [3] (as reference.interpolate_frame_backward)."""
    for j in range(num_joints):
        q0 = aa_to_quat(p0[3 * j:3 * j + 3])
        if alpha == 0.0:
            aa_to_quat_backward(p0[3 * j:3 * j + 3], quat_rotation_backward(q0, grad_w[j]), g0[3 * j:3 * j + 3])
            g1[3 * j:3 * j + 3] = 0.0
            continue
        q1 = aa_to_quat(p1[3 * j:3 * j + 3])
        gq0, gq1 = quat_slerp_backward(q0, q1, alpha, quat_rotation_backward(quat_slerp(q0, q1, alpha), grad_w[j]))
        aa_to_quat_backward(p0[3 * j:3 * j + 3], gq0, g0[3 * j:3 * j + 3])
        aa_to_quat_backward(p1[3 * j:3 * j + 3], gq1, g1[3 * j:3 * j + 3])
    for i in range(3):
        gt0[i] = (1.0 - alpha) * grad_t[i]
        gt1[i] = alpha * grad_t[i]


@_njit()
def canonical_point_backward(p, fr, g0, g1, g2, gw, gf):
    """canonical_point's backward: dL/dout (g0, g1, g2) -> dL/dp added to gw [3], dL/dframe added to gf [5]."""
    dx, dy, dz = p[0] - fr[FR_ORIGIN], p[1] - fr[FR_ORIGIN + 1], p[2] - fr[FR_ORIGIN + 2]
    c, s, k = fr[FR_COS], fr[FR_SIN], fr[FR_SCALE]
    a, b, e = k * (c * g0 - s * g1), k * (s * g0 + c * g1), k * g2
    gw[0] += a
    gw[1] += b
    gw[2] += e
    gf[0] += k * (dx * g0 + dy * g1)
    gf[1] += k * (dy * g0 - dx * g1)
    gf[2] -= a
    gf[3] -= b
    gf[4] -= e


@_njit()
def frame_joints3d_backward(world, fr, up, g, gw, gf):
    """frame_joints3d's backward: dL/dout g [22, 3] -> added to gw [22, 3] and gf [5]."""
    for j in range(NUM_BODY_JOINTS):
        if up == UP_Z:
            canonical_point_backward(world[j], fr, g[j, 0], g[j, 1], g[j, 2], gw[j], gf)
        else:
            canonical_point_backward(world[j], fr, g[j, 0], -g[j, 2], g[j, 1], gw[j], gf)


@_njit()
def frame_joints2d_backward(world, fr, g, P, gP, gw, gf):
    """frame_joints2d's backward: dL/dout g [22, 2] -> added to gw [22, 3] and gf [5] (P, gP [22, 3]: scratch)."""
    r0, r1, r2 = fr[FR_RIGHT], fr[FR_RIGHT + 1], fr[FR_RIGHT + 2]
    u0, u1, u2 = fr[FR_UP], fr[FR_UP + 1], fr[FR_UP + 2]
    d = (fr[FR_FORWARD], fr[FR_FORWARD + 1], fr[FR_FORWARD + 2])
    for j in range(NUM_BODY_JOINTS):
        gP[j, 0] = g[j, 0] * r0 + g[j, 1] * u0
        gP[j, 1] = g[j, 0] * r1 + g[j, 1] * u1
        gP[j, 2] = g[j, 0] * r2 + g[j, 1] * u2
    if fr[FR_PERSP] != 0.0:
        for j in range(NUM_BODY_JOINTS):
            P[j, 0], P[j, 1], P[j, 2] = canonical_point(world[j], fr)
        t0, t1, t2 = 0.5 * (P[L_HIP, 0] + P[R_HIP, 0]), 0.5 * (P[L_HIP, 1] + P[R_HIP, 1]), fr[FR_TARGET]
        dist = fr[FR_DISTANCE]
        gt = np.zeros(3)
        for j in range(NUM_BODY_JOINTS):
            q0, q1, q2 = P[j, 0] - t0, P[j, 1] - t1, P[j, 2] - t2
            zr = q0 * d[0] + q1 * d[1] + q2 * d[2] + dist
            z = NEAR_M if zr < NEAR_M else zr
            k = dist / z
            gk = g[j, 0] * (q0 * r0 + q1 * r1 + q2 * r2) + g[j, 1] * (q0 * u0 + q1 * u1 + q2 * u2)
            gz = 0.0 if zr < NEAR_M else -gk * dist / (z * z)
            for i in range(3):
                e = gP[j, i]
                gP[j, i] = k * e + gz * d[i]
                gt[i] += e - gP[j, i]
        for i in range(2):
            gP[L_HIP, i] += 0.5 * gt[i]
            gP[R_HIP, i] += 0.5 * gt[i]
    for j in range(NUM_BODY_JOINTS):
        canonical_point_backward(world[j], fr, gP[j, 0], gP[j, 1], gP[j, 2], gw[j], gf)


@_njit()
def clip_frame_backward(first, gf, gw):
    """clip_frame's backward for (cos, sin, origin x, y) of gf -> added to gw [22, 3] (the first frame's hips)."""
    lx, ly = first[L_HIP, 0] - first[R_HIP, 0], first[L_HIP, 1] - first[R_HIP, 1]
    n = math.sqrt(lx * lx + ly * ly)
    if n >= 1e-9:
        c, s = lx / n, ly / n
        m = c * gf[0] + s * gf[1]
        glx, gly = (gf[0] - c * m) / n, (gf[1] - s * m) / n
        gw[L_HIP, 0] += glx
        gw[L_HIP, 1] += gly
        gw[R_HIP, 0] -= glx
        gw[R_HIP, 1] -= gly
    for i in range(2):
        gw[L_HIP, i] += 0.5 * gf[2 + i]
        gw[R_HIP, i] += 0.5 * gf[2 + i]


@_njit()
def lowest_ankle(world):
    """(frame, joint) of a clip's lowest ankle (as reference.lowest_ankle)."""
    best, kz, jz = np.inf, 0, R_ANKLE
    for k in range(world.shape[0]):
        j = L_ANKLE if world[k, L_ANKLE, 2] < world[k, R_ANKLE, 2] else R_ANKLE
        if k == 0 or world[k, j, 2] < best:
            best, kz, jz = world[k, j, 2], k, j
    return kz, jz


@_njit(parallel=True)
def convert_joints_batch_backward_loop(poses, trans, seq_offsets, seq_fps, rest, parents, clip_seq, clip_start,
                                       clip_len, clip_scale, clip_camera, dst_fps, up, grad_out, grad_poses,
                                       grad_trans):
    """convert_joints_batch's gradients: grad_out [C, window, 22, 3 or 2] -> grad_poses [N, P], grad_trans [N, 3]
    (as reference.convert_joints_batch_backward). Clips run in parallel into per-frame row gradients; one thread
    adds them into the rows (clips may share source rows)."""
    C, window, J = grad_out.shape[0], grad_out.shape[1], NUM_BODY_JOINTS
    rows = np.zeros((C, window, 2), dtype=np.int64)
    grad_rows = np.zeros((C, window, 2, 3 * J + 3))
    for c in prange(C):
        n = clip_len[c]
        s = clip_seq[c]
        a, b = seq_offsets[s], seq_offsets[s + 1]
        world, gworld = np.empty((n, J, 3)), np.zeros((n, J, 3))
        P, gP, fr, gf = np.empty((J, 3)), np.empty((J, 3)), np.empty(FRAME_SIZE), np.zeros(5)
        _clip_world_joints(poses, trans, seq_offsets, seq_fps, rest, parents, s, clip_start[c], dst_fps, world)
        min_z = np.inf
        for k in range(n):
            min_z = min(min_z, world[k, L_ANKLE, 2], world[k, R_ANKLE, 2])
        clip_frame(world[0], min_z, clip_scale[c], clip_camera[c], fr)
        for k in range(window):
            src = min(k, n - 1)
            if grad_out.shape[3] == 3:
                frame_joints3d_backward(world[src], fr, up, grad_out[c, k], gworld[src], gf)
            else:
                frame_joints2d_backward(world[src], fr, grad_out[c, k], P, gP, gworld[src], gf)
        clip_frame_backward(world[0], gf, gworld[0])
        kz, jz = lowest_ankle(world)
        gworld[kz, jz, 2] += gf[4]
        rot, G, t, p = np.empty((J, 3, 3)), np.empty((J, 3, 3)), np.empty(3), np.empty((J, 3))
        A, B, gw, gr, gt = np.empty((J, 3)), np.empty((J, 3)), np.empty((J, 3)), np.zeros((J, 3)), np.empty(3)
        seq_poses, seq_trans = poses[a:b], trans[a:b]
        for k in range(n):
            i0, i1, alpha = source_position(clip_start[c] + k, b - a, seq_fps[s], dst_fps)
            interpolate_frame(seq_poses, seq_trans, i0, i1, alpha, J, rot, t)
            joint_chain(rot, rest[s], parents, t, G, p)
            joint_chain_backward(G, p, rest[s], parents, gworld[k], A, B, gw, gt, gr)
            g = grad_rows[c, k]
            interpolate_frame_backward(seq_poses[i0], seq_poses[i1], alpha, J, gw, gt, g[0, :3 * J], g[1, :3 * J],
                                       g[0, 3 * J:], g[1, 3 * J:])
            rows[c, k, 0], rows[c, k, 1] = a + i0, a + i1
    grad_poses[:] = 0.0
    grad_trans[:] = 0.0
    for c in range(C):
        for k in range(clip_len[c]):
            for r in range(2):
                row = rows[c, k, r]
                for i in range(3 * J):
                    grad_poses[row, i] += grad_rows[c, k, r, i]
                for i in range(3):
                    grad_trans[row, i] += grad_rows[c, k, r, 3 * J + i]

__all__ = ["set_num_threads", "resampled_length",
           "fk_loop", "fk_backward_loop", "resample_loop", "project_loop", "convert_batch_loop", "convert_joints_batch_loop",
           "rodrigues", "rodrigues_backward", "joint_chain_backward", "aa_to_quat", "quat_slerp", "quat_to_mat", "quat_to_aa", "joint_chain", "source_position",
           "interpolate_frame", "stick_keypoints", "clip_camera", "project_keypoints",
           "clip_frame", "canonical_point", "frame_joints3d", "frame_joints2d"]
