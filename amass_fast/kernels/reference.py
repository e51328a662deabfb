"""Float64 NumPy reference of the hot path.

This file is the readable specification of the math in ``csrc/amass_math.h``. The C++/CUDA header and the
numba fallback (``amass_fast/kernels/numba_backend.py``) mirror it function by function, with the same names, so a
reader can hold the three side by side:

    rodrigues          axis-angle [3] -> rotation matrix [3, 3]
    aa_to_quat         axis-angle [3] -> unit quaternion (w, x, y, z)
    slerp_weight       sin(a t) / sin t without trigonometry, for quaternions close together
    quat_slerp         shortest-path spherical interpolation of two unit quaternions
    quat_to_mat        unit quaternion -> rotation matrix [3, 3]
    quat_to_aa         unit quaternion -> axis-angle [3] (only for ``resample_poses``)
    joint_chain        local rotations [J, 3, 3] + rest joints -> world joint positions [J, 3]
                       (joint_chain_world: and the world rotations [J, 3, 3])
    rodrigues_backward dL/d(rotation change in its own frame) [3] -> dL/daxis-angle [3]
    joint_chain_backward  dL/dpositions [J, 3] -> dL/d(local rotation changes), dL/dtrans, dL/drest
    source_position    output frame k -> (i0, i1, alpha) in the source sequence, by time
    interpolate_frame  slerp/lerp of one source-frame pair -> local rotations + translation
    stick_keypoints    world joints -> the stick schema's keypoints [8, 3] (row 7 is the body's left axis)
    clip_camera        first-frame keypoints + clip's lowest ankle -> 2D camera (right axis, origin)
    project_keypoints  keypoints [8, 3] + camera -> one frame of sticks [20]
    clip_frame         first-frame joints + lowest ankle + scale + packed camera -> the clip's frame record [18]
    canonical_point    world point [3] -> the clip's canonical frame (z up) [3]
    frame_joints3d     world joints [22, 3] -> joints3d [22, 3] (up z or y)
    frame_joints2d     world joints [22, 3] -> joints2d [22, 2] through the clip's camera

The joints schemas' float64 specification in whole-clip form is amass_fast.schemas (joints.canonical_joints,
cameras.project); convert_joints_batch here is the same per frame, as the kernels compute it.

Everything here is float64 and loops in Python: it is slow on purpose, to be obviously right.

Conventions (docs/CONVENTIONS.md): AMASS world is Z-up with ground plane XY; screen space is x right, y up,
metres. ``view="front"`` turns the camera so that the body faces it at the clip's first frame; the body's facing
comes from its hips (left hip - right hip is the body's left axis), so that ``project`` on joints alone agrees with
the fused ``convert``.
"""
from __future__ import annotations

import math

import numpy as np

from amass_fast.schemas.skeleton import (BODY_PARENTS, HEAD, L_ANKLE, L_HIP, L_SHOULDER, L_WRIST, PELVIS, R_ANKLE,
                                         R_HIP, R_SHOULDER, R_WRIST)
from amass_fast.schemas.skeleton import NUM_JOINTS as NUM_BODY_JOINTS

# Rows of the keypoint record that stick_keypoints writes.
KP_HEAD, KP_NECK, KP_L_WRIST, KP_R_WRIST, KP_PELVIS, KP_L_ANKLE, KP_R_ANKLE, KP_LEFT_AXIS = range(8)
NUM_KEYPOINTS = 8
# stick5 lines as (from, to) keypoint rows: head->neck, neck->left wrist, neck->right wrist,
# pelvis->left ankle, pelvis->right ankle. Each line is (x1, y1, x2, y2): 5 lines x 4 = 20 values.
STICK5_LINES = ((KP_HEAD, KP_NECK), (KP_NECK, KP_L_WRIST), (KP_NECK, KP_R_WRIST),
                (KP_PELVIS, KP_L_ANKLE), (KP_PELVIS, KP_R_ANKLE))
STICK_DIM = 20

# Below these angles the closed forms lose precision; Taylor series take over.
SMALL_ANGLE = 1e-4
# At or above this quaternion dot product (rotations up to ~52 degrees apart, which consecutive mocap frames always
# are) slerp's weights come from a series in (dot - 1) with no trigonometry; SLERP_SERIES_TERMS terms reach float64
# rounding there (max error 6e-16; csrc uses 5 terms for float32: 2e-9).
SLERP_SERIES_DOT = 0.9
SLERP_SERIES_TERMS = 10
# Resampled length: frames whose time lands within this many frames of the end count as inside.
LENGTH_EPS = 1e-6

# joints schemas: up axis codes, nearest perspective depth (amass_fast.schemas.cameras) and the
# rows of the clip frame record that clip_frame writes.
UP_Z, UP_Y = 0, 1
NEAR_M = 0.1
FR_COS, FR_SIN, FR_ORIGIN, FR_SCALE, FR_PERSP, FR_RIGHT, FR_UP, FR_FORWARD, FR_DISTANCE, FR_TARGET = (
    0, 1, 2, 5, 6, 7, 10, 13, 16, 17)
FRAME_SIZE = 18

