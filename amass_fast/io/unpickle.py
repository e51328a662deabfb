"""The restricted unpickler of .pkl body-model files (SMPL+H / SMPL-X as their releases ship them: Python 2
pickles of numpy arrays, scipy sparse matrices and chumpy arrays). Nothing else is rebuilt: any other class is
refused by name, so a hostile pickle cannot run code. Neither scipy nor chumpy is imported; stand-ins keep their
pickled state and become plain ndarrays.

    load_arrays(fh, path) -> {key: ndarray}     PickleRefused (a ValueError naming the file) when refused
"""
from __future__ import annotations

import io
import pickle

import numpy as np


class PickleRefused(ValueError):
    """A model pickle holds something other than arrays, or an array that cannot be recovered."""


try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct as _np_reconstruct, scalar as _np_scalar
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct, scalar as _np_scalar


class _ChumpyValue:
    """Stands in for any chumpy class: keeps the pickled state; its value is state['x']."""

    def __setstate__(self, state):
        self.state = state


class _SparseValue:
    """Stands in for scipy.sparse csc/csr matrices: keeps the pickled state, densified by _plain()."""

    format = "csc"

    def __setstate__(self, state):
        self.state = state


class _CsrValue(_SparseValue):
    format = "csr"


def _safe_reconstructor(cls, base, state):
    """copyreg._reconstructor restricted to the stand-in classes (protocol 0/1 pickles of new-style objects)."""
    if cls not in (_ChumpyValue, _SparseValue, _CsrValue) or base is not object:
        raise pickle.UnpicklingError(f"refusing to rebuild {cls!r} on {base!r}")
    return object.__new__(cls)


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """_codecs.encode as Python 3 pickles bytes at protocol 2 (Python 2 files use plain byte strings)."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("refusing _codecs.encode with unexpected arguments")
    return text.encode("latin1")


_ALLOWED = {
    ("_codecs", "encode"): _latin1_bytes,
    ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy.core.multiarray", "scalar"): _np_scalar,
    ("numpy._core.multiarray", "scalar"): _np_scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("copy_reg", "_reconstructor"): _safe_reconstructor,
    ("copyreg", "_reconstructor"): _safe_reconstructor,
    ("__builtin__", "object"): object,
    ("builtins", "object"): object,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Python-2 model pickles (latin1) with only arrays, sparse matrices and chumpy arrays allowed."""

    def __init__(self, fh: io.BufferedReader, path: str):
        super().__init__(fh, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "chumpy" or module.startswith("chumpy."):
            return _ChumpyValue
        if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix"):
            return _SparseValue if name == "csc_matrix" else _CsrValue
        raise PickleRefused(f"refusing to load class {module}.{name} from {self.path}: model pickles may hold only "
                             f"numpy arrays, scipy sparse matrices and chumpy arrays; convert the file to .npz")


def _plain(value, path: str, key: str):
    """Stand-ins -> ndarrays."""
    if isinstance(value, _ChumpyValue):
        state = value.state if isinstance(getattr(value, "state", None), dict) else {}
        if "x" not in state:
            raise PickleRefused(f"{path}: {key} is a chumpy expression without a stored value; convert to .npz")
        return np.asarray(state["x"])
    if isinstance(value, _SparseValue):
        state = getattr(value, "state", {})
        try:
            shape = tuple(state.get("_shape", state.get("shape")))
            data, indices, indptr = (np.asarray(state[k]) for k in ("data", "indices", "indptr"))
        except (KeyError, TypeError) as exc:
            raise PickleRefused(f"{path}: {key} is a sparse matrix without data/indices/indptr/shape") from exc
        dense = np.zeros(shape)
        major = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        if value.format == "csc":
            dense[indices, major] = data
        else:
            dense[major, indices] = data
        return dense
    return value


def load_arrays(fh: io.BufferedReader, path: str) -> dict:
    """The model file's dict of plain arrays. Raises PickleRefused, or pickle.UnpicklingError / EOFError for a
    damaged file."""
    data = _RestrictedUnpickler(fh, path).load()
    if not isinstance(data, dict):
        raise PickleRefused(f"{path}: holds a {type(data).__name__}, not a dict of model arrays")
    return {k: _plain(v, path, k) for k, v in data.items()}
