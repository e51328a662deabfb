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
# for amass_fast._cuda checks every argument against the compiled module's own signatures (names, dtypes, host or
# device, writable, contiguous), then computes with the grid shim. This catches plumbing mistakes (argument order,
# scratch shapes, index dtypes, NumPy arrays left on the host) that would otherwise surface on the first GPU.

_PARAM = re.compile(r"(\w+): (?:ndarray\[dtype=(\w+), order='C', device='(\w+)'(, writable=False)?\]|(float|int))")
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

    def _bind(self, name: str, args: tuple, kwargs: dict) -> dict:
        torch = self.torch
        for overload in _signatures(getattr(self.cuda, name)):
            names = [p[0] for p in overload]
            if len(args) > len(names) or set(kwargs) - set(names[len(args):]):
                continue
            bound = dict(zip(names, args), **kwargs)
            if set(names) - set(bound) - {"stream"}:
                continue
            ok = True
            for pname, kind, device, writable in overload:
                value = bound.get(pname)
                if kind in ("float", "int"):
                    ok &= isinstance(value, (float, int) if kind == "float" else int) and not isinstance(value, bool)
                elif device == "cuda":  # stands in for a CUDA tensor: a contiguous CPU tensor of the exact dtype
                    ok &= (isinstance(value, torch.Tensor) and str(value.dtype) == f"torch.{kind}"
                           and value.is_contiguous() and not value.requires_grad)
                else:
                    ok &= isinstance(value, np.ndarray) and value.dtype == kind and value.flags.c_contiguous
            if ok:
                self.calls.append(name)
                assert bound.get("stream") == _STREAM, f"{name}: launched on {bound.get('stream')}, not the stream"
                return {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in bound.items()}
        raise TypeError(f"_cuda.{name}: incompatible arguments {[type(a).__name__ for a in args]} {list(kwargs)}")

    def fk(self, *args, **kwargs):
        a = self._bind("fk", args, kwargs)
        self.core.fk_gridshim(a["poses"], a["trans"], a["rest_joints"], a["parents"], a["out"], block_size=self.block_size)

    def resample_poses(self, *args, **kwargs):
        a = self._bind("resample_poses", args, kwargs)
        self.core.resample_poses_gridshim(a["poses"], a["trans"], a["src_fps"], a["dst_fps"], a["out_poses"], a["out_trans"],
                                 block_size=self.block_size)

    def project(self, *args, **kwargs):
        a = self._bind("project", args, kwargs)
        F = a["joints"].shape[0]
        assert a["kp_scratch"].shape == (1, F, 8, 3) and a["cam_scratch"].shape == (1, 5)
        self.core.project_gridshim(a["joints"], a["yaw_deg"], a["view_mode"], a["out"], block_size=self.block_size)

    def convert_batch(self, *args, **kwargs):
        a = self._bind("convert_batch", args, kwargs)
        C, W = a["out"].shape[:2]
        assert a["kp_scratch"].shape == (C, W, 8, 3) and a["cam_scratch"].shape == (C, 5)
        self.core.convert_batch_gridshim(*(a[k] for k in ("poses", "trans", "seq_offsets", "seq_fps", "rest_joints",
                                                          "parents", "clip_seq", "clip_start", "clip_len", "clip_yaw",
                                                          "dst_fps", "view_mode", "out")), block_size=self.block_size)

    def convert_joints_batch(self, *args, **kwargs):
        a = self._bind("convert_joints_batch", args, kwargs)
        C, W = a["out"].shape[:2]
        assert a["world_scratch"].shape == (C, W, 22, 3) and a["frame_scratch"].shape == (C, 18)
        self.core.convert_joints_batch_gridshim(
            *(a[k] for k in ("poses", "trans", "seq_offsets", "seq_fps", "rest_joints", "parents", "clip_seq",
                             "clip_start", "clip_len", "clip_scale", "clip_camera", "dst_fps", "up", "out")),
            block_size=self.block_size)


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
