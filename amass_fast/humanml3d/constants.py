"""HumanML3D's constants (paramUtil.py, motion_representation.ipynb, raw_pose_processing.ipynb), one table each."""
from __future__ import annotations

import numpy as np

NUM_JOINTS = 22  #: body joints kept by stage 2 (SMPL+H joints 0..21)
NUM_FEATURES = 263  #: 4 + 21*3 + 21*6 + 22*3 + 4
FPS = 20  #: HumanML3D's nominal frame rate
TARGET_CLIP = "000021"  #: the clip whose frame 0 gives every clip's bone lengths
FOOT_CONTACT_THRESHOLD = 0.002  #: squared metres per frame step
SMOOTH_SIGMA = 20.0  #: frames, the facing direction's gaussian filter
SMOOTH_RADIUS = int(4.0 * SMOOTH_SIGMA + 0.5)  #: scipy's truncate=4

#: t2m_kinematic_chain
CHAINS = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20))
#: t2m_raw_offsets: each bone's rest direction (unit axis vectors)
RAW_OFFSETS = np.array([[0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, -1, 0],
                        [0, -1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0], [-1, 0, 0], [0, 0, 1],
                        [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0]], dtype=np.float64)
PARENTS = np.zeros(NUM_JOINTS, dtype=np.int64)
PARENTS[0] = -1
#: joints whose IK rotation is taken relative to the root rotation (the second joint of every chain)
CHAIN_START_PARENT = np.zeros(NUM_JOINTS, dtype=bool)
for _chain in CHAINS:
    for _a, _b in zip(_chain[:-1], _chain[1:]):
        PARENTS[_b] = _a
    CHAIN_START_PARENT[_chain[1]] = True
#: (parent, joint) per bone, in the order the chains are walked (IK and retargeting)
BONES = tuple((a, b) for chain in CHAINS for a, b in zip(chain[:-1], chain[1:]))

FEET_L, FEET_R = [7, 10], [8, 11]  #: foot contact joints: contacts columns are 7, 10, 8, 11
LEG_BONES = (5, 8)  #: the bones whose lengths set the retarget scale

#: swap_left_right's tables
RIGHT_CHAIN = (2, 5, 8, 11, 14, 17, 19, 21)
LEFT_CHAIN = (1, 4, 7, 10, 13, 16, 18, 20)
LEFT_HAND = (22, 23, 24, 34, 35, 36, 25, 26, 27, 31, 32, 33, 28, 29, 30)
RIGHT_HAND = (43, 44, 45, 46, 47, 48, 40, 41, 42, 37, 38, 39, 49, 50, 51)

#: cal_mean_variance's feature groups: Std is replaced by its mean over each
FEATURE_GROUPS = ((0, 1), (1, 3), (3, 4), (4, 67), (67, 193), (193, 259), (259, 263))

#: stage 1: frames (at the stride's rate) cut from the start of a file, by substring of its index.csv path
HEAD_TRIMS = (("Eyes_Japan_Dataset", 3 * FPS), ("MPI_HDM05", 3 * FPS), ("TotalCapture", 1 * FPS),
              ("MPI_Limits", 1 * FPS), ("Transitions_mocap", int(0.5 * FPS)))
#: stage 1: np.dot(Jtr, AXES) maps SMPL+H's Z-up world (x, y, z) to (x, z, y); then x is negated
AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
HUMANACT12 = "humanact12"  #: index rows whose path holds this come from pose_data/humanact12 (joints as shipped)
SPLIT_FILES = ("train.txt", "val.txt", "test.txt", "train_val.txt", "all.txt")


def mirror_permutation(num_joints: int) -> np.ndarray:
    """The joint order of swap_left_right for 22 or 52 joints (hands swapped only above 24 joints)."""
    perm = np.arange(num_joints)
    pairs = list(zip(RIGHT_CHAIN, LEFT_CHAIN)) + (list(zip(RIGHT_HAND, LEFT_HAND)) if num_joints > 24 else [])
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm
