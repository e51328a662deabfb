"""Left-right mirroring (docs/SCHEMAS.md, "Mirroring").

In parameter space (:func:`mirror_params`), as HumanML3D, stmc and Motion-X do: the world is reflected in the
plane x = 0 (M = diag(-1, 1, 1); AMASS's vertical plane through its y and z axes), so

- each left/right pair of joints swaps its rotations, and every rotation R becomes M R M, which for an
  axis-angle (a_x, a_y, a_z) is (a_x, -a_y, -a_z) (the root's too);
- the translation becomes M (trans + rest_pelvis) - rest_pelvis: (-t_x - 2 p_x, t_y, t_z) for the rest
  pelvis p (p_x is 0 for the built-in skeleton and about 0 for the SMPL family, so trans x is negated).

The poses of a left-right symmetric skeleton then give exactly the reflected joints with left and right swapped;
mirroring twice is the identity. In joint space (:func:`mirror_joints`) the same is x -> -x and the swap.

Pose layouts by width (axis-angle triples): 66 = root + 21 body joints, 72 = SMPL (plus the two hands), 156 =
SMPL+H (plus 2 x 15 finger joints), 165 = SMPL-X (plus jaw, two eyes, 2 x 15 finger joints); the hands' joints
pair up in the same finger order on both sides (amass_fast.schemas.skeleton.HAND_JOINT_NAMES).
"""
from __future__ import annotations

import re
import sys
from typing import Optional

import numpy as np

from amass_fast.schemas.skeleton import BODY_LR_PAIRS, NUM_JOINTS

_HANDS_SMPLH = tuple((22 + i, 37 + i) for i in range(15))
_HANDS_SMPLX = tuple((25 + i, 40 + i) for i in range(15))
#: Left/right joint pairs per pose width (values per frame).
POSE_LR_PAIRS = {
    66: BODY_LR_PAIRS,
    72: BODY_LR_PAIRS + ((22, 23),),                    # SMPL: left_hand, right_hand
    156: BODY_LR_PAIRS + _HANDS_SMPLH,                  # SMPL+H
    165: BODY_LR_PAIRS + ((23, 24),) + _HANDS_SMPLX,    # SMPL-X: jaw 22 on the midline, eyes 23/24
}
#: Reflection of an axis-angle (and of a rotation's M R M): component signs.
AXIS_ANGLE_SIGNS = np.array([1.0, -1.0, -1.0])


def lr_permutation(pairs=BODY_LR_PAIRS, count: int = NUM_JOINTS) -> tuple[int, ...]:
    """perm[j] = the joint on the other side of j (j itself on the midline); perm is its own inverse."""
    perm = list(range(count))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


#: Joint j of a mirrored body is joint BODY_MIRROR[j] of the original, reflected.
BODY_MIRROR = lr_permutation()

def pose_permutation(width: int) -> tuple[int, ...]:
    """The joint permutation of a pose layout of ``width`` values per frame (see POSE_LR_PAIRS)."""
    if width not in POSE_LR_PAIRS:
        raise ValueError(f"poses must have one of {sorted(POSE_LR_PAIRS)} values per frame (body, SMPL, SMPL+H, "
                         f"SMPL-X), got {width}")
    return lr_permutation(POSE_LR_PAIRS[width], width // 3)


def mirrored(poses, trans, p_x: float = 0.0):
    """The one body of parameter-space mirroring: poses [F, P] (P in 66, 72, 156, 165) and trans [F, 3], NumPy
    arrays or torch tensors on any device, -> mirrored (poses, trans) of the same kind and dtype: joints swapped
    left/right (pose_permutation), axis-angles reflected (AXIS_ANGLE_SIGNS), x translation reflected about the rest
    pelvis x ``p_x``. Arguments are not checked here: mirror_params and kernels.mirror_params check them."""
    F = poses.shape[0]
    perm, signs = list(pose_permutation(poses.shape[1])), AXIS_ANGLE_SIGNS
    if isinstance(poses, np.ndarray):
        out, out_t = poses.reshape(F, -1, 3)[:, perm, :] * signs.astype(poses.dtype), np.array(trans, copy=True)
    else:
        torch = sys.modules["torch"]
        perm_t = torch.as_tensor(perm, device=poses.device)
        out = poses.reshape(F, -1, 3)[:, perm_t] * torch.as_tensor(signs, dtype=poses.dtype, device=poses.device)
        out_t = torch.as_tensor(trans, device=poses.device).clone()
    out_t[:, 0] = -out_t[:, 0] - 2.0 * p_x
    return out.reshape(F, -1), out_t


def mirror_params(poses: np.ndarray, trans: np.ndarray,
                  rest_pelvis: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Mirrored (poses [F, P], trans [F, 3]), float64, of poses [F, P] (P in 66, 72, 156, 165) and trans [F, 3].
    ``rest_pelvis`` [3]: the skeleton's rest pelvis (rest_joints[0]); default the origin."""
    poses, trans = np.asarray(poses, dtype=np.float64), np.asarray(trans, dtype=np.float64)
    if poses.ndim != 2 or trans.shape != (len(poses), 3):
        raise ValueError(f"poses must be [F, P] and trans [F, 3], got {poses.shape} and {trans.shape}")
    pose_permutation(poses.shape[1])  # a width with no mirror layout is refused, naming the widths
    p_x = 0.0 if rest_pelvis is None else float(np.asarray(rest_pelvis, dtype=np.float64).reshape(3)[0])
    return mirrored(poses, trans, p_x)


def mirror_joints(joints: np.ndarray) -> np.ndarray:
    """Joints [..., 22, 3] or screen joints [..., 22, 2] -> mirrored (x negated, left and right swapped), float64.
    Canonical joints3d stay canonical (docs/SCHEMAS.md, "Mirroring")."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim < 2 or joints.shape[-2] != NUM_JOINTS or joints.shape[-1] not in (2, 3):
        raise ValueError(f"joints must be [..., {NUM_JOINTS}, 2 or 3], got shape {joints.shape}")
    out = joints[..., BODY_MIRROR, :].copy()
    out[..., 0] = -out[..., 0]
    return out


# Words whose meaning flips in a mirror: left/right (and leftward(s), rightmost, left-hand(ed), ...) and
# clockwise/counterclockwise. Each swap is its own inverse, so mirroring a text twice gives it back.
_SWAPS = {"left": "right", "right": "left", "clockwise": "counterclockwise", "counterclockwise": "clockwise"}
_WORDS = re.compile(r"\b(left|right|counterclockwise|clockwise)(?=(?:wards?|most|s)?\b|-)", re.IGNORECASE)


def _same_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[0].isupper():
        return word[0].upper() + word[1:]
    return word


def mirror_text(text: str) -> str:
    """A description of the mirrored motion: "left" <-> "right" (also in leftward(s), rightmost, left-handed,
    "Left", "LEFT"), "clockwise" <-> "counterclockwise"; everything else unchanged. ``"right away"`` and other
    non-directional uses of the words are swapped too: descriptions of motion rarely use them."""
    return _WORDS.sub(lambda m: _same_case(_SWAPS[m.group(1).lower()], m.group(1)), text)