VIEW_FRONT = 0  # camera yawed relative to the body's facing at the clip's first frame
VIEW_TOP = 1    # the old converter's ground-plane drop: screen (x, y) = world (x, y) - pelvis at the first frame


def rodrigues_terms(aa: np.ndarray) -> tuple[float, float, float]:
    """The coefficients of R(aa) and of its backward, t = |aa|: a = sin(t)/t, b = (1 - cos t)/t^2 (rodrigues) and
    c = (t - sin t)/t^3 (rodrigues_backward); below SMALL_ANGLE their series."""
    t2 = aa[0] * aa[0] + aa[1] * aa[1] + aa[2] * aa[2]
    t = math.sqrt(t2)
    if t < SMALL_ANGLE:
        return 1.0 - t2 / 6.0, 0.5 - t2 / 24.0, 1.0 / 6.0 - t2 / 120.0
    return math.sin(t) / t, (1.0 - math.cos(t)) / t2, (t - math.sin(t)) / (t2 * t)


def rodrigues(aa: np.ndarray) -> np.ndarray:
    """R = I + a S + b S^2, S = skew(aa), with a, b of rodrigues_terms."""
    a, b, _ = rodrigues_terms(aa)
    S = np.array([[0.0, -aa[2], aa[1]], [aa[2], 0.0, -aa[0]], [-aa[1], aa[0], 0.0]])
    return np.eye(3) + a * S + b * (S @ S)


def aa_to_quat(aa: np.ndarray) -> np.ndarray:
    """q = (cos(t/2), sin(t/2)/t * aa)."""
    t2 = aa[0] * aa[0] + aa[1] * aa[1] + aa[2] * aa[2]
    t = math.sqrt(t2)
    if t < SMALL_ANGLE:
        s = 0.5 - t2 / 48.0
    else:
        s = math.sin(0.5 * t) / t
    return np.array([math.cos(0.5 * t), s * aa[0], s * aa[1], s * aa[2]])


def slerp_weight(a: float, xm1: float) -> float:
    """sin(a t) / sin t for x = cos t near 1, given xm1 = x - 1 (D. Eberly, "A Fast and Accurate Algorithm for
    Computing SLERP", 2011): a (1 + b_1 (1 + b_2 (1 + ...))) with b_i = (a^2 - i^2) / (i (2i + 1)) (x - 1)."""
    f = 1.0
    for i in range(SLERP_SERIES_TERMS, 0, -1):
        f = 1.0 + (a * a - i * i) * (1.0 / (i * (2 * i + 1))) * xm1 * f
    return a * f


def quat_slerp(q0: np.ndarray, q1: np.ndarray, alpha: float) -> np.ndarray:
    """Shortest-path slerp; alpha = 0 gives q0, alpha = 1 gives +-q1."""
    d = float(q0 @ q1)
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
    q = w0 * q0 + (sign * w1) * q1
    return q / math.sqrt(float(q @ q))


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def quat_to_aa(q: np.ndarray) -> np.ndarray:
    """Inverse of aa_to_quat, angle in [0, pi]."""
    w, v = q[0], q[1:]
    if w < 0.0:
        w, v = -w, -v
    n = math.sqrt(float(v @ v))
    if n < SMALL_ANGLE:
        # t = 2 atan2(n, w) ~ 2 n / w
        return (2.0 / w) * v
    return (2.0 * math.atan2(n, w) / n) * v


