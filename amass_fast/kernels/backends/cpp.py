"""The cpp backend: amass_fast._core (C++ and OpenMP), writing straight into the outputs."""
from __future__ import annotations

import numpy as np

from amass_fast.kernels import runtime
from amass_fast.kernels.prepared import Fk, FkBackward, JointsBatch, Project, Resample, StickBatch


_CORE = runtime.load("_core")  # this adapter runs only where _core imports (runtime.resolve_backend)


def fk(p: Fk) -> None:
    _CORE.fk(p.poses, p.trans, p.rest_joints, p.parents, p.out)


def fk_backward(p: FkBackward) -> None:
    a = p.fwd
    _CORE.fk_backward(a.poses, a.trans, a.rest_joints, a.parents, p.grad_out, p.grad_poses, p.grad_trans,
                      p.grad_rest)


def resample_poses(p: Resample) -> None:
    _CORE.resample_poses(p.poses, p.trans, p.src_fps, p.dst_fps, p.out_poses, p.out_trans)


def project(p: Project) -> None:
    _CORE.project(p.joints, p.yaw_deg, p.view_mode, p.out)


def convert_batch(p: StickBatch) -> None:
    b = p.batch
    _CORE.convert_batch(b.poses, b.trans, b.seq_offsets, b.seq_fps, b.rest_joints, b.parents, b.clip_seq,
                          b.clip_start, b.clip_len, p.clip_yaw, b.dst_fps, p.view_mode, p.out)


def convert_joints_batch(p: JointsBatch) -> None:
    b = p.batch
    _CORE.convert_joints_batch(b.poses, b.trans, b.seq_offsets, b.seq_fps, b.rest_joints, b.parents, b.clip_seq,
                                 b.clip_start, b.clip_len, p.clip_scale, p.clip_camera, b.dst_fps, p.up, p.out)


def convert_joints_batch_backward(p: JointsBatch, grad_out):
    b = p.batch
    grad_poses, grad_trans = np.empty(b.poses.shape, b.poses.dtype), np.empty(b.trans.shape, b.poses.dtype)
    _CORE.convert_joints_batch_backward(b.poses, b.trans, b.seq_offsets, b.seq_fps, b.rest_joints, b.parents,
                                        b.clip_seq, b.clip_start, b.clip_len, p.clip_scale, p.clip_camera,
                                        b.dst_fps, p.up, grad_out, grad_poses, grad_trans)
    return grad_poses, grad_trans
