"""The cuda backend: amass_fast._cuda, launched on torch's current stream of the data's device.

_cuda takes the record of _core's op of the same name with its small index and rate arrays on the device (moved
here), then its scratch buffers (allocated here) and the stream."""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from amass_fast.kernels import runtime
from amass_fast.kernels.prepared import (Fk, FkBackward, JointsBackward, JointsBatch, Placement, Project, Resample,
                                         StickBatch)
from amass_fast.kernels.reference import FRAME_SIZE, NUM_BODY_JOINTS


def _cuda():
    return runtime.load("_cuda")


def _stream(device: Any) -> int:
    """torch's current stream on `device`, as the raw handle _cuda launches on."""
    return runtime.torch().cuda.current_stream(device).cuda_stream


def _device_guard(device: Any):
    """A context in which `device` is the current CUDA device."""
    return runtime.torch().cuda.device(device)


def _on_device(place: Placement, record: NamedTuple) -> NamedTuple:
    """`record` with its host arrays (all but `parents`), and those of the records it holds, on the compute device."""
    moved = {}
    for name, value in zip(record._fields, record):
        if isinstance(value, np.ndarray) and name != "parents":
            moved[name] = runtime.torch().from_numpy(np.ascontiguousarray(value)).to(place.device)
        elif name in ("batch", "fwd"):
            moved[name] = _on_device(place, value)
    return record._replace(**moved) if moved else record


def _launch(op: str, place: Placement, record: NamedTuple, *scratch) -> None:
    """_cuda's `op` on `record` and its scratch arrays, on the data's device and stream."""
    with _device_guard(place.device):
        getattr(_cuda(), op)(_on_device(place, record), *scratch, stream=_stream(place.device))


def fk(p: Fk) -> None:
    _launch("fk", p.place, p)


def fk_backward(p: FkBackward) -> None:
    _launch("fk_backward", p.fwd.place, p)


def resample_poses(p: Resample) -> None:
    _launch("resample_poses", p.place, p)


def project(p: Project) -> None:
    F = p.joints.shape[0]
    _launch("project", p.place, p, p.place.empty((1, F, 8, 3)), p.place.empty((1, 5)))


def convert_batch(p: StickBatch) -> None:
    b, place = p.batch, p.place
    _launch("convert_batch", place, p, place.empty((b.clips, b.window, 8, 3)), place.empty((b.clips, 5)))


def convert_joints_batch(p: JointsBatch) -> None:
    b, place = p.batch, p.place
    _launch("convert_joints_batch", place, p, place.empty((b.clips, b.window, NUM_BODY_JOINTS, 3)),
            place.empty((b.clips, FRAME_SIZE)))


def convert_joints_batch_backward(p: JointsBackward) -> None:
    b, place = p.fwd.batch, p.fwd.place
    world, grad_world = (place.empty((b.clips, b.window, NUM_BODY_JOINTS, 3)) for _ in range(2))
    frame, grad_rows = place.empty((b.clips, FRAME_SIZE)), place.empty((b.clips, b.window, 2, 3 * NUM_BODY_JOINTS + 3))
    _launch("convert_joints_batch_backward", place, p, world, grad_world, frame, grad_rows)
