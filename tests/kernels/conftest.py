"""Batches for the kernel tests of this folder, as fixtures that return a builder (call it with the arguments), and
the grid shim that runs the CUDA kernel bodies on the host behind the cpp adapter."""
from __future__ import annotations

import numpy as np
import pytest

from amass_fast import kernels
from amass_fast.kernels import reference, runtime
from amass_fast.kernels.backends import cpp as cpp_adapter


def _one_batch(seed: int = 0, frames=(50, 20), fps=(60.0, 100.0), window=8, dtype=np.float64):
    """Keyword arguments of convert_batch: one window from the start of each sequence plus a one-frame clip at
    the end of the last sequence."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(frames)]).astype(np.int64)
    N, S = int(offsets[-1]), len(frames)
    T = [reference.resampled_length(F, f, 25.0) for F, f in zip(frames, fps)]
    clips = [(s, 0, min(window, T[s])) for s in range(S)] + [(S - 1, T[-1] - 1, 1)]
    clip_seq, clip_start, clip_len = (np.array(c, dtype=np.int64) for c in zip(*clips))
    return dict(
        poses=rng.normal(0, 0.5, (N, 66)).astype(dtype), trans=rng.normal(0, 1, (N, 3)).astype(dtype),
        seq_offsets=offsets, seq_fps=np.array(fps), rest_joints=rng.normal(0, 0.3, (S, 22, 3)).astype(dtype),
        parents=reference.BODY_PARENTS.copy(), clip_seq=clip_seq, clip_start=clip_start, clip_len=clip_len,
        clip_yaw=rng.uniform(-180, 180, len(clips)), window=window)


def _many_clips_batch(seed: int = 5, window: int = 250, dtype=np.float64):
    """The real launch shape: window 250 (> one block), more clips than a block's threads, clips of every length
    from 1 frame to a full window (so padding frames fall in the middle and at the end of blocks)."""
    rng = np.random.default_rng(seed)
    frames, fps = (3000, 1200, 701, 1), (120.0, 59.99999, 100.0, 30.0)
    offsets = np.concatenate([[0], np.cumsum(frames)]).astype(np.int64)
    T = [reference.resampled_length(F, f, 25.0) for F, f in zip(frames, fps)]
    clip_seq, clip_start, clip_len = [], [], []
    for c in range(150):
        s = c % 3 if c != 149 else 3
        n = 1 + (37 * c) % window if s != 3 else 1
        n = min(n, T[s])
        clip_seq.append(s), clip_start.append(int(rng.integers(0, T[s] - n + 1))), clip_len.append(n)
    N = int(offsets[-1])
    return dict(
        poses=rng.normal(0, 0.5, (N, 66)).astype(dtype), trans=rng.normal(0, 1, (N, 3)).astype(dtype),
        seq_offsets=offsets, seq_fps=np.array(fps), rest_joints=rng.normal(0, 0.3, (4, 22, 3)).astype(dtype),
        parents=reference.BODY_PARENTS.copy(), clip_seq=np.array(clip_seq, np.int64),
        clip_start=np.array(clip_start, np.int64), clip_len=np.array(clip_len, np.int64),
        clip_yaw=rng.uniform(-180, 180, len(clip_seq)), window=window)


@pytest.fixture(scope="session")
def one_batch():
    """_one_batch: a small ragged batch, one clip per sequence and a one-frame clip."""
    return _one_batch


@pytest.fixture(scope="session")
def many_clips_batch():
    """_many_clips_batch: the real launch shape (several blocks, a partial last block)."""
    return _many_clips_batch


class GridShimCore:
    """amass_fast._core with every op that has a grid-shim twin (``NAME_gridshim``: its CUDA kernels run on the
    host, grid-serially) running that twin, so the cpp adapter, and everything above it, runs the CUDA kernel
    bodies; the other ops pass through."""

    def __init__(self, core, block_size: int):
        self.core, self.block_size = core, block_size

    def __getattr__(self, name):
        shim = getattr(self.core, f"{name}_gridshim", None)
        if shim is None:
            return getattr(self.core, name)
        return lambda *args: shim(*args, block_size=self.block_size)


# The backends with an analytic backward that run here: the CPU ones and "gridshim", cpp with the CUDA kernels run on
# the host (cpu_backend).
GRAD_BACKENDS = [b for b in ("reference", "numba", "cpp") if b in kernels.available_backends()]
GRAD_BACKENDS += ["gridshim"] if "cpp" in GRAD_BACKENDS else []


@pytest.fixture(params=GRAD_BACKENDS)
def grad_backend(request, cpu_backend):
    """Each of GRAD_BACKENDS as the name to pass to kernels.fk / kernels.convert_batch; the grid shim runs blocks of
    the test module's GRIDSHIM_BLOCK threads (7 unless it sets one)."""
    return cpu_backend(request.param, getattr(request.module, "GRIDSHIM_BLOCK", 7))


@pytest.fixture
def cpu_backend(monkeypatch):
    """(name, block_size) -> the backend name to pass: "gridshim" is cpp with the CUDA kernels run on the host
    (blocks of ``block_size`` threads, small so that several blocks and a partial one run); others as they are."""
    def use(name: str, block_size: int) -> str:
        if name == "gridshim":
            monkeypatch.setattr(cpp_adapter, "_CORE", GridShimCore(runtime.load("_core"), block_size))
            return "cpp"
        return name

    return use
