"""`amass-fast bench`: conversion throughput per backend, side by side with smplx, measured in the same run.

Every figure is source frames per second (frames of a 120 fps SMPL+H sequence consumed), single-threaded by
default (torch, numba and the C++ backend are all set to ``--threads``). Rows:

- ``smplx forward``: smplx's full SMPL+H / SMPL-X forward (vertices and joints) on synthetic models with the real
  vertex counts (6890 / 10475), in batches; the baseline of the ratio column.
- ``torch FK``: joints only, the way smplx's ``lbs`` does it without vertices (batched Rodrigues, then the rigid
  transform chain), for all 52 SMPL+H joints and for the 22 body joints that a stick figure needs.
- ``fk``: each backend's forward kinematics of the 52 SMPL+H joints.
- ``convert_batch``: each backend's fused 120 -> 25 fps resampling + body FK + stick5 projection into 250-frame clips.

Targets (issue 2): convert_batch cpp >= 1000x smplx's SMPL+H forward and >= 20x the torch 22-joint FK; numba
within 3x of cpp. The benches/ pytest-benchmark suite times the same cases.
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

from amass_fast import reference as ref
from amass_fast.body_models import SMPLH_PARENTS
from amass_fast.cliargs import MAX_THREADS, THREADS_FLAG, int_range

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
        from amass_fast import numba_backend
        modules = {"numba": numba_backend, "reference": ref}
        return (list(modules), lambda b, *a: modules[b].fk(*a),
                lambda b, *a, **k: modules[b].convert_batch(*a, **k))


def build_cases(frames: int, quick: bool, model_dir: Path) -> list[Case]:
    """Every workload of the table. smplx rows appear only when smplx is installed."""
    backends, fk, convert_batch = _kernel_api()
    poses64, trans64 = synthetic_motion(frames)
    poses, trans = poses64.astype(np.float32), trans64.astype(np.float32)
    from amass_fast.synthetic_models import write_model
    from amass_fast.body_models import load_body_model

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
            rest_t, par_t = torch.as_tensor(rest52[:J], dtype=torch.float32), torch.as_tensor(SMPLH_PARENTS[:J])

            def run_torch_fk(rv=rv, rest_t=rest_t, par_t=par_t, trans_t=torch.as_tensor(trans)):
                with torch.no_grad():
                    return torch_fk(rv, rest_t, par_t) + trans_t[:, None]
            cases.append(Case(f"torch FK {J} joints", "torch", frames, run_torch_fk))

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
    from amass_fast import numba_backend
    numba_backend.set_num_threads(n)


def run_bench(frames: int, threads: int, quick: bool, progress: bool = True) -> dict:
    """Measure every case and return the report (see --json)."""
    set_threads(threads)
    with tempfile.TemporaryDirectory(prefix="amass-fast-bench-") as tmp:
        cases = build_cases(frames, quick, Path(tmp))
        rows = []
        for case in cases:
            if progress:
                print(f"  timing {case.name} [{case.backend}] ...", file=sys.stderr)
            rows.append(dict(name=case.name, backend=case.backend, frames=case.frames,
                             frames_per_s=time_case(case, 0.0 if quick else 0.5, 1 if quick else 3),
                             baseline=case.baseline))
    base = next((r["frames_per_s"] for r in rows if r["baseline"]), None)
    for r in rows:
        r["ratio_to_smplx"] = r["frames_per_s"] / base if base else None
    return dict(threads=threads, frames=frames, quick=quick, machine=platform.machine(),
                processor=platform.processor() or platform.machine(), python=platform.python_version(),
                results=rows, targets=_targets(rows))


def _targets(rows: list[dict]) -> list[dict]:
    def fps(name: str, backend: str) -> Optional[float]:
        return next((r["frames_per_s"] for r in rows if r["name"].startswith(name) and r["backend"] == backend),
                    None)

    cpp, numba_ = fps("convert_batch", "cpp"), fps("convert_batch", "numba")
    smplx_h, torch22 = fps("smplx forward smplh", "torch"), fps("torch FK 22", "torch")
    checks = [("convert_batch cpp / smplx forward smplh", cpp, smplx_h, 1000.0),
              ("convert_batch cpp / torch FK 22 joints", cpp, torch22, 20.0),
              ("convert_batch numba / cpp (>= 1/3)", numba_, cpp, 1.0 / 3.0)]
    return [dict(name=name, ratio=a / b, target=target, met=a / b >= target)
            for name, a, b, target in checks if a and b]


def format_table(report: dict) -> str:
    lines = [f"amass-fast bench: {report['frames']} source frames (SMPL+H, {SRC_FPS:g} fps), "
             f"{report['threads']} thread(s){', quick' if report['quick'] else ''}",
             f"{'workload':44} {'backend':>9} {'frames/s':>13} {'x smplx':>10}"]
    for r in report["results"]:
        ratio = f"{r['ratio_to_smplx']:.1f}" if r["ratio_to_smplx"] else "-"
        lines.append(f"{r['name']:44} {r['backend']:>9} {r['frames_per_s']:13,.0f} {ratio:>10}")
    if report["quick"]:  # tiny sizes: the figures show that everything runs, not how fast
        lines.append("(--quick: a smoke run; targets are judged on a full run)")
        return "\n".join(lines)
    for t in report["targets"]:
        lines.append(f"target {t['name']}: {t['ratio']:.1f} (>= {t['target']:.3g}) "
                     f"{'met' if t['met'] else 'NOT met'}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=THREADS_FLAG, default=1, metavar="N",
                        help=f"threads for every backend and torch, 1..{MAX_THREADS} (default 1)")
    parser.add_argument("--frames", type=int_range(2, 1_000_000), default=None, metavar="N",
                        help="source frames per workload (default 24000, i.e. 200 s at 120 fps; --quick: 480)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and one run each (a smoke test, not a measurement)")


def run(args: argparse.Namespace) -> int:
    frames = args.frames or (480 if args.quick else 24000)
    report = run_bench(frames, args.threads, args.quick, progress=not args.json)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0
