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


def fk_plan(parents, num_joints: int) -> tuple:
    """What ``torch_fk`` needs of a skeleton, computed once outside any compiled graph: the chain's depths
    (``chain_levels``), the parents [J] and the order that puts the joints back, as tensors."""
    import torch

    parents = np.array(parents[:num_joints], dtype=np.int64)  # a writable copy: torch.compile refuses read-only
    levels = chain_levels(parents)
    order = torch.as_tensor(np.argsort([j for joints, _ in levels for j in joints]))
    return levels, torch.as_tensor(parents), order


def torch_fk(poses, trans, rest, parents, plan: Optional[tuple] = None):
    """``af.fk`` in plain torch, differentiable: joints [F, J, 3] from poses [F, >=3J], trans [F, 3], rest [J, 3].
    Batched Rodrigues, then the chain one depth of the tree at a time (``chain_levels``; per joint is slower in
    eager and no faster compiled, see BENCHMARKS.md). ``plan``: ``fk_plan(parents, J)``, made here if not given."""
    import torch

    F, J = poses.shape[0], rest.shape[0]
    R = rodrigues(poses[:, :3 * J].reshape(F, J, 3))
    levels, par, order = plan or fk_plan(parents, J)
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
    return torch.cat(ps, dim=1)[:, order]


def compiled_torch_fk(parents) -> Callable:
    """``torch_fk`` for one skeleton (all of ``parents``) under ``torch.compile`` (the first call compiles: time it
    apart)."""
    import torch

    plan = fk_plan(parents, len(parents))
    fn = torch.compile(lambda poses, trans, rest: torch_fk(poses, trans, rest, parents, plan))
    return fn


def torch_fk_unrolled(poses, trans, rest, parents):
    """``af.fk`` in plain torch, one scalar expression per matrix entry (each joint's rotation as 9 [F] tensors, the
    chain unrolled joint by joint with Python-int parents): slower eager, but torch.compile fuses it into loops
    without matmul or gather, the fastest compiled forward+backward measured (BENCHMARKS.md)."""
    import torch

    J = rest.shape[0]
    parents = [int(q) for q in parents]
    x, y, z = poses[:, :3 * J].reshape(-1, J, 3).unbind(-1)
    t2 = x * x + y * y + z * z
    small = t2 < 1e-8
    t = torch.sqrt(torch.where(small, 1.0, t2))
    a = torch.where(small, 1.0 - t2 / 6.0, torch.sin(t) / t)
    b = torch.where(small, 0.5 - t2 / 24.0, (1.0 - torch.cos(t)) / torch.where(small, 1.0, t2))
    R = [1 - b * (y * y + z * z), b * x * y - a * z, b * x * z + a * y, b * x * y + a * z, 1 - b * (x * x + z * z),
         b * y * z - a * x, b * x * z - a * y, b * y * z + a * x, 1 - b * (x * x + y * y)]
    G, P = [None] * J, [None] * J
    G[0] = [r[:, 0] for r in R]
    P[0] = [rest[0, i] + trans[:, i] for i in range(3)]
    for j in range(1, J):
        q = parents[j]
        g, o = G[q], rest[j] - rest[q]
        P[j] = [P[q][i] + g[3 * i] * o[0] + g[3 * i + 1] * o[1] + g[3 * i + 2] * o[2] for i in range(3)]
        r = [m[:, j] for m in R]
        G[j] = [g[3 * i] * r[k] + g[3 * i + 1] * r[3 + k] + g[3 * i + 2] * r[6 + k] for i in range(3) for k in range(3)]
    return torch.stack([torch.stack(p, -1) for p in P], 1)


def compiled_torch_fk_unrolled(parents) -> Callable:
    """``torch_fk_unrolled`` for one skeleton under ``torch.compile`` (first call compiles: 52 joints ~10 s)."""
    import torch

    parents = [int(q) for q in parents]
    return torch.compile(lambda poses, trans, rest: torch_fk_unrolled(poses, trans, rest, parents))


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


