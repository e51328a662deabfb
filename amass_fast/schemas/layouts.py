"""The 2D schemas built from projected joints, and their tables (docs/SCHEMAS.md).

Every 2D schema is a function of ``joints2d [..., T, 22, 2]``, the 22 SMPL body joints on screen (metres, x right,
y up). Derived points (neck/chest = mean of the shoulders, pelvis = mean of the hips) are means of the *projected*
joints, so under a perspective camera, too, stick12's pelvis_center is exactly the midpoint of pelvis_width.
Under an orthographic camera this equals projecting the 3D means.

    stick5   [..., T, 20]  5 lines (x1, y1, x2, y2), docs/CONVENTIONS.md, "Stick layout"
    stick12  [..., T, 48]  12 segments (x1, y1, x2, y2): stick-gen's v3 ``motion``
    joints2d [..., T, 22, 2]
    physics  [..., T, 6]   (vx, vy, ax, ay, mx, my) of the mean of stick12's 24 segment endpoints (stick-gen's
                           backward differences by default)

These NumPy functions are float64 and vectorised over any leading axes; the torch transforms
(amass_fast.schemas.transforms) compute the same with torch ops.
"""
from __future__ import annotations

import sys

import numpy as np

from amass_fast.schemas.skeleton import (BODY_PARENTS, HEAD, L_ANKLE, L_ELBOW, L_HIP,
                                         L_KNEE, L_SHOULDER, L_WRIST, NECK, NUM_JOINTS, R_ANKLE, R_ELBOW,
                                         R_HIP, R_KNEE, R_SHOULDER, R_WRIST)


# Points: a joint index, or one of these derived points (means of two projected joints).
CHEST = "chest"                    # mean of the shoulders (= stick5's neck)
PELVIS_CENTER = "pelvis_center"    # mean of the hips (= stick5's pelvis)
DERIVED = {CHEST: (L_SHOULDER, R_SHOULDER), PELVIS_CENTER: (L_HIP, R_HIP)}

#: stick5 lines (from, to): head->neck, neck->l_wrist, neck->r_wrist, pelvis->l_ankle, pelvis->r_ankle.
STICK5 = (("head", HEAD, CHEST), ("l_arm", CHEST, L_WRIST), ("r_arm", CHEST, R_WRIST),
          ("l_leg", PELVIS_CENTER, L_ANKLE), ("r_leg", PELVIS_CENTER, R_ANKLE))
#: stick-gen v3 segments (from, to), in its order.
STICK12 = (
    ("head", NECK, HEAD), ("upper_torso", NECK, CHEST), ("lower_torso", CHEST, PELVIS_CENTER),
    ("l_upper_arm", L_SHOULDER, L_ELBOW), ("l_forearm", L_ELBOW, L_WRIST),
    ("r_upper_arm", R_SHOULDER, R_ELBOW), ("r_forearm", R_ELBOW, R_WRIST),
    ("l_thigh", L_HIP, L_KNEE), ("l_shin", L_KNEE, L_ANKLE), ("r_thigh", R_HIP, R_KNEE), ("r_shin", R_KNEE, R_ANKLE),
    ("pelvis_width", L_HIP, R_HIP),
)
#: Bones drawn for joints2d: (parent, child) for joints 1..21.
BONES = tuple((int(BODY_PARENTS[j]), j) for j in range(1, NUM_JOINTS))

SCHEMAS_2D = ("stick5", "stick12", "joints2d")
SCHEMAS = SCHEMAS_2D + ("joints3d",)
#: Per-frame value shape of each schema.
FRAME_SHAPE = {"stick5": (20,), "stick12": (48,), "joints2d": (NUM_JOINTS, 2), "joints3d": (NUM_JOINTS, 3)}


def line_endpoints(schema: str) -> tuple[np.ndarray, np.ndarray]:
    """Joint indices (a, b) [2 x segments] of a line schema's endpoints, in output order: endpoint i is the mean
    of joints a[i] and b[i] (a joint itself: a[i] == b[i], and 0.5 (x + x) == x exactly). So, on any array or
    tensor, ``0.5 * (j2d[..., a, :] + j2d[..., b, :])`` reshaped to [..., T, 4 x segments] is the schema."""
    table = {"stick5": STICK5, "stick12": STICK12}.get(schema)
    if table is None:
        raise ValueError(f"not a line schema: {schema!r}; choose stick5 or stick12")
    pairs = [DERIVED[p] if isinstance(p, str) else (p, p) for _, a, b in table for p in (a, b)]
    return np.array([a for a, _ in pairs], dtype=np.int64), np.array([b for _, b in pairs], dtype=np.int64)


def lines(joints2d, schema: str):
    """stick5 [..., T, 20] or stick12 [..., T, 48] of joints2d [..., T, 22, 2], a NumPy array or a torch tensor on
    any device, in its dtype: one gather and mean over line_endpoints. The one body of the line schemas."""
    if tuple(joints2d.shape[-2:]) != (NUM_JOINTS, 2):
        raise ValueError(f"joints2d must be [..., T, {NUM_JOINTS}, 2], got shape {tuple(joints2d.shape)}")
    a, b = line_endpoints(schema)
    if not isinstance(joints2d, np.ndarray):  # a torch tensor: index on its device
        torch = sys.modules["torch"]
        a, b = torch.as_tensor(a, device=joints2d.device), torch.as_tensor(b, device=joints2d.device)
    points = 0.5 * (joints2d[..., a, :] + joints2d[..., b, :])
    return points.reshape(*points.shape[:-2], 2 * len(a))


