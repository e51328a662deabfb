"""The cpp backend: amass_fast._core (C++ and OpenMP), writing straight into the outputs; each op takes the record
itself (csrc/bindings.h reads its fields)."""
from __future__ import annotations

from amass_fast.kernels import runtime
from amass_fast.kernels.prepared import Fk, FkBackward, JointsBackward, JointsBatch, Project, Resample, StickBatch


_CORE = runtime.load("_core")  # this adapter runs only where _core imports (runtime.resolve_backend)


def fk(p: Fk) -> None:
    _CORE.fk(p)


def fk_backward(p: FkBackward) -> None:
    _CORE.fk_backward(p)


def resample_poses(p: Resample) -> None:
    _CORE.resample_poses(p)


def project(p: Project) -> None:
    _CORE.project(p)


def convert_batch(p: StickBatch) -> None:
    _CORE.convert_batch(p)


def convert_joints_batch(p: JointsBatch) -> None:
    _CORE.convert_joints_batch(p)


def convert_joints_batch_backward(p: JointsBackward) -> None:
    _CORE.convert_joints_batch_backward(p)
