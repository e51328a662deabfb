"""`amass-fast bench`: conversion throughput per backend, side by side with smplx, measured in the same run.

Every figure is source frames per second (frames of a 120 fps SMPL+H sequence consumed), single-threaded by
default (torch, numba and the C++ backend are all set to ``--threads``). Rows:

- ``smplx forward``: smplx's full SMPL+H / SMPL-X forward (vertices and joints) on synthetic models with the real
  vertex counts (6890 / 10475), in batches; the baseline of the ratio column.
- ``torch FK``: joints only, the way smplx's ``lbs`` does it without vertices (batched Rodrigues, then the rigid
  transform chain), for all 52 SMPL+H joints and for the 22 body joints that a stick figure needs.
- ``fk``: each backend's forward kinematics of the 52 SMPL+H joints.
- ``body-models forward_skeleton``: the ``body-models`` package's joints-only SMPL+H forward (torch), 22 joints,
  where that package is installed (a note in ``skipped`` otherwise).
- ``torch pipeline``: what a capable user writes instead of ``convert_batch`` (``amass_fast.harness.baselines``): resample
  first, batched over every clip, FK, stick5; ``eager`` and ``compiled`` (``torch.compile``, its compile time
  reported apart in ``compile_seconds``), each with the default posing (rest offsets once per sequence, only the
  20 joints and 15 rotations stick5 reads, one batched step per depth) and with the older ``per-frame rest`` one.
  All are checked equal to ``convert_batch`` before they are timed (float64 within 1e-6 m; float32 within 1e-5 m
  plus 4 float32 ulps of the largest world coordinate); the fastest is the baseline of the ratios.
- ``convert_batch``: each backend's fused 120 -> 25 fps resampling + body FK + stick5 projection into 250-frame clips.

Ratios that matter: cpp and numba against the fastest torch pipeline row at the same thread count (targets: cpp
>= 10x, numba >= the eager pipeline). ``--json`` adds thread scaling (1, 2 and all cores) of the convert rows.

Training workloads (``--part training``, also part of the default run), each at 1 thread and on all cores:

- FK forward and forward+backward (gradients of sum(joints * w) with respect to poses and trans) of a batch of
  4096 poses, 22 and 52 joints: ``af.fk`` on torch tensors (the torch op and its analytic backward) beside plain
  torch (``baselines.torch_fk`` eager and compiled, ``torch_fk_unrolled`` compiled), smplx's own joint chain
  (``lbs.batch_rodrigues`` + ``batch_rigid_transform``, joints only) and body-models' ``forward_skeleton`` (where
  installed; a line in ``skipped`` otherwise). Each is checked against ``af.fk`` in float64 before it is timed
  (joints within 1e-5 m, gradients within ``grad_tolerance``); ``fk_ratios``: af.fk over the fastest of them.
- ``convert_batch`` joints3d beside ``baselines.torch_joints3d_pipeline`` eager and compiled, checked equal first.

An alternative that is not installed (or that --quick leaves out) is listed in ``skipped``; one that gives a wrong
result or fails to compile is listed there too with ``failed`` set, and the report prints it as FAILED, not as
skipped, so a missing ratio is never mistaken for an absent package.

The benches/ pytest-benchmark suite times the same cases.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from amass_fast.kernels import reference as ref
from amass_fast.kernels import runtime
from amass_fast.schemas.skeleton import SMPLH_PARENTS
from amass_fast.cli.args import MAX_THREADS, THREADS_FLAG, int_range

SRC_FPS = 120.0
SEQ_SECONDS = 20.0            # synthetic sequences of 20 s (2400 source frames), cut into 250-frame clips
SMPLX_BATCH = 128             # frames per smplx forward call (memory grows with batch x vertices)


@dataclass
class Case:
    """One timed workload: ``fn()`` consumes ``frames`` source frames."""
    name: str
    backend: str
    frames: int
    fn: Callable[[], object]
    baseline: bool = False
    setup_seconds: Optional[float] = None   # one-time cost paid before timing (torch.compile), reported apart


# ---------------------------------------------------------------------------------------------------------------
# Workloads.

def synthetic_motion(frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Plausible-looking SMPL+H motion: upright root (AMASS Z-up), smooth random joint angles, walking drift."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / SRC_FPS
    phase = rng.uniform(0, 2 * math.pi, (1, 156))
    poses = 0.3 * np.sin(2 * math.pi * 0.8 * t + phase)
    poses[:, :3] = [math.pi / 2, 0.0, 0.0]
    trans = np.concatenate([0.8 * t, 0.05 * np.sin(t), 0.9 + 0.02 * np.sin(6 * t)], axis=1)
    return poses, trans


def clip_plan(frames: int, window: int = 250) -> dict:
    """Split `frames` source frames into 20 s sequences and those into `window`-frame clips (ragged batch)."""
    seq_len = int(SEQ_SECONDS * SRC_FPS)
    bounds = list(range(0, frames, seq_len)) + [frames]
    offsets = np.array(bounds, dtype=np.int64)
    clip_seq, clip_start, clip_len = [], [], []
    for s in range(len(offsets) - 1):
        T = ref.resampled_length(int(offsets[s + 1] - offsets[s]), SRC_FPS, 25.0)
        for start in range(0, T, window):
            clip_seq.append(s)
            clip_start.append(start)
            clip_len.append(min(window, T - start))
    C = len(clip_seq)
    return dict(seq_offsets=offsets, seq_fps=np.full(len(offsets) - 1, SRC_FPS), clip_seq=np.array(clip_seq),
                clip_start=np.array(clip_start), clip_len=np.array(clip_len), clip_yaw=np.zeros(C))


def torch_fk(rot_vecs, rest, parents):
    """Joints-only FK as smplx's lbs computes them: batched Rodrigues, then batch_rigid_transform's chain."""
    import torch

    B, J = rot_vecs.shape[0], rest.shape[0]
    aa = rot_vecs.reshape(-1, 3)
    angle = torch.norm(aa + 1e-8, dim=1, keepdim=True)
    axis = aa / angle
    cos, sin = torch.cos(angle)[:, :, None], torch.sin(angle)[:, :, None]
    x, y, z = axis[:, 0], axis[:, 1], axis[:, 2]
    zeros = torch.zeros_like(x)
    K = torch.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], dim=1).view(-1, 3, 3)
    R = (torch.eye(3, dtype=aa.dtype) + sin * K + (1 - cos) * torch.bmm(K, K)).view(B, J, 3, 3)
    rel = rest.clone()
    rel[1:] -= rest[parents[1:]]
    G, p = [R[:, 0]], [rest[0].expand(B, 3)]
    for j in range(1, J):
        q = int(parents[j])
        p.append(p[q] + torch.matmul(G[q], rel[j]))
        G.append(torch.matmul(G[q], R[:, j]))
    return torch.stack(p, dim=1)


def _kernel_api():
    """(available backends, fk(backend, ...), convert_batch(backend, ...)) from amass_fast.kernels, or from the
    numba/reference modules directly where kernels is not importable."""
    try:
        from amass_fast import kernels
        backends = [b for b in kernels.available_backends() if b != "cuda"]
        return (backends, lambda b, *a: kernels.fk(*a, backend=b),
                lambda b, *a, **k: kernels.convert_batch(*a, backend=b, **k))
    except ImportError:
        from amass_fast.kernels import numba_backend
        modules = {"numba": numba_backend, "reference": ref}
        return (list(modules), lambda b, *a: modules[b].fk(*a),
                lambda b, *a, **k: modules[b].convert_batch(*a, **k))


def pipeline_tolerance(dtype, trans: np.ndarray) -> float:
    """How far a torch pipeline's clips may lie from convert_batch's (metres): float64 1e-6; float32 1e-5 plus 4
    float32 ulps of the largest world coordinate (stick coordinates are differences of world positions, each
    rounded to float32 where it lies, up to |trans| from the origin)."""
    if np.dtype(dtype) == np.float64:
        return 1e-6
    return 1e-5 + 4.0 * float(np.spacing(np.float32(np.abs(trans).max() + 2.0)))


def check_pipeline(pipeline: Callable, convert_batch: Callable, plan: dict, rest: np.ndarray, poses64: np.ndarray,
                   trans64: np.ndarray) -> float:
    """Run ``pipeline`` (a baselines.torch_pipeline-like function) and convert_batch on the same clips in float64
    and float32; raise if they differ by more than pipeline_tolerance. Returns the float32 difference."""
    args = {k: plan[k] for k in ("seq_offsets", "seq_fps", "clip_seq", "clip_start", "clip_len", "clip_yaw")}
    worst = 0.0
    for dtype in (np.float64, np.float32):
        p, t, r = poses64.astype(dtype), trans64.astype(dtype), rest.astype(dtype)
        ours = np.asarray(convert_batch(p, t, args["seq_offsets"], args["seq_fps"], r, SMPLH_PARENTS,
                                        args["clip_seq"], args["clip_start"], args["clip_len"], args["clip_yaw"]))
        theirs = pipeline(p, t, rest_joints=r, **args).numpy()
        diff = float(np.abs(theirs - ours).max())
        tol = pipeline_tolerance(dtype, trans64)
        if not diff <= tol:
            raise RuntimeError(f"the torch pipeline differs from convert_batch by {diff:.3g} m in "
                               f"{np.dtype(dtype).name} (allowed {tol:.3g}): the comparison would be unfair")
        worst = diff
    return worst


def _torch_pipeline_cases(frames: int, quick: bool, plan: dict, rest: np.ndarray, poses64: np.ndarray,
                          trans64: np.ndarray, convert_cpu: Callable, skipped: list) -> list[Case]:
    """The torch pipeline rows (eager, and compiled unless --quick), each checked against convert_batch first."""
    from amass_fast.harness import baselines
    import torch

    poses, trans, rest32 = (torch.as_tensor(a.astype(np.float32)) for a in (poses64, trans64, rest))
    args = {k: plan[k] for k in ("seq_offsets", "seq_fps", "clip_seq", "clip_start", "clip_len", "clip_yaw")}
    cases = []
    per_frame = baselines.POSINGS["per-frame rest"]
    variants = [("eager", baselines.torch_pipeline, None)]
    if quick:
        skipped.append(dict(name="torch pipeline compiled", reason="--quick: torch.compile takes tens of seconds"))
    else:  # the variants BENCHMARKS.md compares: the fastest of them is the baseline of the ratios
        variants += [("eager per-frame rest", lambda *a, **k: baselines.torch_pipeline(*a, posing=per_frame, **k),
                      None), ("compiled", None, None), ("compiled per-frame rest", None, per_frame)]
    for label, fn, posing in variants:
        setup = None
        if fn is None:
            t0 = time.perf_counter()
            fn = baselines.compiled_torch_pipeline(posing)
            try:
                with torch.no_grad():
                    fn(poses, trans, rest_joints=rest32, **args)   # compiles (for this shape family)
            except Exception as exc:  # no C compiler, an unsupported platform: say so, keep the other rows
                skipped.append(dict(name="torch pipeline compiled", reason=f"torch.compile failed: {exc}",
                                    failed=True))
                continue
            setup = time.perf_counter() - t0
        with torch.no_grad():
            check_pipeline(fn, convert_cpu, plan, rest, poses64, trans64)

        def run(fn=fn):
            with torch.no_grad():
                return fn(poses, trans, rest_joints=rest32, **args)
        cases.append(Case(f"torch pipeline {label} 120->25 stick5", "torch", frames, run, setup_seconds=setup))
    return cases


def _body_models_case(frames: int, poses: np.ndarray, trans: np.ndarray, model_path: Path,
                      skipped: list) -> list[Case]:
    """body-models' joints-only forward (forward_skeleton) of the 22 body joints on every source frame."""
    try:
        import torch
        from body_models.smplh.torch import SMPLH
    except ImportError as exc:
        skipped.append(dict(name="body-models forward_skeleton", reason=f"body-models is not installed ({exc}); "
                                                                        f"pip install body-models"))
        return []
    model = SMPLH(model_path=str(model_path), flat_hand_mean=True)
    p = torch.as_tensor(np.ascontiguousarray(poses[:, :156]))
    body, hands = p[:, 3:66].reshape(-1, 21, 3), p[:, 66:156].reshape(-1, 30, 3)
    root, transl, shape = p[:, :3], torch.as_tensor(trans), torch.zeros(len(p), 16)

    def forward():
        with torch.no_grad():
            return model.forward_skeleton(body, hands, pelvis_rotation=root, global_translation=transl,
                                          shape=shape, joint_indices=list(range(22)))
    return [Case("body-models forward_skeleton 22 joints", "torch", frames, forward)]


