"""The numba backend: amass_fast.kernels.numba_backend's parallel loops, writing straight into the outputs.

The loops compute in float64 whatever the input; the rest joints (small) go in as float64, as they always have."""
from __future__ import annotations

import numpy as np

from amass_fast.kernels import numba_backend as nb
from amass_fast.kernels.prepared import Fk, FkBackward, JointsBatch, Project, Resample, StickBatch


def fk(p: Fk) -> None:
    nb.fk_loop(p.poses, p.trans, np.ascontiguousarray(p.rest_joints, dtype=np.float64), p.parents, p.out)


def fk_backward(p: FkBackward) -> None:
    a = p.fwd
    J = a.rest_joints.shape[0]
    grad_rest = p.grad_rest if p.grad_rest is not None else np.empty((0, J, 3), dtype=p.grad_poses.dtype)
    nb.fk_backward_loop(a.poses, a.trans, np.ascontiguousarray(a.rest_joints, dtype=np.float64), a.parents,
                        p.grad_out, p.grad_poses, p.grad_trans, grad_rest)


def resample_poses(p: Resample) -> None:
    nb.resample_loop(p.poses, p.trans, p.src_fps, p.dst_fps, p.out_poses, p.out_trans)


def project(p: Project) -> None:
    nb.project_loop(p.joints, p.yaw_deg, p.view_mode, p.out)


def convert_batch(p: StickBatch) -> None:
    b = p.batch
    nb.convert_batch_loop(b.poses, b.trans, b.seq_offsets, b.seq_fps,
                          np.ascontiguousarray(b.rest_joints, dtype=np.float64), b.parents, b.clip_seq, b.clip_start,
                          b.clip_len, p.clip_yaw, b.dst_fps, p.view_mode, p.out)


def convert_joints_batch(p: JointsBatch) -> None:
    b = p.batch
    nb.convert_joints_batch_loop(b.poses, b.trans, b.seq_offsets, b.seq_fps,
                                 np.ascontiguousarray(b.rest_joints, dtype=np.float64), b.parents, b.clip_seq,
                                 b.clip_start, b.clip_len, p.clip_scale, p.clip_camera, b.dst_fps, p.up, p.out)


def convert_joints_batch_backward(p: JointsBatch, grad_out):
    b = p.batch
    grad_poses, grad_trans = np.empty(b.poses.shape, b.poses.dtype), np.empty(b.trans.shape, b.poses.dtype)
    nb.convert_joints_batch_backward_loop(b.poses, b.trans, b.seq_offsets, b.seq_fps,
                                          np.ascontiguousarray(b.rest_joints, dtype=np.float64), b.parents,
                                          b.clip_seq, b.clip_start, b.clip_len, p.clip_scale, p.clip_camera,
                                          b.dst_fps, p.up, grad_out, grad_poses, grad_trans)
    return grad_poses, grad_trans
