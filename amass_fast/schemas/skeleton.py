"""The skeleton, once: the 22 body joints shared by SMPL, SMPL+H and SMPL-X (their order, names, parents and
left/right pairs) and the joint tables of the whole models. Every other module takes them from here.

Names are smplx's spelling, in the order of the model files.
"""
from __future__ import annotations

import numpy as np

NUM_JOINTS = 22

#: Body joint names in model order.
JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle", "right_ankle",
    "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
(PELVIS, L_HIP, R_HIP, SPINE1, L_KNEE, R_KNEE, SPINE2, L_ANKLE, R_ANKLE, SPINE3, L_FOOT, R_FOOT, NECK, L_COLLAR,
 R_COLLAR, HEAD, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST) = range(NUM_JOINTS)


def _frozen(values) -> np.ndarray:
    array = np.array(values, dtype=np.int64)
    array.setflags(write=False)
    return array


#: parents[j] of the 22 body joints (parents[0] = -1, parents[j] < j).
BODY_PARENTS = _frozen([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19])

#: Left/right pairs of the 22 body joints (the body's own left first).
BODY_LR_PAIRS = ((L_HIP, R_HIP), (L_KNEE, R_KNEE), (L_ANKLE, R_ANKLE), (L_FOOT, R_FOOT), (L_COLLAR, R_COLLAR),
                 (L_SHOULDER, R_SHOULDER), (L_ELBOW, R_ELBOW), (L_WRIST, R_WRIST))

# Whole models: the hands (5 fingers x 3 phalanges each, each finger's first joint on the wrist) and SMPL-X's face.
_FINGERS = ("index", "middle", "pinky", "ring", "thumb")
HAND_JOINT_NAMES = tuple(f"{side}_{finger}{i}" for side in ("left", "right") for finger in _FINGERS for i in (1, 2, 3))
SMPL_JOINT_NAMES = JOINT_NAMES + ("left_hand", "right_hand")
SMPLH_JOINT_NAMES = JOINT_NAMES + HAND_JOINT_NAMES
SMPLX_JOINT_NAMES = JOINT_NAMES + ("jaw", "left_eye_smplhf", "right_eye_smplhf") + HAND_JOINT_NAMES


def _hand_parents(wrist: int, first: int) -> list[int]:
    return [wrist if i % 3 == 0 else first + i - 1 for i in range(15)]


SMPL_PARENTS = _frozen([*BODY_PARENTS, L_WRIST, R_WRIST])
SMPLH_PARENTS = _frozen([*BODY_PARENTS, *_hand_parents(L_WRIST, 22), *_hand_parents(R_WRIST, 37)])
SMPLX_PARENTS = _frozen([*BODY_PARENTS, HEAD, HEAD, HEAD, *_hand_parents(L_WRIST, 25), *_hand_parents(R_WRIST, 40)])


def side(name: str) -> str:
    """"left", "right" or "" (the midline) of a joint name."""
    return "left" if name.startswith("left_") else "right" if name.startswith("right_") else ""
