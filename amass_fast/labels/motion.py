"""Actions measured from the motion itself, for clips that no annotation, CMU description or file-name word labels.

Input per clip (:class:`ClipMotion`): the front-view stick figure the pipeline computes (stick5: 0 head->neck,
1 neck->left wrist, 2 neck->right wrist, 3 pelvis->left ankle, 4 pelvis->right ankle; x1, y1, x2, y2 in metres,
y = height above the clip's lowest ankle) and the root translation (AMASS ``trans``, Z up, metres) at the same
frame times. Rules, first that holds wins (heights in metres above the lowest ankle; AMASS subjects are adults,
whose hips stand 0.75-0.95 m above the ankles):

===========  ================================================================================================
lie_down     median head height < 0.6 m
kneel        median hip height < 0.3 m (squatting, crouching, kneeling on the heels)
sit          median hip height < 0.62 m (from the front, kneeling upright looks the same and is labelled sit)
jump         hips rise and fall >= 0.15 m (95th - 5th percentile) and both feet are >= 0.1 m up in >= 10% of
             frames
sprint       horizontal root speed >= 5.0 m/s (median over 0.5 s steps)
run          >= 2.0 m/s
walk         >= 0.5 m/s
wave         a wrist above the neck (by 0.05 m) in >= 30% of frames, moving back and forth (>= 2 crossings of
             its mean, spread >= 0.02 m) while raised
stand        wrists and ankles move < 0.15 m/s relative to the hips (median), root speed < 0.25 m/s
idle         anything else (moving in place without a recognised action)
===========  ================================================================================================
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LIE_HEAD_M = 0.6
KNEEL_HIPS_M = 0.3
SIT_HIPS_M = 0.62
JUMP_RISE_M = 0.15
AIRBORNE_M = 0.1
AIRBORNE_FRACTION = 0.1
SPRINT_MPS, RUN_MPS, WALK_MPS = 5.0, 2.0, 0.5
STILL_ROOT_MPS, STILL_LIMBS_MPS = 0.25, 0.15
WAVE_ABOVE_NECK_M, WAVE_FRACTION, WAVE_SPREAD_M, WAVE_CROSSINGS = 0.05, 0.3, 0.02, 2
SPEED_STEP_S = 0.5


@dataclass(frozen=True)
class ClipMotion:
    """One clip's motion: ``stick`` [valid, 20] float32 front-view stick5 lines (see the module docstring) and
    ``root`` [valid, 3] the AMASS root translation at the clip's frame times (Z up, metres)."""
    stick: np.ndarray
    root: np.ndarray


@dataclass(frozen=True)
class MotionLabel:
    """What the motion shows: an ActionType value, a sentence saying what was measured, and the measures."""
    action: str
    description: str
    measures: dict


def _root_speed(root: np.ndarray, fps: float) -> tuple[float, float]:
    """(median horizontal speed over SPEED_STEP_S steps in m/s, horizontal path length in m)."""
    xy = np.asarray(root, dtype=np.float64)[:, :2]
    if len(xy) < 2:
        return 0.0, 0.0
    lag = int(min(max(1, round(SPEED_STEP_S * fps)), len(xy) - 1))
    speed = float(np.median(np.linalg.norm(xy[lag:] - xy[:-lag], axis=1)) * fps / lag)
    return speed, float(np.linalg.norm(np.diff(xy, axis=0), axis=1).sum())


def _runs(mask: np.ndarray) -> int:
    """How many separate runs of True (of two frames or more) ``mask`` has."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    starts, ends = np.flatnonzero(np.diff(padded) == 1), np.flatnonzero(np.diff(padded) == -1)
    return int(np.sum(ends - starts >= 2))


def _wave(stick: np.ndarray) -> tuple[str, int]:
    """("left"/"right", back-and-forth count) of a raised, waving hand, or ("", 0)."""
    neck_y = stick[:, 5]
    best = ("", 0)
    for side, (xi, yi) in (("left", (6, 7)), ("right", (10, 11))):
        raised = stick[:, yi] > neck_y + WAVE_ABOVE_NECK_M
        if raised.mean() < WAVE_FRACTION:
            continue
        rel = stick[raised][:, [xi, yi]] - stick[raised][:, [4, 5]]
        rel = rel - rel.mean(axis=0)
        axis = int(np.argmax(rel.std(axis=0)))
        if rel[:, axis].std() < WAVE_SPREAD_M:
            continue
        signs = np.sign(rel[:, axis])
        crossings = int(np.sum(signs[1:] * signs[:-1] < 0))
        if crossings >= WAVE_CROSSINGS and crossings > best[1]:
            best = (side, crossings)
    return best


def classify_motion(motion: ClipMotion, fps: float) -> MotionLabel:
    """The action a clip's motion shows, by the rules of the module docstring."""
    stick = np.asarray(motion.stick, dtype=np.float64).reshape(-1, 20)
    n = len(stick)
    seconds = n / fps
    head, hips = float(np.median(stick[:, 1])), float(np.median(stick[:, 13]))
    feet = np.minimum(stick[:, 15], stick[:, 19])
    airborne = feet >= AIRBORNE_M
    rise = float(np.percentile(stick[:, 13], 95) - np.percentile(stick[:, 13], 5))
    speed, path = _root_speed(motion.root, fps)
    ends = stick[:, [6, 7, 10, 11, 14, 15, 18, 19]] - np.tile(stick[:, 12:14], 4)
    limbs = float(np.median(np.abs(np.diff(ends, axis=0)).reshape(-1, 4, 2).max(axis=(1, 2))) * fps) if n > 1 else 0.0
    measures = {"hips_m": round(hips, 3), "head_m": round(head, 3), "speed_mps": round(speed, 3),
                "rise_m": round(rise, 3), "airborne": round(float(airborne.mean()), 3), "limbs_mps": round(limbs, 3)}

    if head < LIE_HEAD_M:
        return MotionLabel("lie_down", f"A person lies on the ground, the head about {head:.2f} m above the ankles.", measures)
    if hips < KNEEL_HIPS_M:
        return MotionLabel("kneel", f"A person crouches low, the hips about {hips:.2f} m above the ankles.", measures)
    if hips < SIT_HIPS_M:
        return MotionLabel("sit", f"A person sits, the hips about {hips:.2f} m above the ankles.", measures)
    if rise >= JUMP_RISE_M and airborne.mean() >= AIRBORNE_FRACTION:
        jumps = max(1, _runs(airborne))
        times = "once" if jumps == 1 else f"{jumps} times"
        return MotionLabel("jump", f"A person jumps {times}, the hips rising about {rise:.2f} m.", measures)
    for action, verb, threshold in (("sprint", "sprints", SPRINT_MPS), ("run", "runs", RUN_MPS),
                                    ("walk", "walks", WALK_MPS)):
        if speed >= threshold:
            return MotionLabel(action, f"A person {verb} at about {speed:.1f} m/s, covering {path:.1f} m in "
                                       f"{seconds:.1f} s.", measures)
    side, crossings = _wave(stick)
    if side:
        return MotionLabel("wave", f"A person waves the raised {side} hand back and forth about "
                                   f"{max(1, crossings // 2)} times.", measures)
    if speed < STILL_ROOT_MPS and limbs < STILL_LIMBS_MPS:
        return MotionLabel("stand", "A person stands still, hardly moving the arms or legs.", measures)
    return MotionLabel("idle", f"A person moves in place, travelling about {speed:.1f} m/s.", measures)