def chain_plan(parents, needed) -> dict:
    """What the chain evaluates for the joints ``needed`` (closed over their ancestors): the joints in order of
    depth, the rotations it needs (only joints with a needed child: a leaf's rotation moves nothing), and per depth
    the index arrays of one batched step. stick5 needs 20 of the 22 body joints and 15 of their rotations."""
    parents = [int(q) for q in parents]
    keep = set()
    for j in needed:
        while j >= 0 and j not in keep:
            keep.add(j)
            j = parents[j]
    depth = {0: 0}
    for j in sorted(keep)[1:]:
        depth[j] = depth[parents[j]] + 1
    levels = [sorted(j for j in keep if depth[j] == d) for d in range(max(depth.values()) + 1)]
    rot = [j for level in levels for j in level if any(parents[k] == j for k in keep if k)]
    order = [j for level in levels for j in level]
    steps = []
    for d in range(1, len(levels)):
        prev_rot = [j for j in levels[d - 1] if j in rot]
        here = levels[d]
        steps.append(dict(joints=here, up_p=[levels[d - 1].index(parents[j]) for j in here],
                          up_g=[prev_rot.index(parents[j]) for j in here],
                          keep_g=[i for i, j in enumerate(here) if j in rot],
                          rot_idx=[rot.index(j) for j in here if j in rot]))
    import torch

    steps = [{k: (v if k == "joints" else torch.as_tensor(v, dtype=torch.long)) for k, v in s.items()} for s in steps]
    return dict(joints=order, rot=rot, steps=steps, parents=parents)


def sequence_offsets(rest, parents, joints):
    """Per sequence, each joint's offset from its parent in the rest pose (rest [S, >=J, 3] -> [S, len(joints), 3]),
    computed once per sequence rather than once per frame (the root keeps its position)."""
    import torch

    idx = torch.as_tensor(joints)
    par = torch.as_tensor([max(int(parents[j]), 0) for j in joints])
    off = rest[:, idx] - rest[:, par]
    return torch.where((idx == 0)[None, :, None], rest[:, idx], off)


def chain_joints(R, offsets, root, plan):
    """The chain of ``chain_plan``, one batched step per depth: R [N, len(rot), 3, 3] local rotations (plan's rot
    order), offsets [N or 1, len(joints), 3] (plan's joint order), root [N, 3] (root position) -> positions
    [N, len(joints), 3] in plan's joint order."""
    import torch

    G, p = R[:, :1], root[:, None]
    ps, k = [p], 1
    for step in plan["steps"]:
        n = len(step["joints"])
        Gq = G.index_select(1, step["up_g"])
        p = p.index_select(1, step["up_p"]) + (Gq * offsets[:, k:k + n, None, :]).sum(-1)
        k += n
        if len(step["keep_g"]):
            G = torch.matmul(Gq.index_select(1, step["keep_g"]), R.index_select(1, step["rot_idx"]))
        ps.append(p)
    return torch.cat(ps, dim=1)


STICK5_JOINTS = (HEAD, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST, L_HIP, R_HIP, L_ANKLE, R_ANKLE)


_PLANS: dict = {}


def _plan(which: str) -> dict:
    """The chain plans of stick5 and of the 22 body joints, built once (before torch.compile traces a caller)."""
    if which not in _PLANS:
        _PLANS[which] = chain_plan(BODY_PARENTS, STICK5_JOINTS if which == "stick5" else range(NUM_BODY_JOINTS))
    return _PLANS[which]


