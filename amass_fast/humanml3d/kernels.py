"""HumanML3D's per-frame feature math over many clips at once, on the chosen backend.

``features_batch`` takes clips of different lengths (a ragged batch) and returns each clip's [T-1, 263]
features. Backends: "reference" (amass_fast.humanml3d.reference, float64, one clip at a time), "numba" (every clip
of the batch in one parallel loop over clips, float64); "auto" is numba.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from amass_fast.humanml3d import reference
from amass_fast.humanml3d.constants import NUM_FEATURES, NUM_JOINTS

BACKENDS = ("auto", "numba", "reference")


def _check(clips: Sequence[np.ndarray], lengths: np.ndarray) -> list[np.ndarray]:
    lengths = np.asarray(lengths, dtype=np.float64)
    if lengths.shape != (NUM_JOINTS,) or not np.all(np.isfinite(lengths)) or lengths[5] + lengths[8] <= 0:
        raise ValueError(f"target bone lengths must be [22] finite numbers with legs (5, 8) > 0, got {lengths!r}")
    out = []
    for i, clip in enumerate(clips):
        clip = np.asarray(clip, dtype=np.float64)
        if clip.ndim != 3 or clip.shape[1] < NUM_JOINTS or clip.shape[2] != 3 or len(clip) < 2:
            raise ValueError(f"clip {i}: joints must be [T >= 2, >=22, 3] (HumanML3D writes nothing for fewer "
                             f"than 2 frames), got {clip.shape}")
        out.append(np.ascontiguousarray(clip[:, :NUM_JOINTS]))
    return out


def features_batch(clips: Sequence[np.ndarray], lengths: np.ndarray, backend: str = "auto") -> list[np.ndarray]:
    """Features [T_i - 1, 263] float64 of each clip [T_i, >=22, 3] (HumanML3D's stage-1 joints), retargeted onto
    bone lengths [22]."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    clips = _check(clips, lengths)
    lengths = np.asarray(lengths, dtype=np.float64)
    if backend == "reference":
        return [reference.features(c, lengths) for c in clips]
    from amass_fast.humanml3d import numba_kernels

    return numba_kernels.features_batch(clips, lengths)


def recover_batch(vecs: Sequence[np.ndarray], backend: str = "auto") -> list[np.ndarray]:
    """HumanML3D's recover_from_ric of each clip's features [T_i, 263] -> joints [T_i, 22, 3] float64 (its
    new_joints before the float32 cast), every clip of the batch in one parallel loop on numba."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    for i, v in enumerate(vecs):
        if np.ndim(v) != 2 or np.shape(v)[1] != NUM_FEATURES:
            raise ValueError(f"clip {i}: features must be [T, {NUM_FEATURES}], got {np.shape(v)}")
    if backend == "reference":
        return [reference.recover_from_ric(v) for v in vecs]
    from amass_fast.humanml3d import numba_kernels

    return numba_kernels.recover_batch(list(vecs))