def stick5(joints2d: np.ndarray) -> np.ndarray:
    """joints2d [..., T, 22, 2] -> stick5 [..., T, 20] (float64)."""
    return lines(np.asarray(joints2d, dtype=np.float64), "stick5")


def stick12(joints2d: np.ndarray) -> np.ndarray:
    """joints2d [..., T, 22, 2] -> stick-gen v3 motion [..., T, 48] (float64)."""
    return lines(np.asarray(joints2d, dtype=np.float64), "stick12")


#: Finite differences of :func:`physics`: "backward" is stick-gen's ``compute_basic_physics`` (the default of
#: every stick12 sample), "central" the second-order variant (numpy.gradient).
PHYSICS_METHODS = ("backward", "central")


def physics(motion: np.ndarray, fps: float = 25.0, method: str = "backward") -> np.ndarray:
    """motion [..., T, 4S] (any line schema) -> physics [..., T, 6] = (vx, vy, ax, ay, mx, my), float64.

    c(t) = mean of all 2S segment endpoints (x, y) at frame t (for stick12: 24 points); dt = 1 / fps; unit mass,
    so momentum m = v.

    - ``method="backward"`` (stick-gen's ``compute_basic_physics``): v[0] = a[0] = 0, v[t] = (c[t] - c[t-1]) / dt,
      a[t] = (v[t] - v[t-1]) / dt, so a[1] = v[1] / dt.
    - ``method="central"``: second-order central differences on inner frames, (c[t+1] - c[t-1]) / (2 dt), one-sided
      first-order ones on the first and last frames (``numpy.gradient``, edge_order=1); a = the same applied to v.

    A single frame has v = a = 0.
    """
    if method not in PHYSICS_METHODS:
        raise ValueError(f"physics method must be one of {', '.join(PHYSICS_METHODS)}, got {method!r}")
    motion = np.asarray(motion, dtype=np.float64)
    if motion.shape[-1] % 4 or motion.ndim < 2:
        raise ValueError(f"motion must be [..., T, 4 x segments], got shape {motion.shape}")
    points = motion.reshape(*motion.shape[:-1], -1, 2)
    c = points.mean(axis=-2)                                   # [..., T, 2]
    fps = float(fps)
    if c.shape[-2] < 2:
        v = np.zeros_like(c)
        a = np.zeros_like(c)
    elif method == "central":
        v = np.gradient(c, 1.0 / fps, axis=-2, edge_order=1)
        a = np.gradient(v, 1.0 / fps, axis=-2, edge_order=1)
    else:
        v = np.zeros_like(c)
        a = np.zeros_like(c)
        v[..., 1:, :] = (c[..., 1:, :] - c[..., :-1, :]) * fps
        a[..., 1:, :] = (v[..., 1:, :] - v[..., :-1, :]) * fps
    return np.concatenate([v, a, v], axis=-1)


#: Screen x conventions: "right" (screen x is the camera's right: a body facing the camera has its left at +x) and
#: "left" (x negated: the body's left at -x, stick-gen's lateral convention).
SCREEN_X = ("right", "left")


def x_columns(schema: str) -> np.ndarray:
    """Indices of the screen-x values in one frame of a 2D schema, flattened (stick5 / stick12: x1 and x2 of every
    line; joints2d: x of every joint)."""
    if schema not in SCHEMAS_2D:
        raise ValueError(f"screen x applies to the 2D schemas ({', '.join(SCHEMAS_2D)}), not {schema!r}")
    return np.arange(0, int(np.prod(FRAME_SHAPE[schema])), 2)


def flip_screen_x(values: np.ndarray, schema: str) -> np.ndarray:
    """A 2D schema's motion [..., T, *FRAME_SHAPE] with screen x negated (``screen_x="left"``); a new array. x = 0
    (the pelvis at a clip's first frame) stays 0, and the physics of the result is that of the input with vx, ax,
    mx negated."""
    values = np.array(values, copy=True)
    flat = values.reshape(*values.shape[:values.ndim - len(FRAME_SHAPE[schema])], -1)
    flat[..., x_columns(schema)] *= -1
    return flat.reshape(values.shape)


def to_schema(joints2d: np.ndarray, schema: str) -> np.ndarray:
    """joints2d [..., T, 22, 2] -> the 2D schema's values (float64): stick5 [..., T, 20], stick12 [..., T, 48],
    joints2d as it is."""
    if schema == "stick5":
        return stick5(joints2d)
    if schema == "stick12":
        return stick12(joints2d)
    if schema == "joints2d":
        return np.asarray(joints2d, dtype=np.float64)
    raise ValueError(f"unknown 2D schema {schema!r}; choose one of {', '.join(SCHEMAS_2D)}")
