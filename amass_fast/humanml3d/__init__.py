"""HumanML3D's motion representation, made from AMASS as HumanML3D's own scripts make it (`amass-fast humanml3d`).

For users who already have joints (HumanML3D's 22 joints, Y up, metres, as in its ``joints/`` folder):

    >>> from amass_fast import humanml3d
    >>> target = humanml3d.target_lengths(np.load("HumanML3D/new_joints/000021.npy")[0])   # any new_joints frame
    >>> vecs = humanml3d.features_from_joints(joints, target)          # [T-1, 263], HumanML3D's new_joint_vecs
    >>> back = humanml3d.joints_from_features(vecs)                   # [T-1, 22, 3], its new_joints
    >>> mirrored = humanml3d.mirror_joints(joints)                    # its swap_left_right (M files)

See docs/HUMANML3D.md for the layout of the 263 features and what is exact.

The command is amass_fast.cli.humanml3d. May import amass_fast.labels, kernels, io and schemas.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from amass_fast.humanml3d import reference
from amass_fast.humanml3d.constants import FEATURE_GROUPS, NUM_FEATURES, NUM_JOINTS

__all__ = ["features_from_joints", "joints_from_features", "mirror_joints", "mean_std", "target_lengths",
           "NUM_FEATURES", "NUM_JOINTS", "FEATURE_GROUPS"]


def target_lengths(frame: np.ndarray) -> np.ndarray:
    """The 22 bone lengths (metres, 0 for the root) of one frame of joints [22, 3]. HumanML3D retargets every clip
    onto clip 000021's frame 0; every frame of its new_joints already has those lengths."""
    frame = np.asarray(frame, dtype=np.float64)
    if frame.shape[-2:] != (NUM_JOINTS, 3) and frame.shape[-2:] != (52, 3):
        raise ValueError(f"target_lengths needs one frame of joints [22, 3], got {frame.shape}")
    return reference.skeleton_offsets(frame.reshape(-1, 3)[:NUM_JOINTS])


def features_from_joints(joints: np.ndarray, target: np.ndarray, backend: str = "auto") -> np.ndarray:
    """HumanML3D's new_joint_vecs [T-1, 263] float32 of joints [T >= 2, >=22, 3] (its stage-1 frame).

    target: bone lengths [22] (:func:`target_lengths`) or a frame of joints [22, 3] to take them from.
    backend: "auto", "numba" or "reference" (float64 NumPy); all agree within the tolerances of docs/HUMANML3D.md."""
    from amass_fast.humanml3d import kernels

    lengths = _lengths(target)
    return kernels.features_batch([np.asarray(joints)], lengths, backend=backend)[0].astype(np.float32)


def joints_from_features(vecs: np.ndarray) -> np.ndarray:
    """HumanML3D's recover_from_ric: new_joint_vecs [T, 263] -> new_joints [T, 22, 3] float32."""
    vecs = np.asarray(vecs)
    if vecs.ndim != 2 or vecs.shape[1] != NUM_FEATURES:
        raise ValueError(f"joints_from_features needs features [T, {NUM_FEATURES}], got {vecs.shape}")
    return reference.recover_from_ric(vecs.astype(np.float32)).astype(np.float32)


def mirror_joints(joints: np.ndarray) -> np.ndarray:
    """HumanML3D's swap_left_right of joints [T, 22 or 52, 3]: x negated, left and right swapped; its own inverse."""
    return reference.mirror(joints)


def mean_std(vecs: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """cal_mean_variance over clips' features [T, 263] (clips with a NaN skipped): (Mean [263], Std [263]) float32,
    Std averaged over each of FEATURE_GROUPS."""
    mean, std = reference.mean_std(list(vecs))
    return mean.astype(np.float32), std.astype(np.float32)


def _lengths(target: np.ndarray) -> np.ndarray:
    target = np.asarray(target, dtype=np.float64)
    if target.shape == (NUM_JOINTS,):
        return target
    return target_lengths(target)
