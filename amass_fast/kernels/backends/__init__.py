"""The backends behind amass_fast.kernels, one adapter per backend with the same operations.

Each adapter runs a record that amass_fast.kernels.prepared made (one checking function per operation -> Placement,
Fk, FkBackward, Resample, Project, StickBatch, JointsBatch, JointsBackward); amass_fast.kernels.runtime says which
backends this install has and what "auto" means.

    reference    amass_fast.kernels.reference (float64 NumPy, the specification)
    numba        amass_fast.kernels.numba_backend (numba loops)
    cpp          amass_fast._core (C++ and OpenMP)
    cuda         amass_fast._cuda (CUDA kernels on torch's current stream)

Every adapter is the module of its backend's name (runtime.DEVICE lists the names and where each computes) with
the functions of ``Backend``: each takes one prepared record and writes its outputs (the record's ``out`` /
``out_poses``, ``out_trans`` / ``grad_*`` arrays), returning nothing. The checks are done once, when the record is
prepared; an adapter only calls its backend. The compiled backends take the record itself (csrc/bindings.h reads
its fields by name), so their adapters are one call; reference and numba spread it into their functions'
arguments.
"""
from __future__ import annotations

import importlib
from typing import Protocol

from amass_fast.kernels.prepared import Fk, FkBackward, JointsBackward, JointsBatch, Project, Resample, StickBatch

class Backend(Protocol):
    """The operations every adapter has."""

    def fk(self, p: Fk) -> None: ...
    def fk_backward(self, p: FkBackward) -> None: ...
    def resample_poses(self, p: Resample) -> None: ...
    def project(self, p: Project) -> None: ...
    def convert_batch(self, p: StickBatch) -> None: ...
    def convert_joints_batch(self, p: JointsBatch) -> None: ...
    def convert_joints_batch_backward(self, p: JointsBackward) -> None: ...


_adapters: dict = {}


def adapter(backend: str) -> Backend:
    """The adapter module of a resolved backend name ("reference", "numba", "cpp" or "cuda")."""
    module = _adapters.get(backend)
    if module is None:
        module = _adapters[backend] = importlib.import_module(f"amass_fast.kernels.backends.{backend}")
    return module


__all__ = ["Backend", "adapter"]