# ---------------------------------------------------------------------------------------------------------------
# Training workloads: FK forward and forward+backward of a batch of poses, convert_batch joints3d forward.

FK_BATCH = 4096               # poses per FK call (body-models' published CPU/GPU figures use this batch)
FK_JOINTS = (22, 52)
FK_MODES = ("forward", "forward+backward")


def grad_tolerance(dtype, g64) -> float:
    """How far a float32 gradient may lie from the float64 one: 2e-4 of the largest float64 gradient (at least
    2e-4), as tests/kernels/test_autograd.py states for af.fk; float64 1e-8 of it."""
    scale = max(1.0, float(np.abs(g64).max()))
    return (1e-8 if np.dtype(dtype) == np.float64 else 2e-4) * scale


def _fk_alternatives(J: int, rest: np.ndarray, model_path: Path, quick: bool, skipped: list) -> list:
    """(name, joints(poses [B, 3J], trans [B, 3]) -> [B, J, 3], compile seconds or None, differentiable) of every
    implementation of FK timed beside af.fk: af.fk itself (the torch op), plain torch (amass_fast.harness.baselines: per
    depth eager and compiled, unrolled compiled), smplx's own joint chain (lbs.batch_rodrigues +
    batch_rigid_transform, joints only) and body-models' forward_skeleton, where they are installed."""
    import torch

    from amass_fast.harness import baselines
    from amass_fast import kernels

    par = SMPLH_PARENTS[:J]
    rest_t, par_t = torch.as_tensor(rest[:J], dtype=torch.float32), torch.tensor(par)
    out = [("amass-fast af.fk [cpp]" if "cpp" in _kernel_api()[0] else "amass-fast af.fk",
            lambda p, t: kernels.fk(p, t, rest_t, par_t), None)]
    plan = baselines.fk_plan(par, J)
    out.append(("plain torch eager", lambda p, t: baselines.torch_fk(p, t, rest_t, par, plan), None))
    if quick:
        skipped.append(dict(name=f"plain torch compiled (FK {J} joints)",
                            reason="--quick: torch.compile takes tens of seconds"))
    else:
        per_depth = baselines.compiled_torch_fk(par)
        unrolled = baselines.compiled_torch_fk_unrolled(par) if J <= 24 else None
        out.append(("plain torch compiled", lambda p, t: per_depth(p, t, rest_t), "compile"))
        if J <= 24:  # 52 joints: minutes of compiling for a forward+backward slower than per depth (BENCHMARKS.md)
            out.append(("plain torch compiled, unrolled", lambda p, t: unrolled(p, t, rest_t), "compile"))
    try:
        from smplx.lbs import batch_rigid_transform, batch_rodrigues
    except ImportError as exc:
        skipped.append(dict(name=f"smplx joint chain (FK {J} joints)", reason=f"smplx is not installed ({exc})"))
    else:
        def smplx_chain(p, t):
            B = p.shape[0]
            rot = batch_rodrigues(p[:, :3 * J].reshape(-1, 3)).view(B, J, 3, 3)
            joints, _ = batch_rigid_transform(rot, rest_t.expand(B, J, 3), par_t)
            return joints + t[:, None]
        out.append(("smplx lbs joint chain", smplx_chain, None))
    try:
        from body_models.smplh.torch import SMPLH
    except ImportError as exc:
        skipped.append(dict(name=f"body-models forward_skeleton (FK {J} joints)",
                            reason=f"body-models is not installed ({exc}); pip install body-models"))
    else:
        model = SMPLH(model_path=str(model_path), flat_hand_mean=True)
        select = list(range(J)) if J < 52 else None

        def bm(p, t):
            B = p.shape[0]
            hands = p[:, 66:156].reshape(B, 30, 3) if J == 52 else p.new_zeros((B, 30, 3))
            T = model.forward_skeleton(p[:, 3:66].reshape(B, 21, 3), hands, pelvis_rotation=p[:, :3],
                                       global_translation=t, shape=p.new_zeros((B, 16)), joint_indices=select)
            return T[..., :3, 3]
        out.append(("body-models forward_skeleton", bm, None))
    return out


