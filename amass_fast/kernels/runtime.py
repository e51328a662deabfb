"""What runs where: the backend modules this install has, the one meaning of a backend name, threads, and the
memory a new output may take.

The compiled modules are imported on first use and kept (with the reason when one does not import, for messages).
torch is never imported here unless a GPU is there to use it: a tensor cannot exist before its caller imports torch.
"""
from __future__ import annotations

import importlib
import math
import os
import sys
from typing import Any, Optional

from amass_fast import _build

MAX_THREADS = 1024            # more threads than this is a typo, and huge counts can crash OpenMP runtimes

#: Where each backend computes, fastest first: "cuda" on torch tensors on the data's GPU, "cpu" on NumPy arrays in
#: host memory. A new backend is a line here and an adapter module in kernels/backends/.
DEVICE = {"cuda": "cuda", "cpp": "cpu", "numba": "cpu", "reference": "cpu"}
BACKENDS = tuple(DEVICE)

# amass_fast.<name> -> the module or None (then "<name>:error" holds the ImportError); "_cuda:runtime" caches
# _cuda.runtime_info().
_modules: dict = {}


def load(name: str):
    """amass_fast.<name>, or None if it does not import (cached; the error is kept for messages)."""
    if name not in _modules:
        try:
            _modules[name] = importlib.import_module(f"amass_fast.{name}")
        except ImportError as exc:
            _modules[name] = None
            _modules[name + ":error"] = exc
    return _modules[name]


def torch():
    """torch if the caller has imported it; a tensor cannot exist otherwise, so never import it here."""
    return sys.modules.get("torch")


def is_tensor(x: Any) -> bool:
    """True for a torch tensor (without importing torch)."""
    t = torch()
    return t is not None and isinstance(x, t.Tensor)


def cuda_problem() -> Optional[str]:
    """Why the cuda backend cannot run here, or None when it can. Checks torch and the module's own (static) CUDA
    runtime, which can need a newer driver than torch's: then cuda is not offered rather than failing later."""
    cuda = load("_cuda")
    if cuda is None:
        return f"amass_fast._cuda does not import: {_modules.get('_cuda:error')}; rebuild with AMASS_FAST_CUDA=ON"
    t = torch()
    if t is None or not t.cuda.is_available():
        return "torch sees no GPU"
    info = _cuda_runtime(cuda)
    if info["device_count"] < 1:
        return f"amass_fast._cuda finds no GPU: {info['error']}"
    return None


def _cuda_runtime(cuda) -> dict:
    """_cuda.runtime_info(), asked once: the driver does not change while the process runs."""
    if "_cuda:runtime" not in _modules:
        _modules["_cuda:runtime"] = cuda.runtime_info()
    return _modules["_cuda:runtime"]


def available_backends() -> list:
    """The backends that work on this machine, fastest first: "cuda" only where _cuda is built and torch sees a
    GPU, "cpp" where _core is built, "numba" where numba imports, "reference" always."""
    cuda = load("_cuda")
    if "torch" not in sys.modules and cuda is not None and _cuda_runtime(cuda)["device_count"] > 0:
        try:  # the CUDA backend takes torch tensors: import torch (seconds) only where a GPU is there to use
            import torch as _  # noqa: F401
        except ImportError:
            pass
    names = []
    if cuda_problem() is None:
        names.append("cuda")
    if load("_core") is not None:
        names.append("cpp")
    if load("kernels.numba_backend") is not None:
        names.append("numba")
    names.append("reference")
    return names


