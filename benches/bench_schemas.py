"""Throughput of the schema transforms: stored joints3d -> random camera (+ mirror) -> stick12 with physics, in
clip-frames per second on one core (and on the GPU when there is one).

    PYTHONPATH=. python benches/bench_schemas.py [--clips 256] [--frames 250] [--threads 1]

Rows: the torch transforms on a whole batch (amass_fast.schemas.transforms), the same transforms called per sample
(as a Dataset's transform runs), a plain-torch per-sample version that builds each camera's rotation matrix and
loops over the segments in Python (how such augmentation is usually written inline), and the float64 NumPy
reference. Each row's output is checked against the reference before it is timed.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from amass_fast.schemas import Camera, layouts, mirror_joints, physics, project, stick12
from amass_fast.schemas import transforms as tf


def _joints3d(clips: int, frames: int, seed: int = 0) -> np.ndarray:
    """Canonical joints3d [clips, frames, 22, 3] from synthetic walks (one FK, then tiled with offsets)."""
    import amass_fast as af
    from amass_fast.harness import synthetic
    from amass_fast.io.body_models import default_body_model
    from amass_fast.schemas import canonical_joints

    model = default_body_model(warn=False)
    poses, trans = synthetic.motion_curves("walk", int(frames * 120 / 25) + 1, 120.0, np.random.default_rng(seed))
    one = canonical_joints(af.fk(*af.resample_poses(poses, trans, 120.0), model.rest_joints(), model.parents))
    one = one[:frames]
    shift = np.random.default_rng(seed).normal(scale=0.05, size=(clips, 1, 1, 3))
    return (one[None] + shift).astype(np.float32)


def _plain_torch(j3: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Orthographic/perspective camera as a rotation matrix, segments gathered one by one, torch.gradient:
    [T, 22, 3] -> (stick12 [T, 48], physics [T, 6])."""
    yaw, elev = torch.deg2rad(cam[1]), torch.deg2rad(cam[2])
    right = torch.stack([torch.cos(yaw), torch.sin(yaw), torch.zeros(())])
    fwd = torch.stack([-torch.sin(yaw) * torch.cos(elev), torch.cos(yaw) * torch.cos(elev), -torch.sin(elev)])
    rot = torch.stack([right, torch.linalg.cross(right, fwd), fwd]).to(j3.dtype)
    local = j3 @ rot.T
    if cam[0] != 0:
        pelvis = 0.5 * (j3[:, 1] + j3[:, 2])
        target = torch.cat([pelvis[:, :2], torch.full((len(j3), 1), float(cam[5]), dtype=j3.dtype)], 1)
        t = target @ rot.T
        q = local - t[:, None]
        depth = torch.clamp(q[..., 2] + float(cam[3]), min=0.1)
        local = torch.cat([q[..., :2] * (float(cam[3]) / depth)[..., None] + t[:, None, :2], q[..., 2:]], -1)
    j2 = local[..., :2]
    segs = []
    for _, a, b in layouts.STICK12:
        for p in (a, b):
            if isinstance(p, str):
                i, k = layouts.DERIVED[p]
                segs.append(0.5 * (j2[:, i] + j2[:, k]))
            else:
                segs.append(j2[:, p])
    motion = torch.cat(segs, dim=-1)
    c = torch.stack(segs).mean(dim=0)                        # mean of the 24 endpoints [T, 2]
    v = torch.gradient(c, spacing=0.04, dim=0)[0]
    a = torch.gradient(v, spacing=0.04, dim=0)[0]
    return motion, torch.cat([v, a, v], dim=-1)


def _kernel_rows(clips: int, frames: int, cams: np.ndarray, threads: int) -> list:
    """The fused kernels from source poses (120 fps) instead of stored joints3d: resample + FK + canonical frame +
    camera per clip (+ the stick12 gather), float32, without physics or mirroring; rows per available CPU backend."""
    import amass_fast as af
    from amass_fast import kernels
    from amass_fast.harness import synthetic
    from amass_fast.io.body_models import default_body_model

    model = default_body_model(warn=False)
    poses, trans = synthetic.motion_curves("walk", int(frames * 120 / 25) + 1, 120.0, np.random.default_rng(0))
    poses, trans = poses.astype(np.float32), trans.astype(np.float32)
    rest = model.rest_joints()[None, :22].astype(np.float32)
    kernels.set_num_threads(threads)
    zeros = np.zeros(clips, dtype=np.int64)
    rows = []
    for backend in [b for b in ("cpp", "numba") if b in kernels.available_backends()]:
        def fused(backend=backend):
            return af.convert_batch(poses, trans, [0, len(poses)], [120.0], rest, model.parents[:22], zeros, zeros,
                                    np.full(clips, frames), window=frames, schema="stick12", cameras=cams,
                                    backend=backend)
        rows.append((f"fused kernel ({backend}), from poses", fused, clips * frames))
    return rows


def _time(fn, repeat: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = _joints3d(args.clips, args.frames)
    x = torch.from_numpy(data)
    cams = tf.RandomCamera("perspective", seed=0).draw(args.clips)
    to_stick12 = tf.ToSchema("stick12")
    reference = [stick12(project(mirror_joints(data[i]), Camera.unpack(cams[i]))) for i in range(2)]

    def batch(xs=x):
        return to_stick12({"motion": tf.project(tf.mirror_joints(xs), cams.to(xs.device))})

    def per_sample():
        return [to_stick12({"motion": tf.project(tf.mirror_joints(x[i]), cams[i])}) for i in range(len(x))]

    def plain():
        return [_plain_torch(tf.mirror_joints(x[i]), cams[i]) for i in range(len(x))]

    def numpy_reference():
        out = []
        for i in range(min(len(data), 32)):
            m = stick12(project(mirror_joints(data[i]), Camera.unpack(cams[i])))
            out.append((m, physics(m)))
        return out

    check = {"batch": batch()["motion"][:2], "per sample": [s["motion"] for s in per_sample()[:2]],
             "plain torch": [m for m, _ in plain()[:2]]}
    for name, got in check.items():
        for i in range(2):
            np.testing.assert_allclose(np.asarray(got[i], dtype=np.float64), reference[i], atol=1e-4, err_msg=name)
    frames = args.clips * args.frames
    rows = [("transforms, whole batch", batch, frames), ("transforms, per sample", per_sample, frames),
            ("plain torch, per sample", plain, frames),
            ("float64 NumPy reference", numpy_reference, min(args.clips, 32) * args.frames)]
    rows += _kernel_rows(args.clips, args.frames, cams.numpy(), args.threads)
    if torch.cuda.is_available():
        xc = x.cuda()

        def gpu():
            out = batch(xc)["motion"]
            torch.cuda.synchronize()
            return out

        rows.append(("transforms, whole batch, cuda", gpu, frames))
    print(f"mirror + perspective camera + stick12 with physics; {args.clips} clips x {args.frames} frames, "
          f"{args.threads} thread(s)")
    for name, fn, n in rows:
        print(f"  {name:32s} {n / _time(fn) / args.threads:14,.0f} clip-frames/s per core")


if __name__ == "__main__":
    main()
