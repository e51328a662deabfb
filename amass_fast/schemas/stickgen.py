"""stick-gen's canonical sample: what ``amass-fast process --preset stick-gen`` sets, and ``enhanced_meta``
(docs/STICKGEN.md, docs/SCHEMAS.md "stick-gen's sample").

stick-gen's trainer collates its samples with torch's default ``collate_fn``, so ``enhanced_meta`` has the same
structure in every sample and no None anywhere: only what is known or measured is there, as plain floats, ints
and strings. It validates against stick-gen's ``EnhancedSampleMetadata`` (every field there is optional):

    motion_style  tempo, energy_level, smoothness     float 0..1, measured on the clip's valid frames
    subject       height_cm float, gender str, age_group str ("unknown": AMASS does not record it)
    temporal      original_fps int, original_duration_sec float, original_num_frames int (the source sequence)
    quality       physics_score float 0..1 (over every frame of the physics as written)

(music, interaction and emotion are not known for AMASS and are left out, never set to None.)
"""
from __future__ import annotations

import math

import numpy as np

from amass_fast.schemas.joints import STICK_GEN_HEIGHT

#: The flags ``--preset stick-gen`` sets (flags given explicitly beside it win).
PRESET = {
    "schema": "stick12",      # stick-gen's v3 motion [T, 48]; every stick-gen config is 48-dimensional
    "screen_x": "left",       # its lateral convention: the body's left at -x
    "scale_height": True,     # its head-to-ankle height of 1.8, one factor per sequence from the rest pose
    "short": "end",           # no held frames for sequences of 10 s or more
    "min_seconds": 6.4,       # shorter sequences: at least 160 of 250 frames moving (held frames stay < 0.4)
    "physics": "backward",    # its compute_basic_physics
}
PRESETS = {"stick-gen": PRESET}

#: stick-gen's DataValidator limits on the physics of a clip: |v| (m/s) and |a| (m/s^2) of the endpoints' mean.
MAX_VELOCITY = 20.0
MAX_ACCELERATION = 100.0
# Frequencies that count as a motion's tempo (Hz), and the least variation of its speed that has one (m/s).
_TEMPO_BAND = (0.25, 5.0)
_TEMPO_MIN_STD = 0.01


def _endpoints(motion: np.ndarray) -> np.ndarray:
    motion = np.asarray(motion, dtype=np.float64)
    return motion.reshape(len(motion), -1, 2)                 # [T, 2S, 2]


def energy_level(motion: np.ndarray, fps: float) -> float:
    """1 - exp(-s / 1 m/s), s = the mean speed of the line endpoints (0 at rest, 0.63 at 1 m/s, 0.86 at 2 m/s)."""
    p = _endpoints(motion)
    if len(p) < 2:
        return 0.0
    speed = np.linalg.norm(np.diff(p, axis=0), axis=-1).mean() * fps
    return float(1.0 - math.exp(-speed))


def tempo(motion: np.ndarray, fps: float) -> float:
    """f / 5 Hz, f the strongest frequency between 0.25 and 5 Hz of the endpoints' mean speed (a walk's steps
    give about 0.4); 0 when the speed does not vary (by less than 1 cm/s) or the clip is shorter than 2 s."""
    p = _endpoints(motion)
    if len(p) < 2 * fps:
        return 0.0
    speed = np.linalg.norm(np.diff(p, axis=0), axis=-1).mean(axis=1) * fps   # [T-1]
    if speed.std() < _TEMPO_MIN_STD:
        return 0.0
    power = np.abs(np.fft.rfft(speed - speed.mean())) ** 2
    freq = np.fft.rfftfreq(len(speed), d=1.0 / fps)
    band = (freq >= _TEMPO_BAND[0]) & (freq <= _TEMPO_BAND[1])
    if not band.any():
        return 0.0
    return float(freq[band][np.argmax(power[band])] / _TEMPO_BAND[1])


def smoothness(motion: np.ndarray) -> float:
    """1 / (1 + r), r = mean |second difference| / mean |first difference| of the endpoints (0 for motion at a
    steady velocity, so smoothness 1; frame-to-frame jitter drives r towards 2); 1 for a clip that does not move."""
    p = _endpoints(motion)
    if len(p) < 3:
        return 1.0
    step = np.linalg.norm(np.diff(p, axis=0), axis=-1).mean()
    if step < 1e-9:
        return 1.0
    jerk = np.linalg.norm(np.diff(p, n=2, axis=0), axis=-1).mean()
    return float(1.0 / (1.0 + jerk / step))


def physics_score(physics: np.ndarray) -> float:
    """The share of frames whose physics [T, 6] stays within stick-gen's DataValidator limits (|v| <= 20 m/s,
    |a| <= 100 m/s^2); 1 for a clip that its validator passes."""
    physics = np.asarray(physics, dtype=np.float64)
    if len(physics) == 0:
        return 1.0
    ok = (np.linalg.norm(physics[:, 0:2], axis=1) <= MAX_VELOCITY) & \
         (np.linalg.norm(physics[:, 2:4], axis=1) <= MAX_ACCELERATION)
    return float(ok.mean())


def gender_word(gender: str) -> str:
    """stick-gen's subject gender vocabulary: male, female or unknown (a neutral body model says nothing)."""
    return gender if gender in ("male", "female") else "unknown"


def enhanced_meta(motion: np.ndarray, physics: np.ndarray, valid_length: int, fps: float, *, source_fps: float,
                  source_frames: int, gender: str, height_cm: float) -> dict:
    """stick-gen's ``enhanced_meta`` of one clip: motion [T, 4S] and its physics [T, 6] (as written), the clip's
    valid frames, its frame rate; the source sequence's rate, frame count, gender and stature. Same keys for every
    clip, no None; values rounded to 6 digits so that equal clips give equal bytes."""
    valid = max(1, min(int(valid_length), len(motion)))
    moving = motion[:valid]
    return {
        "motion_style": {"tempo": round(tempo(moving, fps), 6), "energy_level": round(energy_level(moving, fps), 6),
                         "smoothness": round(smoothness(moving), 6)},
        "subject": {"height_cm": round(float(height_cm), 3), "gender": gender_word(gender), "age_group": "unknown"},
        "temporal": {"original_fps": int(round(source_fps)),
                     "original_duration_sec": round(source_frames / source_fps, 6),
                     "original_num_frames": int(source_frames)},
        "quality": {"physics_score": round(physics_score(physics), 6)},   # as written, held frames too
    }


__all__ = ["PRESET", "PRESETS", "STICK_GEN_HEIGHT", "enhanced_meta", "energy_level", "gender_word", "physics_score",
           "smoothness", "tempo"]