def resolve_backend(requested: str = "auto", *, data_on: str = "any", op: str = "backend") -> str:
    """The one meaning of a backend name, for every caller (the kernels, `amass-fast process`).

    "auto": "cuda" where it is usable and the data are on a GPU (data_on="cuda") or may be put there
    (data_on="any": a caller that moves the data itself); otherwise the first of "cpp", "numba", "reference" that
    imports. A named backend is returned if it can run here, else RuntimeError (ValueError for an unknown name)
    saying why and what to do. data_on: "cpu", "cuda" or "any"."""
    if requested not in BACKENDS + ("auto",):
        raise ValueError(f"{op}: backend must be one of auto, {', '.join(BACKENDS)}; got {requested!r}")
    if requested == "auto":
        if data_on in ("cuda", "any") and cuda_problem() is None:
            return "cuda"
        if load("_core") is None:  # never silently ten times slower: warn once, naming the fix
            _build.warn_no_core(f"it does not import: {_modules.get('_core:error')}")
        return next(b for b, module in (("cpp", "_core"), ("numba", "kernels.numba_backend"), ("reference", "kernels.reference"))
                    if load(module) is not None)
    if requested == "cuda":
        problem = cuda_problem()
        if problem is not None:
            raise RuntimeError(f"{op}: backend='cuda' is unavailable here ({problem})")
    if requested == "cpp" and load("_core") is None:
        raise RuntimeError(f"{op}: backend='cpp' is unavailable: amass_fast._core does not import "
                           f"({_modules.get('_core:error')}); build it with tools/build_inplace.sh or "
                           f"`pip install .`")
    if requested == "numba" and load("kernels.numba_backend") is None:
        raise RuntimeError(f"{op}: backend='numba' is unavailable: {_modules.get('kernels.numba_backend:error')}")
    return requested


def set_threads(count: Optional[int]) -> None:
    """Threads of the CPU backends (cpp's OpenMP loops and numba's parallel loops), already checked by the caller;
    None restores cpp's default."""
    core = load("_core")
    if count is None:
        if core is not None:
            core.set_num_threads(0)
        return
    if core is not None:
        core.set_num_threads(count)
    nb = load("kernels.numba_backend")
    if nb is not None:
        nb.set_num_threads(count)


def get_num_threads() -> int:
    """Threads the cpp backend uses (1 if it is not built)."""
    core = load("_core")
    return core.get_num_threads() if core is not None else 1


# ---------------------------------------------------------------------------------------------------------------
# Memory: every output a kernel allocates is checked against what the device can give, before it is allocated.

#: Outputs smaller than this are not checked (asking the system costs more than they do).
CHECKED_BYTES = 64 << 20


def _meminfo_available() -> Optional[int]:
    """MemAvailable of /proc/meminfo in bytes (Linux), else free physical pages (other Unix), else None."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _address_space_left() -> Optional[int]:
    """What the address-space limit (ulimit -v, RLIMIT_AS) leaves this process, or None without one."""
    try:
        import resource
    except ImportError:  # not Unix
        return None
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft == resource.RLIM_INFINITY:
        return None
    used = 0
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmSize:"):
                    used = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - used)


def memory_available(device: Any = None) -> tuple[Optional[int], str]:
    """(bytes a new allocation may take, what that limit is) on the host (device None) or a CUDA device; (None, "")
    when the system does not say."""
    if device is not None:
        t = torch()
        free, _ = t.cuda.mem_get_info(device)
        cached = t.cuda.memory_reserved(device) - t.cuda.memory_allocated(device)  # reusable by torch's allocator
        return free + cached, f"memory free on {device}"
    limits = [(n, what) for n, what in ((_meminfo_available(), "memory available on this machine"),
                                        (_address_space_left(), "address space this process has left under its "
                                                                "limit (ulimit -v)"))
              if n is not None]
    return min(limits) if limits else (None, "")


_SPLIT = "split the call into smaller batches (fewer clips, frames or poses per call)"


def check_allocation(op: str, shape: tuple, itemsize: int, device: Any = None, what: str = "the output",
                     fix: str = _SPLIT) -> None:
    """Refuse (MemoryError naming ``op``, the planned size and the limit) an output of ``shape`` (``what`` it is)
    that the host (or the CUDA ``device``) cannot hold, before it is allocated: a huge call fails at once with a
    message instead of in the allocator, or by swapping, or by the system's out-of-memory killer. ``fix`` ends the
    message: what the caller can do."""
    size = itemsize * math.prod(int(n) for n in shape)
    if size < CHECKED_BYTES:
        return
    limit, where = memory_available(device)
    if limit is not None and size > limit:
        raise MemoryError(f"{op}: {what} {list(shape)} needs {size / 2**30:.3g} GiB, more than the "
                          f"{limit / 2**30:.3g} GiB of {where}; {fix}")
