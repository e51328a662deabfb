"""Fixtures every test folder shares: a small synthetic AMASS tree (built once per session), the backends and
dtypes of the kernels, the flags that keep `amass-fast process` quick on a tiny tree, and the host stand-in for
amass_fast._cuda (cuda_on_host).

The folders mirror the package's layers (io/, kernels/, schemas/, process/, labels/, humanml3d/, outputs/, cli/,
harness/), hostile/ holds the hostile corpus, and the top level tests the package, its imports and its documents.
Test files have distinct names across folders (pytest imports them by file name, the folders are not packages)."""
from __future__ import annotations

import contextlib
import re

import numpy as np
import pytest

from amass_fast import kernels
from amass_fast.harness import synthetic
from amass_fast.kernels import prepared, runtime
from amass_fast.kernels.backends import cuda as cuda_adapter

# The CPU backends this build offers, slowest (the float64 reference) first; cuda has its own tests (-m cuda).
CPU_BACKENDS = [b for b in ("reference", "numba", "cpp") if b in kernels.available_backends()]
DTYPES = [np.float32, np.float64]


@pytest.fixture(params=CPU_BACKENDS)
def backend(request):
    """Each CPU backend this build offers (a test that parametrises `backend` itself overrides this)."""
    return request.param


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    """float32 and float64, the two dtypes every kernel takes (a test that parametrises `dtype` overrides this)."""
    return request.param


@pytest.fixture(scope="session")
def amass_tree(tmp_path_factory):
    """A tiny synthetic AMASS tree, built once per session: CMU, BMLmovi and KIT, three files each of 1.5-3 s
    (amass_fast.harness.synthetic.make_tree, seed 1). Tests read it; one that changes a tree makes its own."""
    root = tmp_path_factory.mktemp("amass")
    synthetic.make_tree(root, ["CMU", "BMLmovi", "KIT"], files_per_dataset=3, seconds=(1.5, 3.0), seed=1)
    return root


def _fast_flags(backend: str = "reference", batch_files: int | None = 3, window: int | None = 25) -> list[str]:
    out = ["--window", str(window)] if window is not None else []
    out += ["--backend", backend, "--jobs", "1"]
    return out + (["--batch-files", str(batch_files)] if batch_files is not None else [])


@pytest.fixture(scope="session")
def fast_flags() -> list[str]:
    """The `amass-fast process` flags that keep a run on a tiny tree quick: 1 s windows (--window 25), the float64
    reference backend, one worker, three files per task."""
    return _fast_flags()


@pytest.fixture(scope="session")
def make_fast_flags():
    """`make_fast_flags(backend="reference", batch_files=3, window=25)`: fast_flags with another backend, files per
    task or window (None leaves that flag at its default)."""
    return _fast_flags


# ---------------------------------------------------------------------------------------------------------------
# The cuda branches of amass_fast.kernels on the host: CPU torch tensors stand in for CUDA ones, and a stand-in
# for amass_fast._cuda checks every call against the compiled module's own signature (argument names), the record
# (every array a "device" tensor but `parents`, a host array) and the scratch arrays (shapes, compute dtype,
# contiguous), then runs the record through _core's grid shim, which checks dtypes and shapes as _cuda does. This
# catches plumbing mistakes (scratch shapes, index dtypes, NumPy arrays left on the host) that would otherwise
# surface on the first GPU.

_PARAM = re.compile(r"(\w+): (?:ndarray\[dtype=(\w+), order='C', device='(\w+)'(, writable=False)?\]"
                    r"|(float|int|object))")
_STREAM = 0x5EED  # the stream the stand-in expects: the one the cuda adapter's _stream() returned


def _signatures(fn) -> list:
    """The overloads of a nanobind function, each [(name, dtype or scalar type, device or None, writable)]."""
    return [[(m[0], m[1] or m[4], m[2] or None, not m[3]) for m in _PARAM.findall(line)]
            for line in fn.__doc__.splitlines() if line.startswith(fn.__name__ + "(")]


