"""The reference backend: amass_fast.kernels.reference's float64 whole-array functions, results cast into the outputs."""
from __future__ import annotations

from amass_fast.kernels import reference
from amass_fast.kernels.prepared import Fk, FkBackward, JointsBackward, JointsBatch, Project, Resample, StickBatch


def fk(p: Fk) -> None:
    p.out[...] = reference.fk(p.poses, p.trans, p.rest_joints, p.parents)


def fk_backward(p: FkBackward) -> None:
    a = p.fwd
    grads = reference.fk_backward(a.poses, a.trans, a.rest_joints, a.parents, p.grad_out)
    for out, grad in zip((p.grad_poses, p.grad_trans, p.grad_rest), grads):
        if out is not None:
            out[...] = grad


def resample_poses(p: Resample) -> None:
    p.out_poses[...], p.out_trans[...] = reference.resample_poses(p.poses, p.trans, p.src_fps, p.dst_fps)


def project(p: Project) -> None:
    p.out[...] = reference.project(p.joints, yaw_deg=p.yaw_deg, view_mode=p.view_mode)


def convert_batch(p: StickBatch) -> None:
    b = p.batch
    p.out[...] = reference.convert_batch(*b.sources, p.clip_yaw, dst_fps=b.dst_fps, window=b.window,
                                         view_mode=p.view_mode)


def convert_joints_batch(p: JointsBatch) -> None:
    b = p.batch
    p.out[...] = reference.convert_joints_batch(*b.sources, p.clip_scale, p.clip_camera, dst_fps=b.dst_fps,
                                                window=b.window, up=p.up, dim=p.out.shape[-1])


def convert_joints_batch_backward(p: JointsBackward) -> None:
    f = p.fwd
    p.grad_poses[...], p.grad_trans[...] = reference.convert_joints_batch_backward(
        *f.batch.sources, f.clip_scale, f.clip_camera, p.grad_out, dst_fps=f.batch.dst_fps, up=f.up)