def joint_chain(rot: np.ndarray, rest: np.ndarray, parents: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """World joint positions. rot [J, 3, 3] local rotations, rest [J, 3] rest-pose joints, parents[j] < j.

    The root rotates about its own rest position and is then translated by ``trans`` (as smplx does):
    p_0 = rest_0 + trans;  G_0 = R_0;  p_j = p_parent + G_parent (rest_j - rest_parent);  G_j = G_parent R_j.
    """
    return joint_chain_world(rot, rest, parents, trans)[0]


def joint_chain_world(rot: np.ndarray, rest: np.ndarray, parents: np.ndarray,
                      trans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """joint_chain's positions p [J, 3] and the world rotations G [J, 3, 3] (fk's backward needs them)."""
    J = rest.shape[0]
    G = np.empty((J, 3, 3))
    p = np.empty((J, 3))
    G[0] = rot[0]
    p[0] = rest[0] + trans
    for j in range(1, J):
        q = parents[j]
        p[j] = p[q] + G[q] @ (rest[j] - rest[q])
        G[j] = G[q] @ rot[j]
    return p, G


def rodrigues_backward(aa: np.ndarray, g: np.ndarray) -> np.ndarray:
    """dL/daa from dL/dw, w the rotation's change in its own frame (R(aa + d) = R(aa) exp([J_r d]x), J_r the right
    Jacobian of SO(3)): J_r^T g = g + b (aa x g) + c (aa x (aa x g)), b and c of rodrigues_terms (the compiled
    backends keep them from the forward pass)."""
    _, b, c = rodrigues_terms(aa)
    u = np.cross(aa, g)
    return g + b * u + c * np.cross(aa, u)


def joint_chain_backward(G: np.ndarray, p: np.ndarray, rest: np.ndarray, parents: np.ndarray,
                         grad_p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From one frame's world rotations G [J, 3, 3], positions p [J, 3] and dL/dp [J, 3]: dL/dw [J, 3] (each local
    rotation's change in its own frame), dL/dtrans [3] and dL/drest [J, 3].

    Turning joint j by w moves every joint k of its subtree by (G_j w) x (p_k - p_j), so with the subtree sums
    A_j = sum p_k x dL/dp_k and B_j = sum dL/dp_k: dL/dw_j = G_j^T (A_j - p_j x B_j). The offset rest_j - rest_parent
    moves j's subtree through G_parent: dL/drest_j += G_parent^T B_j, dL/drest_parent -= the same; the root's
    rest and trans move everything: B_0. One pass from the leaves up."""
    J = len(p)
    A = np.cross(p, grad_p)
    B = np.array(grad_p, dtype=np.float64)
    grad_w, grad_rest = np.empty((J, 3)), np.zeros((J, 3))
    for j in range(J - 1, -1, -1):
        grad_w[j] = G[j].T @ (A[j] - np.cross(p[j], B[j]))
        if j == 0:
            break
        q = parents[j]
        u = G[q].T @ B[j]
        grad_rest[j] += u
        grad_rest[q] -= u
        A[q] += A[j]
        B[q] += B[j]
    grad_rest[0] += B[0]
    return grad_w, B[0].copy(), grad_rest


def resampled_length(num_frames: int, src_fps: float, dst_fps: float) -> int:
    """Output frames k = 0 .. floor((F - 1) / src_fps * dst_fps), i.e. every 1/dst_fps s inside the source."""
    return int(math.floor((num_frames - 1) * dst_fps / src_fps + LENGTH_EPS)) + 1


def source_position(k: int, num_frames: int, src_fps: float, dst_fps: float) -> tuple[int, int, float]:
    """Output frame k is at t = k / dst_fps s, i.e. source position s = t * src_fps (computed in float64 from k,
    never accumulated, so 59.99999 fps does not drift). Returns the two neighbouring frames and the weight of i1."""
    s = k * src_fps / dst_fps
    i0 = int(math.floor(s))
    if i0 >= num_frames - 1:
        return num_frames - 1, num_frames - 1, 0.0
    if i0 < 0:
        return 0, 0, 0.0
    return i0, i0 + 1, s - i0


def interpolate_frame(poses: np.ndarray, trans: np.ndarray, i0: int, i1: int, alpha: float, num_joints: int):
    """Local rotations [J, 3, 3] and translation [3] at a position between source frames i0 and i1.

    alpha == 0 (an output frame on a source frame: every frame at 100 or 250 fps, every 5th at 60 or 120) takes
    frame i0's rotation as it is, which saves half the work there and equals the slerp up to rounding."""
    rot = np.empty((num_joints, 3, 3))
    for j in range(num_joints):
        q0 = aa_to_quat(poses[i0, 3 * j:3 * j + 3])
        if alpha == 0.0:
            rot[j] = quat_to_mat(q0)
            continue
        q1 = aa_to_quat(poses[i1, 3 * j:3 * j + 3])
        rot[j] = quat_to_mat(quat_slerp(q0, q1, alpha))
    t = (1.0 - alpha) * trans[i0] + alpha * trans[i1]
    return rot, t


def stick_keypoints(joints: np.ndarray) -> np.ndarray:
    """The 7 stick5 points plus the body's left axis (left hip - right hip) as row 7."""
    kp = np.empty((NUM_KEYPOINTS, 3))
    kp[KP_HEAD] = joints[HEAD]
    kp[KP_NECK] = 0.5 * (joints[L_SHOULDER] + joints[R_SHOULDER])
    kp[KP_L_WRIST] = joints[L_WRIST]
    kp[KP_R_WRIST] = joints[R_WRIST]
    kp[KP_PELVIS] = 0.5 * (joints[L_HIP] + joints[R_HIP])
    kp[KP_L_ANKLE] = joints[L_ANKLE]
    kp[KP_R_ANKLE] = joints[R_ANKLE]
    kp[KP_LEFT_AXIS] = joints[L_HIP] - joints[R_HIP]
    return kp


def clip_camera(first_kp: np.ndarray, min_ankle_z: float, yaw_deg: float, view_mode: int) -> np.ndarray:
    """Camera of one clip as [right_x, right_y, origin_x, origin_y, origin_z].

    front: screen x = the camera's right. A camera that the body faces sees the body's left on screen right, so
    the right axis is the body's left axis projected on the ground (first frame), then rotated counter-clockwise
    (seen from above) by ``yaw_deg``: the camera orbits the body by that angle. Origin: the pelvis at the first
    frame for x, the lowest ankle of the clip for y. top: right = world x, origin = first-frame pelvis (x, y).
    """
    ox, oy = first_kp[KP_PELVIS, 0], first_kp[KP_PELVIS, 1]
    if view_mode == VIEW_TOP:
        return np.array([1.0, 0.0, ox, oy, 0.0])
    lx, ly = first_kp[KP_LEFT_AXIS, 0], first_kp[KP_LEFT_AXIS, 1]
    n = math.sqrt(lx * lx + ly * ly)
    if n < 1e-9:  # hips vertical (lying on a side): no facing, keep the world axes
        lx, ly, n = 1.0, 0.0, 1.0
    lx, ly = lx / n, ly / n
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return np.array([c * lx - s * ly, s * lx + c * ly, ox, oy, min_ankle_z])


def project_keypoints(kp: np.ndarray, camera: np.ndarray, view_mode: int) -> np.ndarray:
    """One frame of stick5 lines [20] in screen space."""
    rx, ry, ox, oy, oz = camera
    out = np.empty(STICK_DIM)
    for line, (a, b) in enumerate(STICK5_LINES):
        for end, row in enumerate((a, b)):
            x, y, z = kp[row]
            if view_mode == VIEW_TOP:
                sx, sy = x - ox, y - oy
            else:
                sx, sy = (x - ox) * rx + (y - oy) * ry, z - oz
            out[4 * line + 2 * end] = sx
            out[4 * line + 2 * end + 1] = sy
    return out


def clip_frame(first: np.ndarray, min_ankle_z: float, scale: float, camera: np.ndarray) -> np.ndarray:
    """The frame record [18] of one clip: canonical rotation (cos, sin) that turns the first frame's left axis (left
    hip - right hip, on the ground) onto +x (hips vertical: the world's x axis), origin (first-frame pelvis x, y;
    lowest ankle z), scale, then the camera: perspective flag, right, up and forward axes, distance, target height
    (amass_fast.schemas.cameras.camera_axes)."""
    lx, ly = first[L_HIP, 0] - first[R_HIP, 0], first[L_HIP, 1] - first[R_HIP, 1]
    n = math.sqrt(lx * lx + ly * ly)
    if n < 1e-9:
        lx, ly, n = 1.0, 0.0, 1.0
    pelvis = 0.5 * (first[L_HIP] + first[R_HIP])
    y, e = math.radians(camera[1]), math.radians(camera[2])
    cy, sy, ce, se = math.cos(y), math.sin(y), math.cos(e), math.sin(e)
    return np.array([lx / n, ly / n, pelvis[0], pelvis[1], min_ankle_z, scale, float(camera[0] != 0.0),
                     cy, sy, 0.0, -sy * se, cy * se, ce, -sy * ce, cy * ce, -se, camera[3], camera[5]])


def canonical_point(p: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """World point [3] -> canonical (z up) [3]: scale * rotation (p - origin)."""
    dx, dy, dz = p - frame[FR_ORIGIN:FR_ORIGIN + 3]
    c, s, k = frame[FR_COS], frame[FR_SIN], frame[FR_SCALE]
    return np.array([k * (c * dx + s * dy), k * (c * dy - s * dx), k * dz])


def frame_joints3d(world: np.ndarray, frame: np.ndarray, up: int) -> np.ndarray:
    """World joints [>=22, 3] of one frame -> joints3d [22, 3]; up y: (x, y, z) -> (x, z, -y)."""
    out = np.stack([canonical_point(world[j], frame) for j in range(NUM_BODY_JOINTS)])
    return out if up == UP_Z else np.stack([out[:, 0], out[:, 2], -out[:, 1]], axis=1)


def frame_joints2d(world: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """World joints [>=22, 3] of one frame -> joints2d [22, 2] through the clip's camera: orthographic (P.r, P.u);
    perspective with target t = (pelvis x, pelvis y, target height), q = P - t, z = max(q.d + distance, NEAR_M):
    distance / z (q.r, q.u) + (t.r, t.u)."""
    P = np.stack([canonical_point(world[j], frame) for j in range(NUM_BODY_JOINTS)])
    r, u, d = (frame[i:i + 3] for i in (FR_RIGHT, FR_UP, FR_FORWARD))
    if frame[FR_PERSP] == 0.0:
        return np.stack([P @ r, P @ u], axis=1)
    t = np.array([0.5 * (P[L_HIP, 0] + P[R_HIP, 0]), 0.5 * (P[L_HIP, 1] + P[R_HIP, 1]), frame[FR_TARGET]])
    q = P - t
    z = np.maximum(q @ d + frame[FR_DISTANCE], NEAR_M)
    k = frame[FR_DISTANCE] / z
    return np.stack([k * (q @ r) + t @ r, k * (q @ u) + t @ u], axis=1)


# ---------------------------------------------------------------------------------------------------------------
# Backward of the joint schemas (joints3d, joints2d) of convert_joints_batch w.r.t. poses and trans; the same
# functions, with the same names, in csrc/amass_math.h and amass_fast/kernels/numba_backend.py. The rest joints, cameras and
# scales are constants here (no gradient).


def aa_to_quat_backward(aa: np.ndarray, gq: np.ndarray) -> np.ndarray:
    """dL/daa from dL/dq for q = aa_to_quat(aa) = (cos(t/2), s aa), s = sin(t/2) / t:
    dL/daa = -s/2 gq_w aa + s gq_v + h (aa . gq_v) aa, h = s'(t) / t = (t/2 cos(t/2) - sin(t/2)) / t^3; below
    SMALL_ANGLE the derivatives of the forward's series (s = 1/2 - t^2/48, h = -1/24)."""
    t2 = float(aa @ aa)
    t = math.sqrt(t2)
    if t < SMALL_ANGLE:
        s, h = 0.5 - t2 / 48.0, -1.0 / 24.0
    else:
        s, h = math.sin(0.5 * t) / t, (0.5 * t * math.cos(0.5 * t) - math.sin(0.5 * t)) / (t2 * t)
    gv = gq[1:]
    return (-0.5 * s * gq[0] + h * float(aa @ gv)) * aa + s * gv


def slerp_weight_backward(a: float, xm1: float) -> float:
    """d slerp_weight(a, xm1) / d xm1: the series' Horner loop differentiated alongside it."""
    f, df = 1.0, 0.0
    for i in range(SLERP_SERIES_TERMS, 0, -1):
        c = (a * a - i * i) * (1.0 / (i * (2 * i + 1)))
        df = c * (f + xm1 * df)
        f = 1.0 + c * xm1 * f
    return a * df


def slerp_trig_weights_backward(d: float, alpha: float) -> tuple[float, float]:
    """d w0 / d d and d w1 / d d of the trigonometric weights (theta = acos d, w1 = sin(alpha theta) / sin theta,
    w0 = cos(alpha theta) - d w1): dw1 = (d sin(alpha theta) - alpha cos(alpha theta) sin theta) / sin^3 theta,
    dw0 = alpha sin(alpha theta) / sin theta - w1 - d dw1."""
    theta = math.acos(d)
    sin_theta = math.sqrt((1.0 - d) * (1.0 + d))
    s, c = math.sin(alpha * theta), math.cos(alpha * theta)
    w1 = s / sin_theta
    dw1 = (d * s - alpha * c * sin_theta) / (sin_theta * sin_theta * sin_theta)
    return alpha * s / sin_theta - w1 - d * dw1, dw1


def quat_slerp_backward(q0: np.ndarray, q1: np.ndarray, alpha: float,
                        gq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dL/dq0, dL/dq1 from dL/dq for q = quat_slerp(q0, q1, alpha) (alpha a constant): through the normalisation
    (g - q (q . g)) / |q~|, the weights (q~ = w0 q0 + sign w1 q1) and the weights' dependence on d = |q0 . q1|."""
    dot = float(q0 @ q1)
    sign, d = (-1.0, -dot) if dot < 0.0 else (1.0, dot)
    if d >= SLERP_SERIES_DOT:
        w0, w1 = slerp_weight(1.0 - alpha, d - 1.0), slerp_weight(alpha, d - 1.0)
        dw0, dw1 = slerp_weight_backward(1.0 - alpha, d - 1.0), slerp_weight_backward(alpha, d - 1.0)
    else:
        theta = math.acos(d)
        sin_theta = math.sqrt((1.0 - d) * (1.0 + d))
        w1 = math.sin(alpha * theta) / sin_theta
        w0 = math.cos(alpha * theta) - d * w1
        dw0, dw1 = slerp_trig_weights_backward(d, alpha)
    q = w0 * q0 + (sign * w1) * q1
    n = math.sqrt(float(q @ q))
    o = q / n
    g = (gq - o * float(o @ gq)) / n
    gd = float(g @ q0) * dw0 + sign * float(g @ q1) * dw1
    return w0 * g + (sign * gd) * q1, (sign * w1) * g + (sign * gd) * q0


def quat_rotation_backward(q: np.ndarray, grad_w: np.ndarray) -> np.ndarray:
    """dL/dq (tangent to the unit sphere) of a unit quaternion whose rotation quat_to_mat(q) has dL/dw, w its change
    in its own frame: q (x) (1, w/2) turns R(q) into R(q) exp([w]x), so dL/dq = 2 q (x) (0, grad_w)."""
    w, v = q[0], q[1:]
    return 2.0 * np.concatenate([[-float(v @ grad_w)], w * grad_w + np.cross(v, grad_w)])


def interpolate_frame_backward(p0: np.ndarray, p1: np.ndarray, alpha: float, num_joints: int, grad_w: np.ndarray,
                               grad_t: np.ndarray):
    """interpolate_frame's backward for source pose rows p0, p1 (axis-angle, >= 3J) at weight alpha: dL/dw [J, 3]
    of the local rotations and dL/dt [3] -> dL/dp0, dL/dp1 [3J] and dL/dtrans0, dL/dtrans1 [3]."""
    g0, g1 = np.zeros(3 * num_joints), np.zeros(3 * num_joints)
    for j in range(num_joints):
        a0 = p0[3 * j:3 * j + 3]
        q0 = aa_to_quat(a0)
        if alpha == 0.0:
            g0[3 * j:3 * j + 3] = aa_to_quat_backward(a0, quat_rotation_backward(q0, grad_w[j]))
            continue
        a1 = p1[3 * j:3 * j + 3]
        q1 = aa_to_quat(a1)
        gq0, gq1 = quat_slerp_backward(q0, q1, alpha, quat_rotation_backward(quat_slerp(q0, q1, alpha), grad_w[j]))
        g0[3 * j:3 * j + 3] = aa_to_quat_backward(a0, gq0)
        g1[3 * j:3 * j + 3] = aa_to_quat_backward(a1, gq1)
    return g0, g1, (1.0 - alpha) * grad_t, alpha * grad_t


def canonical_point_backward(p: np.ndarray, frame: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """canonical_point's backward: dL/dout [3] -> dL/dp [3] and dL/d(cos, sin, origin x, y, z) [5] of the frame."""
    dx, dy, dz = p - frame[FR_ORIGIN:FR_ORIGIN + 3]
    c, s, k = frame[FR_COS], frame[FR_SIN], frame[FR_SCALE]
    gp = np.array([k * (c * g[0] - s * g[1]), k * (s * g[0] + c * g[1]), k * g[2]])
    return gp, np.array([k * (dx * g[0] + dy * g[1]), k * (dy * g[0] - dx * g[1]), -gp[0], -gp[1], -gp[2]])


def frame_joints3d_backward(world: np.ndarray, frame: np.ndarray, up: int,
                            g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """frame_joints3d's backward: dL/dout [22, 3] -> dL/dworld [22, 3], dL/dframe [5] (canonical_point_backward)."""
    if up == UP_Y:
        g = np.stack([g[:, 0], -g[:, 2], g[:, 1]], axis=1)
    gw, gf = np.empty((NUM_BODY_JOINTS, 3)), np.zeros(5)
    for j in range(NUM_BODY_JOINTS):
        gw[j], f = canonical_point_backward(world[j], frame, g[j])
        gf += f
    return gw, gf


def frame_joints2d_backward(world: np.ndarray, frame: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """frame_joints2d's backward: dL/dout [22, 2] -> dL/dworld [22, 3], dL/dframe [5]. Perspective: with
    e = dL/d(out) through (r, u), dL/dq_j = k e_j + (dL/dk_j) (-distance / z_j^2) d (zero where z is clamped to NEAR_M),
    dL/dt = sum (e_j - dL/dq_j), and t's (x, y) is the mean of the hips."""
    P = np.stack([canonical_point(world[j], frame) for j in range(NUM_BODY_JOINTS)])
    r, u, d = (frame[i:i + 3] for i in (FR_RIGHT, FR_UP, FR_FORWARD))
    e = g[:, :1] * r + g[:, 1:] * u
    if frame[FR_PERSP] == 0.0:
        gP = e
    else:
        t = np.array([0.5 * (P[L_HIP, 0] + P[R_HIP, 0]), 0.5 * (P[L_HIP, 1] + P[R_HIP, 1]), frame[FR_TARGET]])
        q = P - t
        zr = q @ d + frame[FR_DISTANCE]
        z = np.maximum(zr, NEAR_M)
        k = frame[FR_DISTANCE] / z
        gk = g[:, 0] * (q @ r) + g[:, 1] * (q @ u)
        gz = np.where(zr < NEAR_M, 0.0, -gk * frame[FR_DISTANCE] / (z * z))
        gq = k[:, None] * e + gz[:, None] * d
        gt = (e - gq).sum(0)
        gP = gq
        gP[L_HIP, :2] += 0.5 * gt[:2]
        gP[R_HIP, :2] += 0.5 * gt[:2]
    gw, gf = np.empty((NUM_BODY_JOINTS, 3)), np.zeros(5)
    for j in range(NUM_BODY_JOINTS):
        gw[j], f = canonical_point_backward(world[j], frame, gP[j])
        gf += f
    return gw, gf


def clip_frame_backward(first: np.ndarray, gf: np.ndarray) -> np.ndarray:
    """clip_frame's backward for the frame's (cos, sin, origin x, origin y) [>=4] -> dL/dfirst [22, 3] (the hips;
    the origin's z, the lowest ankle, is the caller's). Hips vertical (no facing): cos and sin are constants."""
    out = np.zeros((NUM_BODY_JOINTS, 3))
    lx, ly = first[L_HIP, 0] - first[R_HIP, 0], first[L_HIP, 1] - first[R_HIP, 1]
    n = math.sqrt(lx * lx + ly * ly)
    if n >= 1e-9:
        c, s = lx / n, ly / n
        m = c * gf[0] + s * gf[1]
        glx, gly = (gf[0] - c * m) / n, (gf[1] - s * m) / n
        out[L_HIP, :2] += (glx, gly)
        out[R_HIP, :2] -= (glx, gly)
    out[L_HIP, :2] += 0.5 * gf[2:4]
    out[R_HIP, :2] += 0.5 * gf[2:4]
    return out


# ---------------------------------------------------------------------------------------------------------------
# Whole-array entry points (same signatures as the public ones in amass_fast.kernels, float64 NumPy only).


def fk(poses: np.ndarray, trans: np.ndarray, rest_joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """poses [F, >=3J] axis-angle, trans [F, 3], rest_joints [J, 3], parents [J] -> joints [F, J, 3]."""
    poses, trans, rest = (np.asarray(a, dtype=np.float64) for a in (poses, trans, rest_joints))
    J = rest.shape[0]
    out = np.empty((poses.shape[0], J, 3))
    for f in range(poses.shape[0]):
        rot = np.stack([rodrigues(poses[f, 3 * j:3 * j + 3]) for j in range(J)])
        out[f] = joint_chain(rot, rest, parents, trans[f])
    return out


def fk_backward(poses: np.ndarray, trans: np.ndarray, rest_joints: np.ndarray, parents: np.ndarray,
                grad_joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fk's gradients: dL/djoints [F, J, 3] -> (dL/dposes [F, P] (columns past 3J zero), dL/dtrans [F, 3], each
    frame's part of dL/drest_joints [F, J, 3]: their sum over frames is the gradient)."""
    poses, trans, rest = (np.asarray(a, dtype=np.float64) for a in (poses, trans, rest_joints))
    grad_joints = np.asarray(grad_joints, dtype=np.float64)
    F, J = poses.shape[0], rest.shape[0]
    grad_poses, grad_trans, grad_rest = np.zeros(poses.shape), np.empty((F, 3)), np.empty((F, J, 3))
    for f in range(F):
        aa = poses[f, :3 * J].reshape(J, 3)
        p, G = joint_chain_world(np.stack([rodrigues(a) for a in aa]), rest, parents, trans[f])
        grad_w, grad_trans[f], grad_rest[f] = joint_chain_backward(G, p, rest, parents, grad_joints[f])
        for j in range(J):
            grad_poses[f, 3 * j:3 * j + 3] = rodrigues_backward(aa[j], grad_w[j])
    return grad_poses, grad_trans, grad_rest


def resample_poses(poses: np.ndarray, trans: np.ndarray, src_fps: float, dst_fps: float = 25.0):
    """Every joint slerped, translation lerped, by time -> (poses [T, P], trans [T, 3])."""
    poses, trans = np.asarray(poses, dtype=np.float64), np.asarray(trans, dtype=np.float64)
    F, P = poses.shape
    T = resampled_length(F, src_fps, dst_fps)
    out_p, out_t = np.empty((T, P)), np.empty((T, 3))
    for k in range(T):
        i0, i1, alpha = source_position(k, F, src_fps, dst_fps)
        for j in range(P // 3):
            q = quat_slerp(aa_to_quat(poses[i0, 3 * j:3 * j + 3]), aa_to_quat(poses[i1, 3 * j:3 * j + 3]), alpha)
            out_p[k, 3 * j:3 * j + 3] = quat_to_aa(q)
        out_t[k] = (1.0 - alpha) * trans[i0] + alpha * trans[i1]
    return out_p, out_t


def project(joints: np.ndarray, yaw_deg: float = 0.0, view_mode: int = VIEW_FRONT) -> np.ndarray:
    """World joints of one clip [F, >=22, 3] -> sticks [F, 20]."""
    joints = np.asarray(joints, dtype=np.float64)
    kps = np.stack([stick_keypoints(j) for j in joints])
    min_z = float(np.min(kps[:, [KP_L_ANKLE, KP_R_ANKLE], 2]))
    cam = clip_camera(kps[0], min_z, yaw_deg, view_mode)
    return np.stack([project_keypoints(kp, cam, view_mode) for kp in kps])


def _clip_world_joints(poses: np.ndarray, trans: np.ndarray, seq_offsets, seq_fps, rest: np.ndarray, parents,
                       clip_seq, clip_start, clip_len, c: int, dst_fps: float) -> np.ndarray:
    """World body joints [clip_len[c], 22, 3] of the valid output frames of clip c (convert_batch's arguments)."""
    s = int(clip_seq[c])
    a, b = int(seq_offsets[s]), int(seq_offsets[s + 1])
    world = np.empty((int(clip_len[c]), NUM_BODY_JOINTS, 3))
    for k in range(len(world)):
        i0, i1, alpha = source_position(int(clip_start[c]) + k, b - a, float(seq_fps[s]), dst_fps)
        rot, t = interpolate_frame(poses[a:b], trans[a:b], i0, i1, alpha, NUM_BODY_JOINTS)
        world[k] = joint_chain(rot, rest[s, :NUM_BODY_JOINTS], parents, t)
    return world


def convert_batch(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len,
                  clip_yaw, *, dst_fps: float = 25.0, window: int = 250, view_mode: int = VIEW_FRONT) -> np.ndarray:
    """Ragged batch: S sequences concatenated along frames, C clips (windows) over them.

    poses [N, >=66], trans [N, 3]: all sequences' source frames concatenated.
    seq_offsets int64 [S + 1]: sequence s owns frames seq_offsets[s] : seq_offsets[s + 1].
    seq_fps float64 [S]: each sequence's own frame rate.  rest_joints [S, >=22, 3]: each sequence's skeleton.
    parents int64 [>=22]: the chain (only the 22 body joints are evaluated).
    clip_seq int64 [C], clip_start int64 [C] (first output frame, in dst_fps frames from the sequence start),
    clip_len int64 [C] (valid frames, 1..window), clip_yaw float64 [C] (camera yaw, degrees).
    Returns motion [C, window, 20]; frames at and past clip_len hold the last valid frame.
    """
    poses, trans, rest = (np.asarray(a, dtype=np.float64) for a in (poses, trans, rest_joints))
    out = np.empty((len(clip_seq), window, STICK_DIM))
    for c in range(len(clip_seq)):
        world = _clip_world_joints(poses, trans, seq_offsets, seq_fps, rest, parents, clip_seq, clip_start,
                                   clip_len, c, dst_fps)
        out[c] = project(world, float(clip_yaw[c]), view_mode)[np.minimum(np.arange(window), len(world) - 1)]
    return out


def convert_joints_batch(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len,
                         clip_scale, clip_camera, *, dst_fps: float = 25.0, window: int = 250, up: int = UP_Z,
                         dim: int = 3) -> np.ndarray:
    """The clips of convert_batch as joints3d [C, window, 22, 3] (dim 3, canonical frame, ``up``) or joints2d
    [C, window, 22, 2] (dim 2, through clip_camera [C, 6] packed cameras); clip_scale [C] multiplies the canonical
    joints. Frames at and past clip_len hold the last valid frame."""
    poses, trans, rest = (np.asarray(a, dtype=np.float64) for a in (poses, trans, rest_joints))
    out = np.empty((len(clip_seq), window, NUM_BODY_JOINTS, dim))
    for c in range(len(clip_seq)):
        world = _clip_world_joints(poses, trans, seq_offsets, seq_fps, rest, parents, clip_seq, clip_start,
                                   clip_len, c, dst_fps)
        n = len(world)
        min_z = float(np.min(world[:, [L_ANKLE, R_ANKLE], 2]))
        frame = clip_frame(world[0], min_z, float(clip_scale[c]), np.asarray(clip_camera[c], dtype=np.float64))
        for k in range(window):
            w = world[min(k, n - 1)]
            out[c, k] = frame_joints3d(w, frame, up) if dim == 3 else frame_joints2d(w, frame)
    return out


def lowest_ankle(world: np.ndarray) -> tuple[int, int]:
    """(frame, joint) of a clip's lowest ankle over its valid frames world [n, 22, 3]: the first frame that is
    strictly lower than all before it; in a frame the left ankle when it is strictly lower, else the right (the
    order of the forward's comparisons, so that the gradient goes where the minimum was taken)."""
    best, where = math.inf, (0, R_ANKLE)
    for k in range(len(world)):
        j = L_ANKLE if world[k, L_ANKLE, 2] < world[k, R_ANKLE, 2] else R_ANKLE
        if k == 0 or world[k, j, 2] < best:
            best, where = world[k, j, 2], (k, j)
    return where


def convert_joints_batch_backward(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start,
                                  clip_len, clip_scale, clip_camera, grad_out, *, dst_fps: float = 25.0,
                                  up: int = UP_Z) -> tuple[np.ndarray, np.ndarray]:
    """convert_joints_batch's gradients w.r.t. poses and trans: dL/dout [C, window, 22, dim] (dim 3: joints3d,
    2: joints2d) -> (dL/dposes [N, P] (columns past 66 zero), dL/dtrans [N, 3]). Padding frames pass their gradient
    to the last valid frame; the clip's frame (facing and origin from the first frame's hips, floor from the lowest
    ankle) passes its gradient back to those joints."""
    poses, trans, rest = (np.asarray(a, dtype=np.float64) for a in (poses, trans, rest_joints))
    grad_out = np.asarray(grad_out, dtype=np.float64)
    window, dim = grad_out.shape[1], grad_out.shape[-1]
    grad_poses, grad_trans = np.zeros(poses.shape), np.zeros(trans.shape)
    J = NUM_BODY_JOINTS
    for c in range(len(clip_seq)):
        world = _clip_world_joints(poses, trans, seq_offsets, seq_fps, rest, parents, clip_seq, clip_start,
                                   clip_len, c, dst_fps)
        n = len(world)
        min_z = float(np.min(world[:, [L_ANKLE, R_ANKLE], 2]))
        frame = clip_frame(world[0], min_z, float(clip_scale[c]), np.asarray(clip_camera[c], dtype=np.float64))
        gworld, gframe = np.zeros_like(world), np.zeros(5)
        for k in range(window):
            src = min(k, n - 1)
            if dim == 3:
                gw, gf = frame_joints3d_backward(world[src], frame, up, grad_out[c, k])
            else:
                gw, gf = frame_joints2d_backward(world[src], frame, grad_out[c, k])
            gworld[src] += gw
            gframe += gf
        gworld[0] += clip_frame_backward(world[0], gframe)
        kz, jz = lowest_ankle(world)
        gworld[kz, jz, 2] += gframe[4]
        s = int(clip_seq[c])
        a, b = int(seq_offsets[s]), int(seq_offsets[s + 1])
        for k in range(n):
            i0, i1, alpha = source_position(int(clip_start[c]) + k, b - a, float(seq_fps[s]), dst_fps)
            rot, t = interpolate_frame(poses[a:b], trans[a:b], i0, i1, alpha, J)
            p, G = joint_chain_world(rot, rest[s, :J], parents[:J], t)
            grad_w, grad_t, _ = joint_chain_backward(G, p, rest[s, :J], parents[:J], gworld[k])
            g0, g1, t0, t1 = interpolate_frame_backward(poses[a + i0], poses[a + i1], alpha, J, grad_w, grad_t)
            grad_poses[a + i0, :3 * J] += g0
            grad_poses[a + i1, :3 * J] += g1
            grad_trans[a + i0] += t0
            grad_trans[a + i1] += t1
    return grad_poses, grad_trans
