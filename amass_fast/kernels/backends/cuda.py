"""The cuda backend: amass_fast._cuda, launched on torch's current stream of the data's device.

_cuda takes _core's arguments in the same order, the small index and rate arrays on the device (moved here), then
its scratch buffers (allocated here) and the stream."""
from __future__ import annotations

from typing import Any

import numpy as np

from amass_fast.kernels import runtime
from amass_fast.kernels.prepared import Fk, FkBackward, JointsBatch, Placement, Project, Resample, StickBatch
from amass_fast.kernels.reference import FRAME_SIZE, NUM_BODY_JOINTS


def _cuda():
    return runtime.load("_cuda")


def _stream(device: Any) -> int:
    """torch's current stream on `device`, as the raw handle _cuda launches on."""
    return runtime.torch().cuda.current_stream(device).cuda_stream


def _device_guard(device: Any):
    """A context in which `device` is the current CUDA device."""
    return runtime.torch().cuda.device(device)


def _dev(place: Placement, a: np.ndarray):
    """A host array on the compute device."""
    return runtime.torch().from_numpy(np.ascontiguousarray(a)).to(place.device)


def fk(p: Fk) -> None:
    with _device_guard(p.place.device):
        _cuda().fk(p.poses, p.trans, p.rest_joints, p.parents, p.out, stream=_stream(p.place.device))


def fk_backward(p: FkBackward) -> None:
    a = p.fwd
    with _device_guard(a.place.device):
        _cuda().fk_backward(a.poses, a.trans, a.rest_joints, a.parents, p.grad_out, p.grad_poses, p.grad_trans,
                            p.grad_rest, stream=_stream(a.place.device))


def resample_poses(p: Resample) -> None:
    with _device_guard(p.place.device):
        _cuda().resample_poses(p.poses, p.trans, p.src_fps, p.dst_fps, p.out_poses, p.out_trans,
                               stream=_stream(p.place.device))


def project(p: Project) -> None:
    F = p.joints.shape[0]
    kp, cam = p.place.empty((1, F, 8, 3)), p.place.empty((1, 5))
    with _device_guard(p.place.device):
        _cuda().project(p.joints, p.yaw_deg, p.view_mode, p.out, kp, cam, stream=_stream(p.place.device))


def convert_batch(p: StickBatch) -> None:
    b, place = p.batch, p.place
    kp, cam = place.empty((b.clips, b.window, 8, 3)), place.empty((b.clips, 5))
    with _device_guard(place.device):
        _cuda().convert_batch(b.poses, b.trans, _dev(place, b.seq_offsets), _dev(place, b.seq_fps), b.rest_joints,
                              b.parents, _dev(place, b.clip_seq), _dev(place, b.clip_start), _dev(place, b.clip_len),
                              _dev(place, p.clip_yaw), b.dst_fps, p.view_mode, p.out, kp, cam,
                              stream=_stream(place.device))


def convert_joints_batch(p: JointsBatch) -> None:
    b, place = p.batch, p.place
    world, frame = place.empty((b.clips, b.window, NUM_BODY_JOINTS, 3)), place.empty((b.clips, FRAME_SIZE))
    with _device_guard(place.device):
        _cuda().convert_joints_batch(b.poses, b.trans, _dev(place, b.seq_offsets), _dev(place, b.seq_fps),
                                     b.rest_joints, b.parents, _dev(place, b.clip_seq), _dev(place, b.clip_start),
                                     _dev(place, b.clip_len), _dev(place, p.clip_scale), _dev(place, p.clip_camera),
                                     b.dst_fps, p.up, p.out, world, frame, stream=_stream(place.device))


def convert_joints_batch_backward(p: JointsBatch, grad_out):
    b, place = p.batch, p.place
    torch = runtime.torch()
    dtype = b.poses.dtype
    grad_poses = torch.zeros(b.poses.shape, dtype=dtype, device=b.poses.device)
    grad_trans = torch.zeros(b.trans.shape, dtype=dtype, device=b.poses.device)
    world, grad_world = (place.empty((b.clips, b.window, NUM_BODY_JOINTS, 3)) for _ in range(2))
    frame, grad_rows = place.empty((b.clips, FRAME_SIZE)), place.empty((b.clips, b.window, 2, 3 * NUM_BODY_JOINTS + 3))
    with _device_guard(place.device):
        _cuda().convert_joints_batch_backward(b.poses, b.trans, _dev(place, b.seq_offsets), _dev(place, b.seq_fps),
                                              b.rest_joints, b.parents, _dev(place, b.clip_seq),
                                              _dev(place, b.clip_start), _dev(place, b.clip_len),
                                              _dev(place, p.clip_scale), _dev(place, p.clip_camera), b.dst_fps, p.up,
                                              grad_out.contiguous(), grad_poses, grad_trans, world, grad_world, frame,
                                              grad_rows, stream=_stream(place.device))
    return grad_poses, grad_trans