def check_fk(fn: Callable, poses64: np.ndarray, trans64: np.ndarray, weight: np.ndarray, rest: np.ndarray,
             name: str) -> tuple[float, float]:
    """``fn``'s float32 joints and gradients (poses, trans) of sum(joints * weight) against af.fk in float64; raise
    RuntimeError if they differ by more than 1e-5 m (joints) or grad_tolerance. Returns (joint diff, grad diff)."""
    import torch

    from amass_fast import kernels

    J = weight.shape[1]
    p64 = torch.tensor(poses64[:, :3 * J], requires_grad=True)
    t64 = torch.tensor(trans64, requires_grad=True)
    j64 = kernels.fk(p64, t64, torch.as_tensor(rest[:J]), torch.tensor(SMPLH_PARENTS[:J]))
    (j64 * torch.as_tensor(weight, dtype=torch.float64)).sum().backward()
    p = torch.tensor(poses64[:, :3 * J], dtype=torch.float32, requires_grad=True)
    t = torch.tensor(trans64, dtype=torch.float32, requires_grad=True)
    joints = fn(p, t)
    (joints * torch.as_tensor(weight, dtype=torch.float32)).sum().backward()
    jd = float((joints.detach().double() - j64.detach()).abs().max())
    gd = max(float((p.grad.double() - p64.grad).abs().max()), float((t.grad.double() - t64.grad).abs().max()))
    gtol = grad_tolerance(np.float32, np.concatenate([p64.grad.numpy().ravel(), t64.grad.numpy().ravel()]))
    if not (jd <= 1e-5 and gd <= gtol):
        raise RuntimeError(f"{name} differs from af.fk: joints by {jd:.3g} m (allowed 1e-5), gradients by "
                           f"{gd:.3g} (allowed {gtol:.3g}): the comparison would be unfair")
    return jd, gd


@dataclass
class FkCase:
    """One timed FK workload: ``fn()`` poses ``poses`` frames (forward, or forward and backward)."""
    name: str
    joints: int
    mode: str
    poses: int
    fn: Callable[[], object]
    ours: bool
    setup_seconds: Optional[float] = None


def build_fk_cases(batch: int, quick: bool, model_path: Path, rest52: np.ndarray, skipped: list) -> list[FkCase]:
    """FK forward and forward+backward of ``batch`` poses, 22 and 52 joints, for af.fk and every alternative;
    each is checked equal to af.fk (joints and gradients) before it is timed (a failed check leaves it out with
    the reason in ``skipped``)."""
    import torch

    poses64, trans64 = synthetic_motion(batch, seed=1)
    poses64[:, :156] += np.random.default_rng(2).normal(0.0, 0.2, (batch, 156))  # no two frames alike
    cases: list[FkCase] = []
    for J in FK_JOINTS:
        weight = np.random.default_rng(J).normal(size=(batch, J, 3))
        w = torch.as_tensor(weight, dtype=torch.float32)
        p32 = torch.tensor(poses64[:, :3 * J], dtype=torch.float32)
        t32 = torch.tensor(trans64, dtype=torch.float32)
        for name, fn, compiled in _fk_alternatives(J, rest52, model_path, quick, skipped):
            setup = None
            try:
                t0 = time.perf_counter()
                check_fk(fn, poses64, trans64, weight, rest52, f"{name} ({J} joints)")
                if compiled:
                    fn(p32.clone().requires_grad_(), t32.clone().requires_grad_())  # the dynamic-shape recompile
                    setup = time.perf_counter() - t0
            except Exception as exc:  # a wrong result or a failed compile: say so, keep the other rows
                skipped.append(dict(name=f"{name} (FK {J} joints)", reason=str(exc).splitlines()[0][:300],
                                    failed=True))
                continue

            def forward(fn=fn, p32=p32, t32=t32):
                with torch.no_grad():
                    return fn(p32, t32)
            p, t = p32.clone().requires_grad_(), t32.clone().requires_grad_()

            def both(fn=fn, p=p, t=t, w=w):
                p.grad = t.grad = None
                (fn(p, t) * w).sum().backward()
                return p.grad
            ours = name.startswith("amass-fast")
            cases.append(FkCase(name, J, "forward", batch, forward, ours, setup))
            cases.append(FkCase(name, J, "forward+backward", batch, both, ours, setup))
    return cases


def joints3d_cases(frames: int, quick: bool, plan: dict, rest: np.ndarray, poses64: np.ndarray,
                   trans64: np.ndarray, convert: Callable, skipped: list) -> list[Case]:
    """convert_batch joints3d (up z) and the plain-torch joints3d pipeline, eager and compiled, each pipeline
    checked equal to convert_batch before it is timed (pipeline_tolerance)."""
    import torch

    from amass_fast.harness import baselines

    args = {k: plan[k] for k in ("seq_offsets", "seq_fps", "clip_seq", "clip_start", "clip_len", "clip_yaw")}
    poses, trans = poses64.astype(np.float32), trans64.astype(np.float32)
    rest32 = rest.astype(np.float32)
    ours = Case("convert_batch joints3d 120->25", _kernel_api()[0][0], frames,
                lambda: convert(poses, trans, args["seq_offsets"], args["seq_fps"], rest32, SMPLH_PARENTS,
                                args["clip_seq"], args["clip_start"], args["clip_len"], args["clip_yaw"],
                                schema="joints3d"))
    cases = [ours]
    pt, tt, rt = (torch.as_tensor(a) for a in (poses, trans, rest32))
    variants = [("eager", baselines.torch_joints3d_pipeline)]
    if quick:
        skipped.append(dict(name="torch joints3d pipeline compiled", reason="--quick: torch.compile takes time"))
    else:
        variants.append(("compiled", None))
    for label, fn in variants:
        setup = None
        try:
            t0 = time.perf_counter()
            if fn is None:
                fn = baselines.compiled_torch_joints3d_pipeline()
                with torch.no_grad():
                    fn(pt, tt, rest_joints=rt, **args)
                setup = time.perf_counter() - t0
            for dtype in (np.float64, np.float32):
                mine = np.asarray(convert(poses64.astype(dtype), trans64.astype(dtype), args["seq_offsets"],
                                          args["seq_fps"], rest.astype(dtype), SMPLH_PARENTS, args["clip_seq"],
                                          args["clip_start"], args["clip_len"], args["clip_yaw"], schema="joints3d"))
                with torch.no_grad():
                    theirs = fn(poses64.astype(dtype), trans64.astype(dtype), rest_joints=rest.astype(dtype),
                                **args).numpy()
                diff, tol = float(np.abs(theirs - mine).max()), pipeline_tolerance(dtype, trans64)
                if not diff <= tol:
                    raise RuntimeError(f"the torch joints3d pipeline differs from convert_batch by {diff:.3g} m "
                                       f"in {np.dtype(dtype).name} (allowed {tol:.3g})")
        except Exception as exc:
            skipped.append(dict(name=f"torch joints3d pipeline {label}", reason=str(exc).splitlines()[0][:300],
                                 failed=True))
            continue

        def run(fn=fn):
            with torch.no_grad():
                return fn(pt, tt, rest_joints=rt, **args)
        cases.append(Case(f"torch joints3d pipeline {label} 120->25", "torch", frames, run, setup_seconds=setup))
    return cases


def build_cases(frames: int, quick: bool, model_dir: Path, skipped: Optional[list] = None) -> list[Case]:
    """Every workload of the table. smplx, body-models and torch rows appear only where those are installed; what
    is left out is listed in ``skipped`` (name, reason)."""
    skipped = [] if skipped is None else skipped
    backends, fk, convert_batch = _kernel_api()
    poses64, trans64 = synthetic_motion(frames)
    poses, trans = poses64.astype(np.float32), trans64.astype(np.float32)
    from amass_fast.harness.synthetic_models import write_model
    from amass_fast.io.body_models import load_body_model

    vertices = {"smplh": 400, "smplx": 400} if quick else {"smplh": 6890, "smplx": 10475}
    paths = {kind: write_model(model_dir / f"{kind.upper()}_NEUTRAL.npz", kind, num_vertices=vertices[kind])
             for kind in ("smplh", "smplx")}
    rest52 = load_body_model(paths["smplh"]).rest_joints(np.zeros(16))
    plan = clip_plan(frames)
    rest_batch = np.repeat(rest52[None, :22], len(plan["seq_fps"]), axis=0)
    # The reference loops in Python: give it a slice small enough to finish in about a second.
    slow = min(frames, 120)

    cases: list[Case] = []
    try:
        import smplx
        import torch
    except ImportError:
        smplx = None
    if smplx is not None:
        for kind in ("smplh", "smplx"):
            batch = min(SMPLX_BATCH, frames)
            cls = smplx.SMPLH if kind == "smplh" else smplx.SMPLX
            with contextlib.redirect_stdout(sys.stderr):  # smplx prints warnings to stdout; keep --json clean
                model = cls(str(paths[kind]), ext="npz", use_pca=False, flat_hand_mean=True, batch_size=batch)
            if quick:  # few vertices: smplx's fixed extra-joint vertex ids do not exist
                model.vertex_joint_selector.extra_joints_idxs = torch.zeros(0, dtype=torch.long)
            P = 156 if kind == "smplh" else 165
            full = torch.as_tensor(np.ascontiguousarray(np.resize(poses[:batch], (batch, P))))
            args = dict(global_orient=full[:, :3], body_pose=full[:, 3:66], transl=torch.as_tensor(trans[:batch]),
                        left_hand_pose=full[:, P - 90:P - 45], right_hand_pose=full[:, P - 45:])

            def forward(model=model, args=args):
                with torch.no_grad():
                    return model(**args)
            cases.append(Case(f"smplx forward {kind} ({vertices[kind]} vertices)", "torch", batch, forward,
                              baseline=kind == "smplh"))
        for J in (52, 22):
            rv = torch.as_tensor(np.ascontiguousarray(poses[:, :3 * J]))
            rest_t, par_t = torch.as_tensor(rest52[:J], dtype=torch.float32), torch.tensor(SMPLH_PARENTS[:J])

            def run_torch_fk(rv=rv, rest_t=rest_t, par_t=par_t, trans_t=torch.as_tensor(trans)):
                with torch.no_grad():
                    return torch_fk(rv, rest_t, par_t) + trans_t[:, None]
            cases.append(Case(f"torch FK {J} joints", "torch", frames, run_torch_fk))
    else:
        skipped.append(dict(name="smplx forward / torch FK", reason="smplx or torch is not installed"))
    cases += _body_models_case(frames, poses, trans, paths["smplh"], skipped)
    try:
        import torch  # noqa: F401
    except ImportError:
        skipped.append(dict(name="torch pipeline", reason="torch is not installed"))
    else:
        convert_cpu = lambda *a: convert_batch(backends[0], *a)  # noqa: E731 (the fastest CPU backend)
        cases += _torch_pipeline_cases(frames, quick, plan, rest_batch, poses64, trans64, convert_cpu, skipped)

    for b in backends:
        n = slow if b == "reference" else frames
        cases.append(Case("fk 52 joints", b, n,
                          lambda b=b, n=n: fk(b, poses[:n], trans[:n], rest52, SMPLH_PARENTS)))
        p = plan if b != "reference" else clip_plan(slow)
        r = rest_batch[:len(p["seq_fps"])]
        cases.append(Case("convert_batch smplh 120->25 stick5", b, int(p["seq_offsets"][-1]),
                          lambda b=b, p=p, r=r: convert_batch(
                              b, poses, trans, p["seq_offsets"], p["seq_fps"], r, SMPLH_PARENTS, p["clip_seq"],
                              p["clip_start"], p["clip_len"], p["clip_yaw"])))
    return cases


# ---------------------------------------------------------------------------------------------------------------
# Timing and the table.

def time_case(case: Case, min_seconds: float, min_runs: int) -> float:
    """Best source frames/s over repeated runs, after one warm-up run (numba compiles there)."""
    case.fn()
    best, total, runs = math.inf, 0.0, 0
    while runs < min_runs or total < min_seconds:
        t0 = time.perf_counter()
        case.fn()
        dt = time.perf_counter() - t0
        best, total, runs = min(best, dt), total + dt, runs + 1
    return case.frames / max(best, 1e-9)


def set_threads(n: int) -> None:
    """One thread count for every library that runs the cases."""
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        from amass_fast import kernels
        kernels.set_num_threads(n)
    except (ImportError, AttributeError):
        pass
    from amass_fast.kernels import numba_backend
    numba_backend.set_num_threads(n)


CONVERT = "convert_batch smplh 120->25 stick5"
SCALED = ("torch pipeline", "convert_batch")   # rows whose thread scaling --json reports


def _threads_to_scale(threads: int) -> list[int]:
    """1, 2 and all cores (deduplicated, in order), plus the requested count."""
    cores = _cores()
    return sorted({1, min(2, cores), cores, threads})


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run_bench(frames: int, threads: int, quick: bool, progress: bool = True, scaling: bool = False,
              part: str = "all") -> dict:
    """Measure every case and return the report (see --json). scaling: also time the torch pipeline and
    convert_batch rows at 1, 2 and all cores (``scaling``: {threads: {"name [backend]": frames/s}}).
    part: "convert" (the conversion table), "training" (FK forward / forward+backward and joints3d, at 1 thread
    and on all cores) or "all"."""
    set_threads(threads)
    skipped: list = []
    min_seconds, min_runs = (0.0, 1) if quick else (0.5, 3)
    rows, scale, training = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="amass-fast-bench-") as tmp:
        if part in ("all", "convert"):
            cases = build_cases(frames, quick, Path(tmp), skipped)
            for case in cases:
                if progress:
                    print(f"  timing {case.name} [{case.backend}] ...", file=sys.stderr)
                rows.append(dict(name=case.name, backend=case.backend, frames=case.frames,
                                 frames_per_s=time_case(case, min_seconds, min_runs), baseline=case.baseline,
                                 compile_seconds=case.setup_seconds))
            if scaling:
                for n in _threads_to_scale(threads):
                    set_threads(n)
                    if progress:
                        print(f"  thread scaling: {n} thread(s) ...", file=sys.stderr)
                    scale[str(n)] = {f"{c.name} [{c.backend}]": time_case(c, min_seconds, min_runs)
                                     for c in cases if c.name.startswith(SCALED) and c.backend != "reference"}
                set_threads(threads)
        if part in ("all", "training"):
            training = run_training(frames, quick, Path(tmp), skipped, progress, min_seconds, min_runs)
            set_threads(threads)
    base = next((r["frames_per_s"] for r in rows if r["baseline"]), None)
    for r in rows:
        r["ratio_to_smplx"] = r["frames_per_s"] / base if base else None
    report = dict(threads=threads, frames=frames, quick=quick, machine=platform.machine(),
                  processor=_cpu_model(), cpu_limits=_cpu_limits(), python=platform.python_version(),
                  results=rows, ratios=_ratios(rows), targets=_targets(rows), skipped=skipped, **training)
    if scaling:
        report["scaling"] = scale
    return report