class _CudaStandIn:
    """amass_fast._cuda with the real module's signatures, computing with _core's grid shim on CPU tensors."""

    def __init__(self, cuda, core, torch):
        self.cuda, self.core, self.torch = cuda, core, torch
        self.block_size = int(cuda.block_size)
        self.calls = []

    def _bind(self, name: str, args: tuple, kwargs: dict):
        """The record (as NumPy arrays for _core) and the scratch shapes of a call of _cuda.`name`."""
        names = [p[0] for p in _signatures(getattr(self.cuda, name))[0]]
        bound = dict(zip(names, args), **kwargs)
        if len(args) > len(names) or set(bound) != set(names):
            raise TypeError(f"_cuda.{name}: incompatible arguments {[type(a).__name__ for a in args]} {list(kwargs)}")
        assert bound.pop("stream") == _STREAM, f"{name}: launched on another stream, not the current one"
        record = self._on_host(name, bound.pop("p"))
        for key, value in bound.items():  # scratch: contiguous tensors in the compute dtype (that of `out`)
            assert isinstance(value, self.torch.Tensor) and value.is_contiguous() and not value.requires_grad, key
            assert value.numpy().dtype == record.out.dtype, f"{name}: `{key}` is {value.dtype}"
        self.calls.append(name)
        return record, {key: tuple(value.shape) for key, value in bound.items()}

    def _on_host(self, name: str, record):
        """`record` with its tensors as NumPy arrays; every array must be a tensor (on the device) but `parents`."""
        fields = {}
        for key, value in zip(record._fields, record):
            if key in ("batch", "fwd"):
                value = self._on_host(name, value)
            elif isinstance(value, self.torch.Tensor):
                assert key != "parents" and not value.requires_grad, f"{name}: `{key}` must be a host array"
                value = value.numpy()
            else:
                assert not isinstance(value, np.ndarray) or key == "parents", f"{name}: `{key}` left on the host"
            fields[key] = value
        return record._replace(**fields)

    def fk(self, *args, **kwargs):
        record, _ = self._bind("fk", args, kwargs)
        self.core.fk_gridshim(record, block_size=self.block_size)

    def resample_poses(self, *args, **kwargs):
        record, _ = self._bind("resample_poses", args, kwargs)
        self.core.resample_poses_gridshim(record, block_size=self.block_size)

    def project(self, *args, **kwargs):
        record, scratch = self._bind("project", args, kwargs)
        F = record.joints.shape[0]
        assert scratch == {"kp_scratch": (1, F, 8, 3), "cam_scratch": (1, 5)}
        self.core.project_gridshim(record, block_size=self.block_size)

    def convert_batch(self, *args, **kwargs):
        record, scratch = self._bind("convert_batch", args, kwargs)
        C, W = record.out.shape[:2]
        assert scratch == {"kp_scratch": (C, W, 8, 3), "cam_scratch": (C, 5)}
        self.core.convert_batch_gridshim(record, block_size=self.block_size)

    def convert_joints_batch(self, *args, **kwargs):
        record, scratch = self._bind("convert_joints_batch", args, kwargs)
        C, W = record.out.shape[:2]
        assert scratch == {"world_scratch": (C, W, 22, 3), "frame_scratch": (C, 18)}
        self.core.convert_joints_batch_gridshim(record, block_size=self.block_size)


def route_cuda_to_host(monkeypatch, stand_in: _CudaStandIn) -> None:
    """backend='cuda' accepted for CPU tensors and run by the cuda adapter on `stand_in`, on _STREAM."""
    monkeypatch.setitem(runtime._modules, "_cuda", stand_in)
    monkeypatch.setattr(runtime, "cuda_problem", lambda: None)
    resolve = prepared._resolve
    monkeypatch.setattr(prepared, "_resolve", lambda op, backend, on_cuda, tensor:
                        resolve(op, backend, on_cuda or backend == "cuda", tensor))
    monkeypatch.setattr(cuda_adapter, "_stream", lambda device: _STREAM)
    monkeypatch.setattr(cuda_adapter, "_device_guard", lambda device: contextlib.nullcontext())


@pytest.fixture
def cuda_on_host(monkeypatch):
    """kernels with backend='cuda' routed to _CudaStandIn for CPU tensors."""
    torch = pytest.importorskip("torch")
    core = pytest.importorskip("amass_fast._core")
    cuda = runtime.load("_cuda")
    if cuda is None:
        pytest.skip("amass_fast._cuda is not built (its signatures are what this checks)")
    stand_in = _CudaStandIn(cuda, core, torch)
    route_cuda_to_host(monkeypatch, stand_in)
    return torch, stand_in


@pytest.fixture(scope="session")
def nanobind_signatures():
    """_signatures: the overloads of a compiled (nanobind) function, read off its docstring."""
    return _signatures
