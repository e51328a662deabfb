"""The numba backend: amass_fast.kernels.numba_backend's parallel loops, writing straight into the outputs.

The loops compute in float64 whatever the input; the rest joints (small) go in as float64, as they always have."""
from __future__ import annotations

import numpy as np

from amass_fast.kernels import numba_backend as nb
from amass_fast.kernels.prepared import (ClipBatch, Fk, FkBackward, JointsBackward, JointsBatch, Project, Resample,
                                         StickBatch)


def _rest64(rest_joints) -> np.ndarray:
    return np.ascontiguousarray(rest_joints, dtype=np.float64)


def _sources(b: ClipBatch) -> tuple:
    return b._replace(rest_joints=_rest64(b.rest_joints)).sources


def fk(p: Fk) -> None:
    nb.fk_loop(p.poses, p.trans, _rest64(p.rest_joints), p.parents, p.out)


def fk_backward(p: FkBackward) -> None:
    a = p.fwd
    J = a.rest_joints.shape[0]
    grad_rest = p.grad_rest if p.grad_rest is not None else np.empty((0, J, 3), dtype=p.grad_poses.dtype)
    nb.fk_backward_loop(a.poses, a.trans, _rest64(a.rest_joints), a.parents, p.grad_out, p.grad_poses, p.grad_trans,
                        grad_rest)


def resample_poses(p: Resample) -> None:
    nb.resample_loop(p.poses, p.trans, p.src_fps, p.dst_fps, p.out_poses, p.out_trans)


def project(p: Project) -> None:
    nb.project_loop(p.joints, p.yaw_deg, p.view_mode, p.out)


def convert_batch(p: StickBatch) -> None:
    nb.convert_batch_loop(*_sources(p.batch), p.clip_yaw, p.batch.dst_fps, p.view_mode, p.out)


def convert_joints_batch(p: JointsBatch) -> None:
    nb.convert_joints_batch_loop(*_sources(p.batch), p.clip_scale, p.clip_camera, p.batch.dst_fps, p.up, p.out)


def convert_joints_batch_backward(p: JointsBackward) -> None:
    f = p.fwd
    nb.convert_joints_batch_backward_loop(*_sources(f.batch), f.clip_scale, f.clip_camera, f.batch.dst_fps, f.up,
                                          p.grad_out, p.grad_poses, p.grad_trans)