def run_training(frames: int, quick: bool, tmp: Path, skipped: list, progress: bool, min_seconds: float,
                 min_runs: int) -> dict:
    """The training workloads at 1 thread and on all cores: ``fk`` rows (name, joints, mode, threads, poses/s),
    ``fk_ratios`` (af.fk against the fastest differentiable alternative, same joints, mode and threads),
    ``joints3d`` rows and ``joints3d_ratios``."""
    from amass_fast.io.body_models import load_body_model
    from amass_fast.harness.synthetic_models import write_model

    path = write_model(tmp / "training" / "SMPLH_NEUTRAL.npz", "smplh", num_vertices=400 if quick else 6890)
    rest52 = load_body_model(path).rest_joints(np.zeros(16))
    batch = 256 if quick else FK_BATCH
    fk_cases = build_fk_cases(batch, quick, path, rest52, skipped)
    n3 = min(frames, 4800) if quick else frames
    poses64, trans64 = synthetic_motion(n3)
    plan = clip_plan(n3)
    rest = np.repeat(rest52[None, :22], len(plan["seq_fps"]), axis=0)
    backends, _, convert = _kernel_api()
    j3 = joints3d_cases(n3, quick, plan, rest, poses64, trans64, lambda *a, **k: convert(backends[0], *a, **k),
                        skipped)
    fk_rows, j3_rows = [], []
    for n in sorted({1, _cores()}):
        set_threads(n)
        for c in fk_cases:
            if progress:
                print(f"  timing FK {c.joints} joints {c.mode}: {c.name}, {n} thread(s) ...", file=sys.stderr)
            fk_rows.append(dict(name=c.name, joints=c.joints, mode=c.mode, threads=n, poses=c.poses,
                                poses_per_s=time_case(Case(c.name, "", c.poses, c.fn), min_seconds, min_runs),
                                ours=c.ours, compile_seconds=c.setup_seconds))
        for c in j3:
            if progress:
                print(f"  timing {c.name} [{c.backend}], {n} thread(s) ...", file=sys.stderr)
            j3_rows.append(dict(name=c.name, backend=c.backend, threads=n, frames=c.frames,
                                frames_per_s=time_case(c, min_seconds, min_runs), compile_seconds=c.setup_seconds))
    fk_ratios = []
    for key in sorted({(r["joints"], r["mode"], r["threads"]) for r in fk_rows}):
        same = [r for r in fk_rows if (r["joints"], r["mode"], r["threads"]) == key]
        ours = next((r for r in same if r["ours"]), None)
        others = [r for r in same if not r["ours"]]
        if ours and others:
            best = max(others, key=lambda r: r["poses_per_s"])
            fk_ratios.append(dict(joints=key[0], mode=key[1], threads=key[2], fastest_alternative=best["name"],
                                  ratio=ours["poses_per_s"] / best["poses_per_s"]))
    j3_ratios = []
    for n in sorted({r["threads"] for r in j3_rows}):
        same = [r for r in j3_rows if r["threads"] == n]
        ours = next((r for r in same if r["name"].startswith("convert_batch")), None)
        others = [r for r in same if not r["name"].startswith("convert_batch")]
        if ours and others:
            best = max(others, key=lambda r: r["frames_per_s"])
            j3_ratios.append(dict(threads=n, fastest_alternative=best["name"],
                                  ratio=ours["frames_per_s"] / best["frames_per_s"]))
    return dict(fk_batch=batch, fk=fk_rows, fk_ratios=fk_ratios, joints3d=j3_rows, joints3d_ratios=j3_ratios)


def _cpu_limits() -> dict:
    """What bounds the figures: cores this process may use and the vector extensions the CPU reports."""
    flags: set = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    core = runtime.load("_core")
    return dict(cores=_cores(), avx2="avx2" in flags, avx512f="avx512f" in flags, fma="fma" in flags,
                lane_bytes=getattr(core, "lane_bytes", None))


def _cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _fps(rows: list[dict], name: str, backend: str) -> Optional[float]:
    return next((r["frames_per_s"] for r in rows if r["name"].startswith(name) and r["backend"] == backend), None)


def _best_torch_pipeline(rows: list[dict]) -> Optional[dict]:
    found = [r for r in rows if r["name"].startswith("torch pipeline")]
    return max(found, key=lambda r: r["frames_per_s"]) if found else None


def _ratios(rows: list[dict]) -> list[dict]:
    """convert_batch of each CPU backend against the faster torch pipeline row (same threads, same clips)."""
    best = _best_torch_pipeline(rows)
    if best is None:
        return []
    out = []
    for backend in ("cpp", "numba"):
        fps = _fps(rows, "convert_batch", backend)
        if fps:
            out.append(dict(name=f"convert_batch {backend} / {best['name']}", ratio=fps / best["frames_per_s"]))
    return out