def resampled_joints(poses, trans, offsets, i0, i1, alpha, seq, plan):
    """Resample first (slerp of only the rotations the chain needs, lerp of trans), then the chain: world positions
    [N, len(plan joints), 3] in plan's joint order. offsets: ``sequence_offsets`` [S, J, 3], gathered once per
    frame (one index, not one per joint)."""
    rot = plan["rot"]
    cols = (3 * torch_long(rot, poses.device)[:, None] + torch_long([0, 1, 2], poses.device)).reshape(-1)
    a = alpha.to(poses.dtype)[:, None]
    rows = torch_cat_rows(i0, i1)
    q = _aa_to_quat(poses[rows[:, None], cols[None, :]].reshape(-1, len(rot), 3))
    n = len(i0)
    R = _quat_to_mat(_slerp(q[:n], q[n:], a[:, :, None]))
    t = (1.0 - a) * trans[i0] + a * trans[i1]
    return chain_joints(R, offsets[seq], offsets[seq, 0] + t, plan)


def torch_long(values, device):
    import torch

    return torch.as_tensor(values, dtype=torch.long, device=device)


def torch_cat_rows(i0, i1):
    import torch

    return torch.cat([i0, i1])


def grouped_keypoints(poses, trans, rest, i0, i1, alpha, seq):
    """stick5's keypoints from ``resampled_joints`` with the stick's 20-joint, 15-rotation plan: (points [N, 7, 3],
    left axis [N, 3]), as posed_keypoints returns them (same arguments)."""
    import torch

    plan = _plan("stick5")
    offsets = sequence_offsets(rest, BODY_PARENTS, plan["joints"])
    p = resampled_joints(poses, trans, offsets, i0, i1, alpha, seq, plan)
    at = {j: i for i, j in enumerate(plan["joints"])}
    g = lambda j: p[:, at[j]]  # noqa: E731
    points = torch.stack([g(HEAD), 0.5 * (g(L_SHOULDER) + g(R_SHOULDER)), g(L_WRIST), g(R_WRIST),
                          0.5 * (g(L_HIP) + g(R_HIP)), g(L_ANKLE), g(R_ANKLE)], dim=1)
    return points, g(L_HIP) - g(R_HIP)


def world_body_joints(poses, trans, rest, i0, i1, alpha, seq):
    """All 22 body joints [N, 22, 3] (joint order) of every planned frame, resample first."""
    plan = _plan("body")
    offsets = sequence_offsets(rest, BODY_PARENTS, plan["joints"])
    p = resampled_joints(poses, trans, offsets, i0, i1, alpha, seq, plan)
    return p[:, np.argsort(plan["joints"])]


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


POSINGS = {"grouped": grouped_keypoints, "per-frame rest": posed_keypoints}  # the variants BENCHMARKS.md compares


def _planned(poses, trans, rest_joints, seq_offsets, seq_fps, clip_seq, clip_start, clip_len, dst_fps):
    import torch

    poses = torch.as_tensor(poses)
    trans, rest = (torch.as_tensor(a).to(poses.dtype) for a in (trans, rest_joints))
    i0, i1, alpha, clip_of, seq = frame_plan(seq_offsets, seq_fps, clip_seq, clip_start, clip_len, dst_fps=dst_fps)
    device = poses.device
    idx = [torch.as_tensor(a, device=device) for a in (i0, i1, alpha, seq)]
    return poses, trans, rest, idx, clip_of


def torch_pipeline(poses, trans, seq_offsets, seq_fps, rest_joints, clip_seq, clip_start, clip_len, clip_yaw, *,
                   dst_fps: float = 25.0, window: int = 250, posing: Optional[Callable] = None):
    """``convert_batch``'s output computed in plain torch, batched over every clip: motion [C, window, 20].
    Arrays may be NumPy or torch; the result is a torch tensor of ``poses``' dtype. posing: the per-frame part
    (default ``grouped_keypoints``, the fastest measured; ``POSINGS`` lists the others)."""
    poses, trans, rest, idx, clip_of = _planned(poses, trans, rest_joints, seq_offsets, seq_fps, clip_seq,
                                                clip_start, clip_len, dst_fps)
    points, left = (posing or grouped_keypoints)(poses, trans, rest, *idx)
    return project_clips(points, left, clip_of, clip_len, clip_yaw, window)


