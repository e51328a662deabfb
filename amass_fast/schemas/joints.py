"""joints3d: the 22 body joints of a clip in its canonical frame (docs/SCHEMAS.md, "joints3d").

The canonical frame of a clip is fixed by its first frame and never turns afterwards:

- the floor is at height 0: the lowest ankle (joints 7, 8) over the clip's valid frames;
- the origin lies on the floor below the pelvis (mean of the hips) at the first frame;
- the body's left axis at the first frame (left hip - right hip, on the ground plane) is +x;
- ``up="z"`` (AMASS's own convention): z up, the body faces -y at the first frame (as an AMASS body with a zero
  heading does). ``up="y"`` (the body-model rest frame, HumanML3D's): y up, the body faces +z; the same points
  as ``up="z"`` with (x, y, z) -> (x, z, -y).

When the hips are vertical at the first frame (lying on one side) there is no facing: the world's x axis is kept,
as the stick5 front view does (docs/CONVENTIONS.md, "Views"). This is the frame of the stick5 front view: screen
(x, y) of stick5 ``view="front"`` are canonical (x, z).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from amass_fast.schemas.layouts import HEAD, L_ANKLE, L_HIP, NUM_JOINTS, R_ANKLE, R_HIP

UPS = ("z", "y")
#: Head-to-ankle height that stick-gen scales every skeleton to, metres.
STICK_GEN_HEIGHT = 1.8
# Left axes shorter than this on the ground (metres) give no facing.
_NO_FACING = 1e-9


def clip_frame(joints: np.ndarray, valid_length: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """The canonical frame of a clip: world joints [T, >=22, 3] (AMASS, Z up) -> (rotation [3, 3], origin [3]),
    float64, with canonical = rotation @ (world - origin) for ``up="z"``.

    rotation turns the first frame's left axis (on the ground) onto +x about the vertical; origin = (pelvis x,
    pelvis y at the first frame, lowest ankle z over the first ``valid_length`` frames (default: all))."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1] < NUM_JOINTS or joints.shape[2] != 3 or len(joints) < 1:
        raise ValueError(f"joints must be [T >= 1, >={NUM_JOINTS}, 3], got shape {joints.shape}")
    valid = len(joints) if valid_length is None else max(1, min(int(valid_length), len(joints)))
    left = joints[0, L_HIP] - joints[0, R_HIP]
    n = math.hypot(left[0], left[1])
    c, s = (left[0] / n, left[1] / n) if n >= _NO_FACING else (1.0, 0.0)
    rotation = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    pelvis = 0.5 * (joints[0, L_HIP] + joints[0, R_HIP])
    floor = float(np.min(joints[:valid, [L_ANKLE, R_ANKLE], 2]))
    return rotation, np.array([pelvis[0], pelvis[1], floor])


def z_up_to(joints3d: np.ndarray, up: str) -> np.ndarray:
    """Canonical points [..., 3] from ``up="z"`` to ``up``: (x, y, z) -> (x, z, -y) for "y"."""
    joints3d = np.asarray(joints3d, dtype=np.float64)
    if up == "z":
        return joints3d
    if up == "y":
        return np.stack([joints3d[..., 0], joints3d[..., 2], -joints3d[..., 1]], axis=-1)
    raise ValueError(f"up must be one of {', '.join(UPS)}, got {up!r}")


def to_z_up(joints3d: np.ndarray, up: str) -> np.ndarray:
    """Inverse of :func:`z_up_to`: canonical points [..., 3] stored with ``up`` -> ``up="z"``."""
    joints3d = np.asarray(joints3d, dtype=np.float64)
    if up == "z":
        return joints3d
    if up == "y":
        return np.stack([joints3d[..., 0], -joints3d[..., 2], joints3d[..., 1]], axis=-1)
    raise ValueError(f"up must be one of {', '.join(UPS)}, got {up!r}")


def canonical_joints(joints: np.ndarray, up: str = "z", valid_length: Optional[int] = None,
                     scale: float = 1.0) -> np.ndarray:
    """World joints of one clip [T, >=22, 3] (AMASS, Z up, e.g. from ``amass_fast.fk``) -> joints3d [T, 22, 3],
    float64, in the clip's canonical frame (see the module docstring), multiplied by ``scale`` about the origin
    (the floor stays at 0; see :func:`height_scale`). Frames from ``valid_length`` on take part in everything
    except the floor."""
    rotation, origin = clip_frame(joints, valid_length)
    local = (np.asarray(joints, dtype=np.float64)[:, :NUM_JOINTS] - origin) @ rotation.T
    return z_up_to(float(scale) * local, up)


def skeleton_height(rest_joints: np.ndarray) -> float:
    """Head-to-ankle height of a skeleton, metres: rest-pose head y minus the mean of the ankles' y
    (rest_joints [>=22, 3] in the body-model frame, Y up, e.g. ``BodyModel.rest_joints(betas)``). It depends on the
    body shape only, never on a pose."""
    rest = np.asarray(rest_joints, dtype=np.float64)
    if rest.ndim != 2 or rest.shape[0] < NUM_JOINTS or rest.shape[1] != 3:
        raise ValueError(f"rest_joints must be [>={NUM_JOINTS}, 3], got shape {rest.shape}")
    height = rest[HEAD, 1] - 0.5 * (rest[L_ANKLE, 1] + rest[R_ANKLE, 1])
    if not 0.0 < height < math.inf:
        raise ValueError(f"rest_joints: the head is not above the ankles (height {height:.3f} m); not a skeleton "
                         f"in the body-model frame (Y up)")
    return float(height)


def height_scale(rest_joints: np.ndarray, height: float = STICK_GEN_HEIGHT) -> float:
    """The ``scale`` for :func:`canonical_joints` that makes a skeleton's head-to-ankle height ``height`` metres
    (stick-gen's 1.8): one number per clip, applied to every frame alike (never a per-frame rotation)."""
    return float(height) / skeleton_height(rest_joints)