def _targets(rows: list[dict]) -> list[dict]:
    cpp, numba_ = _fps(rows, "convert_batch", "cpp"), _fps(rows, "convert_batch", "numba")
    smplx_h = _fps(rows, "smplx forward smplh", "torch")
    eager = _fps(rows, "torch pipeline eager", "torch")
    best = _best_torch_pipeline(rows)
    checks = [("convert_batch cpp / smplx forward smplh", cpp, smplx_h, 1000.0),
              ("convert_batch cpp / faster torch pipeline", cpp, best and best["frames_per_s"], 10.0),
              ("convert_batch numba / torch pipeline eager", numba_, eager, 1.0)]
    return [dict(name=name, ratio=a / b, target=target, met=a / b >= target)
            for name, a, b, target in checks if a and b]


def format_table(report: dict) -> str:
    lines = [f"amass-fast bench: {report['frames']} source frames (SMPL+H, {SRC_FPS:g} fps), "
             f"{report['threads']} thread(s){', quick' if report['quick'] else ''}; {report['processor']}",
             f"{'workload':54} {'backend':>9} {'frames/s':>13} {'x smplx':>10}"]
    for r in report["results"]:
        ratio = f"{r['ratio_to_smplx']:.1f}" if r["ratio_to_smplx"] else "-"
        extra = f"   (compile {r['compile_seconds']:.1f} s, not counted)" if r.get("compile_seconds") else ""
        lines.append(f"{r['name']:54} {r['backend']:>9} {r['frames_per_s']:13,.0f} {ratio:>10}{extra}")
    for s in report.get("skipped", []):
        lines.append(f"{'FAILED' if s.get('failed') else 'skipped'} {s['name']}: {s['reason']}")
    for r in report.get("ratios", []):
        lines.append(f"ratio {r['name']}: {r['ratio']:.2f}")
    for n, fps in report.get("scaling", {}).items():
        lines.append(f"{n} thread(s): " + ", ".join(f"{k} {v:,.0f}" for k, v in fps.items()))
    lines += _training_table(report)
    if report["quick"]:  # tiny sizes: the figures show that everything runs, not how fast
        lines.append("(--quick: a smoke run; targets are judged on a full run)")
        return "\n".join(lines)
    for t in report["targets"]:
        lines.append(f"target {t['name']}: {t['ratio']:.1f} (>= {t['target']:.3g}) "
                     f"{'met' if t['met'] else 'NOT met'}")
    return "\n".join(lines)


def _training_table(report: dict) -> list[str]:
    if not report.get("fk") and not report.get("joints3d"):
        return []
    lim = report.get("cpu_limits", {})
    lines = [f"training workloads: FK of a batch of {report.get('fk_batch')} poses (poses/s) and convert_batch "
             f"joints3d (source frames/s); {lim.get('cores')} core(s), AVX-512 "
             f"{'yes' if lim.get('avx512f') else 'no'}, cpp lane groups of {lim.get('lane_bytes')} bytes",
             f"{'workload':58} {'threads':>7} {'per s':>13}"]
    for r in report.get("fk", []):
        extra = f"   (compile {r['compile_seconds']:.1f} s, not counted)" if r.get("compile_seconds") else ""
        lines.append(f"{'FK ' + str(r['joints']) + ' ' + r['mode'] + ': ' + r['name']:58} {r['threads']:>7} "
                     f"{r['poses_per_s']:13,.0f}{extra}")
    for r in report.get("joints3d", []):
        extra = f"   (compile {r['compile_seconds']:.1f} s, not counted)" if r.get("compile_seconds") else ""
        lines.append(f"{r['name'] + ' [' + r['backend'] + ']':58} {r['threads']:>7} {r['frames_per_s']:13,.0f}"
                     f"{extra}")
    for r in report.get("fk_ratios", []):
        lines.append(f"ratio af.fk / fastest alternative, FK {r['joints']} joints {r['mode']}, {r['threads']} "
                     f"thread(s): {r['ratio']:.2f} ({r['fastest_alternative']})")
    for r in report.get("joints3d_ratios", []):
        lines.append(f"ratio convert_batch joints3d / fastest torch pipeline, {r['threads']} thread(s): "
                     f"{r['ratio']:.2f} ({r['fastest_alternative']})")
    return lines


#: Shown at the end of `amass-fast bench --help`.
EXAMPLES = [
    "amass-fast bench --quick",
    "amass-fast bench --threads 8 --json > bench.json",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=THREADS_FLAG, default=1, metavar="N",
                        help=f"threads for every backend and torch, 1..{MAX_THREADS} (default 1)")
    parser.add_argument("--frames", type=int_range(2, 1_000_000), default=None, metavar="N",
                        help="source frames per workload (default 24000, i.e. 200 s at 120 fps; --quick: 480)")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON instead of a table, with thread scaling (1, 2, all cores)")
    parser.add_argument("--scaling", action="store_true",
                        help="also time the torch pipeline and convert_batch rows at 1, 2 and all cores "
                             "(always on with --json, except with --quick)")
    parser.add_argument("--part", choices=("all", "convert", "training"), default="all",
                        help="convert: the conversion table; training: FK forward and forward+backward of a batch "
                             "of 4096 poses and convert_batch joints3d, at 1 thread and on all cores (default all)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and one run each (a smoke test, not a measurement)")


def run(args: argparse.Namespace) -> int:
    frames = args.frames or (480 if args.quick else 24000)
    scaling = args.scaling or (args.json and not args.quick)
    report = run_bench(frames, args.threads, args.quick, progress=not args.json, scaling=scaling,
                       part=getattr(args, "part", "all"))
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0
