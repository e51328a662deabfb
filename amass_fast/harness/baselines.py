"""The strongest plain-torch alternatives to ``convert_batch`` and ``fk``: what a capable user would write instead.

``torch_fk`` / ``compiled_torch_fk``: ``af.fk`` in plain torch (differentiable), the baseline of the FK forward
and forward+backward benchmarks.


Written the way motion-model codebases resample and pose SMPL bodies (resample first, then joints-only forward
kinematics), but batched over every sequence at once rather than looping over files:

1. resample by time to ``dst_fps``: for every output frame of every clip, the two neighbouring source frames and
   the weight (the same rule as the kernels: t = k / dst_fps, no drift), then quaternion slerp of the 22 body joint
   rotations (lerp-and-normalise where the two rotations are within ~2.6 degrees) and lerp of the translation;
2. forward kinematics of the 22 body joints, one batched matmul per joint down the chain;
3. the stick5 keypoints, each clip's camera (body's left axis at its first frame, lowest ankle of the clip) and the
   orthographic projection; padded frames hold the last valid frame.

The output equals ``convert_batch``'s (same arguments, same [C, window, 20] layout) to float32 rounding; the
benchmarks check that before timing. ``compiled_torch_pipeline`` is the same function under ``torch.compile``.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from amass_fast.kernels.reference import (BODY_PARENTS, HEAD, L_ANKLE, L_HIP, L_SHOULDER, L_WRIST, NUM_BODY_JOINTS,
                                          R_ANKLE, R_HIP, R_SHOULDER, R_WRIST)

_LERP_DOT = 0.9995  # above this quaternion dot product, normalised lerp (the usual slerp implementation's switch)


def chain_levels(parents) -> list:
    """The kinematic tree by depth: [(joints at depth d, their parents' positions within depth d - 1)], so that a
    chain can run one batched step per depth instead of one per joint (SMPL+H: 15 steps for 52 joints)."""
    parents = [int(q) for q in parents]
    depth = [0] * len(parents)
    for j in range(1, len(parents)):
        depth[j] = depth[parents[j]] + 1
    levels = [[j for j in range(len(parents)) if depth[j] == d] for d in range(max(depth) + 1)]
    pos = {j: i for level in levels for i, j in enumerate(level)}
    return [(level, [pos[parents[j]] for j in level] if d else []) for d, level in enumerate(levels)]


def rodrigues(aa):
    """Rotation matrices [..., 3, 3] of axis-angles [..., 3], with the kernels' series below 1e-4 rad (so that the
    gradient at the zero pose is finite)."""
    import torch

    t2 = (aa * aa).sum(-1, keepdim=True)
    small = t2 < 1e-8
    t = torch.sqrt(torch.where(small, 1.0, t2))
    a = torch.where(small, 1.0 - t2 / 6.0, torch.sin(t) / t)
    b = torch.where(small, 0.5 - t2 / 24.0, (1.0 - torch.cos(t)) / torch.where(small, 1.0, t2))
    x, y, z = aa.unbind(-1)
    a, b = a[..., 0], b[..., 0]
    return torch.stack([1 - b * (y * y + z * z), b * x * y - a * z, b * x * z + a * y,
                        b * x * y + a * z, 1 - b * (x * x + z * z), b * y * z - a * x,
                        b * x * z - a * y, b * y * z + a * x, 1 - b * (x * x + y * y)], dim=-1).reshape(
        *aa.shape[:-1], 3, 3)


def torch_fk(poses, trans, rest, parents, levels: Optional[list] = None):
    """``af.fk`` in plain torch, differentiable: joints [F, J, 3] from poses [F, >=3J], trans [F, 3], rest [J, 3].
    Batched Rodrigues, then the chain one depth of the tree at a time (``chain_levels``; per joint is slower in
    eager and no faster compiled, see BENCHMARKS.md)."""
    import torch

    F, J = poses.shape[0], rest.shape[0]
    R = rodrigues(poses[:, :3 * J].reshape(F, J, 3))
    levels = levels or chain_levels(parents)
    par = torch.as_tensor(np.asarray(parents)[:J])
    offsets = torch.cat([rest[:1], rest[1:] - rest[par[1:]]])  # rest_j - rest_parent, once for all frames
    root = levels[0][0]
    G, p = R[:, root], rest[root] + trans[:, None]
    Gs, ps = [G], [p]
    for joints, up in levels[1:]:
        Gq, pq = G[:, up], p[:, up]
        p = pq + torch.matmul(Gq, offsets[joints][:, :, None])[..., 0]
        G = torch.matmul(Gq, R[:, joints])
        Gs.append(G)
        ps.append(p)
    order = torch.as_tensor(np.argsort([j for joints, _ in levels for j in joints]))
    return torch.cat(ps, dim=1)[:, order]


def compiled_torch_fk(parents) -> Callable:
    """``torch_fk`` for one skeleton under ``torch.compile`` (the first call compiles: time it apart)."""
    import torch

    levels = chain_levels(parents)
    fn = torch.compile(lambda poses, trans, rest: torch_fk(poses, trans, rest, parents, levels))
    return fn


def frame_plan(seq_offsets, seq_fps, clip_seq, clip_start, clip_len, *, dst_fps: float = 25.0):
    """Index arrays for every valid output frame of every clip (NumPy, cheap): global source rows i0 and i1, the
    weight of i1, and the clip of each frame. Same timing rule as the kernels (``reference.source_position``)."""
    clip_seq, clip_start, clip_len = (np.asarray(a, dtype=np.int64) for a in (clip_seq, clip_start, clip_len))
    offsets, fps = np.asarray(seq_offsets, dtype=np.int64), np.asarray(seq_fps, dtype=np.float64)
    clip_of = np.repeat(np.arange(len(clip_len)), clip_len)
    first = np.cumsum(clip_len) - clip_len
    k = clip_start[clip_of] + (np.arange(len(clip_of)) - first[clip_of])
    seq = clip_seq[clip_of]
    frames = offsets[seq + 1] - offsets[seq]
    s = k * fps[seq] / dst_fps
    i0 = np.floor(s).astype(np.int64)
    alpha = s - i0
    last = i0 >= frames - 1
    i0 = np.where(last, frames - 1, i0)
    alpha = np.where(last, 0.0, alpha)
    i1 = np.minimum(i0 + 1, frames - 1)
    return offsets[seq] + i0, offsets[seq] + i1, alpha, clip_of, seq


def _aa_to_quat(aa):
    import torch

    angle = torch.linalg.vector_norm(aa, dim=-1, keepdim=True)
    half = 0.5 * angle
    small = angle < 1e-4
    scale = torch.where(small, 0.5 - angle * angle / 48.0, torch.sin(half) / torch.where(small, 1.0, angle))
    return torch.cat([torch.cos(half), aa * scale], dim=-1)


def _slerp(q0, q1, alpha):
    import torch

    d = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(d < 0, -q1, q1)
    d = d.abs().clamp(max=1.0)
    theta = torch.acos(d)
    sin_theta = torch.sin(theta)
    near = d > _LERP_DOT
    safe = torch.where(near, 1.0, sin_theta)
    w0 = torch.where(near, 1.0 - alpha, torch.sin((1.0 - alpha) * theta) / safe)
    w1 = torch.where(near, alpha, torch.sin(alpha * theta) / safe)
    q = w0 * q0 + w1 * q1
    return q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)


def _quat_to_mat(q):
    import torch

    w, x, y, z = q.unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], dim=-1).reshape(*q.shape[:-1], 3, 3)


def posed_keypoints(poses, trans, rest, i0, i1, alpha, seq):
    """Steps 1-2 and the keypoints for every planned frame: (points [N, 7, 3], left axis [N, 3]). Torch tensors:
    poses [F, >=66], trans [F, 3], rest [S, >=22, 3], i0/i1/seq int64 [N], alpha [N]."""
    import torch

    aa = poses[:, :3 * NUM_BODY_JOINTS].reshape(-1, NUM_BODY_JOINTS, 3)
    a = alpha.to(poses.dtype)[:, None]
    rot = _quat_to_mat(_slerp(_aa_to_quat(aa[i0]), _aa_to_quat(aa[i1]), a[:, :, None]))
    t = (1.0 - a) * trans[i0] + a * trans[i1]
    rest = rest[seq, :NUM_BODY_JOINTS]
    G = [rot[:, 0]]
    p = [rest[:, 0] + t]
    for j in range(1, NUM_BODY_JOINTS):
        q = int(BODY_PARENTS[j])
        p.append(p[q] + torch.matmul(G[q], (rest[:, j] - rest[:, q])[:, :, None])[:, :, 0])
        G.append(torch.matmul(G[q], rot[:, j]))
    points = torch.stack([p[HEAD], 0.5 * (p[L_SHOULDER] + p[R_SHOULDER]), p[L_WRIST], p[R_WRIST],
                          0.5 * (p[L_HIP] + p[R_HIP]), p[L_ANKLE], p[R_ANKLE]], dim=1)
    return points, p[L_HIP] - p[R_HIP]


def project_clips(points, left, clip_of, clip_len, clip_yaw, window: int):
    """Step 3: per-clip front camera and projection -> motion [C, window, 20] (torch)."""
    import torch

    C = len(clip_len)
    lengths = torch.as_tensor(np.asarray(clip_len), device=points.device)
    first = torch.cumsum(lengths, 0) - lengths
    clip_of = torch.as_tensor(clip_of, device=points.device)
    ankle_z = torch.minimum(points[:, 5, 2], points[:, 6, 2])
    min_z = torch.full((C,), float("inf"), dtype=points.dtype, device=points.device).scatter_reduce(
        0, clip_of, ankle_z, reduce="amin")
    lx, ly = left[first, 0], left[first, 1]
    n = torch.sqrt(lx * lx + ly * ly)
    flat = n < 1e-9
    lx, ly, n = torch.where(flat, 1.0, lx), torch.where(flat, 0.0, ly), torch.where(flat, 1.0, n)
    yaw = torch.deg2rad(torch.as_tensor(np.asarray(clip_yaw), dtype=points.dtype, device=points.device))
    c, s = torch.cos(yaw), torch.sin(yaw)
    rx, ry = c * lx / n - s * ly / n, s * lx / n + c * ly / n
    origin = points[first, 4]
    rel = points - torch.stack([origin[:, 0], origin[:, 1], min_z], dim=1)[clip_of][:, None, :]
    sx = rel[..., 0] * rx[clip_of, None] + rel[..., 1] * ry[clip_of, None]
    screen = torch.stack([sx, rel[..., 2]], dim=-1)  # [N, 7, 2]
    lines = screen[:, [0, 1, 1, 2, 1, 3, 4, 5, 4, 6]].reshape(-1, 20)  # head-neck, neck-wrists, pelvis-ankles
    k = torch.arange(window, device=points.device)
    rows = first[:, None] + torch.minimum(k[None, :], lengths[:, None] - 1)
    return lines[rows]


def torch_pipeline(poses, trans, seq_offsets, seq_fps, rest_joints, clip_seq, clip_start, clip_len, clip_yaw, *,
                   dst_fps: float = 25.0, window: int = 250, posing: Optional[Callable] = None):
    """``convert_batch``'s output computed in plain torch, batched over every clip: motion [C, window, 20].
    Arrays may be NumPy or torch; the result is a torch tensor of ``poses``' dtype."""
    import torch

    poses, trans, rest = (torch.as_tensor(a) for a in (poses, trans, rest_joints))
    i0, i1, alpha, clip_of, seq = frame_plan(seq_offsets, seq_fps, clip_seq, clip_start, clip_len, dst_fps=dst_fps)
    device = poses.device
    points, left = (posing or posed_keypoints)(
        poses, trans.to(poses.dtype), rest.to(poses.dtype), torch.as_tensor(i0, device=device),
        torch.as_tensor(i1, device=device), torch.as_tensor(alpha, device=device), torch.as_tensor(seq, device=device))
    return project_clips(points, left, clip_of, clip_len, clip_yaw, window)


def compiled_torch_pipeline() -> Callable:
    """``torch_pipeline`` with its per-frame part (slerp, FK, keypoints) under ``torch.compile``; the first call
    compiles (time it apart)."""
    import torch

    posing = torch.compile(posed_keypoints, dynamic=True)

    def run(*args, **kwargs):
        return torch_pipeline(*args, posing=posing, **kwargs)
    return run