def compiled_torch_pipeline(posing: Optional[Callable] = None) -> Callable:
    """``torch_pipeline`` with its per-frame part (slerp, FK, keypoints) under ``torch.compile``; the first call
    compiles (time it apart)."""
    import torch

    _plan("stick5")
    posing = torch.compile(posing or grouped_keypoints, dynamic=True)

    def run(*args, **kwargs):
        return torch_pipeline(*args, posing=posing, **kwargs)
    return run


def canonical_clips(world, clip_of, clip_len, window: int, clip_scale=None):
    """joints3d's canonical frame per clip (reference.clip_frame, up z): rotate the first frame's left axis (left
    hip - right hip, on the ground) onto +x, origin at the first frame's pelvis (x, y) and the clip's lowest ankle,
    times clip_scale; frames past clip_len repeat the last -> [C, window, 22, 3]."""
    import torch

    dev, C = world.device, len(clip_len)
    lengths = torch.as_tensor(np.asarray(clip_len), device=dev)
    first = torch.cumsum(lengths, 0) - lengths
    clip_of = torch.as_tensor(clip_of, device=dev)
    ankle_z = torch.minimum(world[:, L_ANKLE, 2], world[:, R_ANKLE, 2])
    min_z = torch.full((C,), float("inf"), dtype=world.dtype, device=dev).scatter_reduce(
        0, clip_of, ankle_z, reduce="amin")
    w0 = world[first]
    lx, ly = w0[:, L_HIP, 0] - w0[:, R_HIP, 0], w0[:, L_HIP, 1] - w0[:, R_HIP, 1]
    n = torch.sqrt(lx * lx + ly * ly)
    flat = n < 1e-9
    lx, ly, n = torch.where(flat, 1.0, lx), torch.where(flat, 0.0, ly), torch.where(flat, 1.0, n)
    c, s = lx / n, ly / n
    k = torch.ones(C, dtype=world.dtype, device=dev) if clip_scale is None else torch.as_tensor(
        np.asarray(clip_scale), dtype=world.dtype, device=dev)
    origin = torch.stack([0.5 * (w0[:, L_HIP, 0] + w0[:, R_HIP, 0]), 0.5 * (w0[:, L_HIP, 1] + w0[:, R_HIP, 1]),
                          min_z], dim=1)
    rel = world - origin[clip_of][:, None]
    c, s, k = c[clip_of, None], s[clip_of, None], k[clip_of, None]
    dx, dy, dz = rel.unbind(-1)
    out = torch.stack([k * (c * dx + s * dy), k * (c * dy - s * dx), k * dz], dim=-1)
    rows = first[:, None] + torch.minimum(torch.arange(window, device=dev)[None, :], lengths[:, None] - 1)
    return out[rows]


def torch_joints3d_pipeline(poses, trans, seq_offsets, seq_fps, rest_joints, clip_seq, clip_start, clip_len,
                            clip_yaw=None, *, dst_fps: float = 25.0, window: int = 250,
                            posing: Optional[Callable] = None, clip_scale=None):
    """``convert_batch(..., schema="joints3d")`` (up z) in plain torch: resample first, the 22 body joints, the
    canonical frame per clip -> [C, window, 22, 3] of ``poses``' dtype. clip_yaw is accepted and unused, as there."""
    poses, trans, rest, idx, clip_of = _planned(poses, trans, rest_joints, seq_offsets, seq_fps, clip_seq,
                                                clip_start, clip_len, dst_fps)
    world = (posing or world_body_joints)(poses, trans, rest, *idx)
    return canonical_clips(world, clip_of, clip_len, window, clip_scale)


def compiled_torch_joints3d_pipeline() -> Callable:
    """``torch_joints3d_pipeline`` with its per-frame part under ``torch.compile`` (the first call compiles)."""
    import torch

    _plan("body")
    posing = torch.compile(world_body_joints, dynamic=True)

    def run(*args, **kwargs):
        return torch_joints3d_pipeline(*args, posing=posing, **kwargs)
    return run
