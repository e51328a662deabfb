"""Number checks shared by the kernels' argument checks and the schemas' constructors: every float argument must be
a number, finite in the dtype it is computed in (1e39 is finite in float64 but infinite in float32), and within its
range; the message names the argument.

    check_values(values, dtype, op, name)  host float64 values (cameras, scales, yaws) finite in ``dtype``
    check_array(array, op, name)           an array already in its compute dtype (poses, trans, rest joints)
    number(value, name, lo=None, hi=None)  one real number for a constructor (not a string, not a bool)
    value_range(pair, name)                a (low, high) pair of finite numbers, low <= high
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Optional

import numpy as np


def _first_bad(ok: np.ndarray) -> Optional[tuple]:
    bad = np.argwhere(~ok)
    return tuple(int(i) for i in bad[0]) if len(bad) else None


def check_values(values: Any, dtype: Any, op: str, name: str) -> None:
    """Raise ValueError (naming ``op`` and ``name``) unless every value is finite once cast to ``dtype``."""
    a = np.asarray(values, dtype=np.float64)
    limit = float(np.finfo(np.dtype(dtype)).max)
    where = _first_bad(np.isfinite(a) & (np.abs(a) <= limit))
    if where is not None:
        at = f"[{', '.join(map(str, where))}]" if where else ""
        raise ValueError(f"{op}: `{name}` must be finite in {np.dtype(dtype)} (the dtype it is computed in, largest "
                         f"{limit:.4g}); {name}{at} = {float(a[where])!r}")


def check_array(array: Any, op: str, name: str) -> None:
    """Raise ValueError (naming ``op`` and ``name``) when a float array (NumPy, or a torch tensor on any device)
    already in its compute dtype holds NaN or infinity (e.g. float64 input beyond float32's range)."""
    if hasattr(array, "is_floating_point"):  # a torch tensor: checked where it lives
        import torch

        if bool(torch.isfinite(array).all()):
            return
        where = tuple(int(i) for i in torch.nonzero(~torch.isfinite(array))[0].tolist())
        value = array[where].item() if where else array.item()
        dtype = str(array.dtype).replace("torch.", "")
    else:
        a = np.asarray(array)
        if a.size == 0 or bool(np.isfinite(a).all()):
            return
        where = _first_bad(np.isfinite(a))
        value, dtype = float(a[where]), a.dtype
    at = f"[{', '.join(map(str, where))}]" if where else ""
    raise ValueError(f"{op}: `{name}` must be finite in {dtype} (the dtype it is computed in); {name}{at} = "
                     f"{value!r}")


def number(value: Any, name: str, lo: Optional[float] = None, hi: Optional[float] = None, *,
           lo_open: bool = False) -> float:
    """``value`` as a float if it is a real, finite number in [lo, hi] ((lo, hi] with ``lo_open``); TypeError for a
    string, bool or other object, ValueError otherwise, both naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r:.40}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo:g}, got {v:g}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be <= {hi:g}, got {v:g}")
    return v


def value_range(pair: Any, name: str, lo: Optional[float] = None, hi: Optional[float] = None, *,
                lo_open: bool = False) -> tuple[float, float]:
    """``pair`` as (low, high) floats: two finite numbers in [lo, hi] with low <= high; errors name ``name``."""
    if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
        raise TypeError(f"{name} must be a (low, high) pair of numbers, got {pair!r:.40}")
    low = number(pair[0], f"{name}[0]", lo, hi, lo_open=lo_open)
    high = number(pair[1], f"{name}[1]", lo, hi, lo_open=lo_open)
    if low > high:
        raise ValueError(f"{name} = ({low:g}, {high:g}) is reversed: low must be <= high")
    return low, high
