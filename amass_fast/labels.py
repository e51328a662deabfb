"""Per-clip action labels and descriptions.

CONTRACT used by the pipeline (amass_fast.process); keep it stable:

    labeler = Labeler(babel_dir=None, humanml3d_dir=None, seed=0)     # cheap to build in each worker process
    lab = labeler.label(rel_path, start_s, valid_frames, window, fps)  # -> ClipLabel
    lab.action: str            ActionType value, e.g. "walk"
    lab.actions: np.ndarray    int64 [window], per-frame ActionType index (padded frames repeat the last one)
    lab.description: str
    lab.source: str            where the action came from: "babel" | "cmu" | "keywords" | "idle"

rel_path is the sequence file relative to the AMASS root, with "/" separators, e.g. "CMU/01/01_01_poses.npz"
(its first component is the dataset folder). start_s is the clip's start time in seconds, fps the clip's rate.

This first version labels from keywords in the path (the seed's mapping); the labels issue replaces the body.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

# The stick-gen ActionType values; index = position (DESIGN.md section 3).
ACTION_TYPES: tuple[str, ...] = (
    "idle", "walk", "run", "sprint", "jump", "wave", "talk", "shout", "whisper", "sing", "point", "clap",
    "batting", "pitching", "catching", "running_bases", "fielding", "throwing", "kicking", "dribbling",
    "shooting", "fight", "punch", "kick", "dodge", "sit", "stand", "kneel", "lie_down", "eating", "drinking",
    "reading", "typing", "looking_around", "climbing", "crawling", "swimming", "flying", "celebrate", "dance",
    "cry", "laugh", "handshake", "hug", "high_five", "fight_stance",
)
ACTION_INDEX = {name: i for i, name in enumerate(ACTION_TYPES)}

# The seed's filename keywords (first match wins).
_KEYWORDS = (
    ("walk", "walk"), ("run", "run"), ("jog", "run"), ("jump", "jump"), ("wave", "wave"), ("kick", "kick"),
    ("punch", "punch"), ("dance", "dance"), ("sit", "sit"), ("throw", "throwing"), ("climb", "climbing"),
    ("crawl", "crawling"), ("box", "fight"), ("fight", "fight"), ("stand", "stand"),
)
_TEMPLATES = ("A person performs the action: {a}.", "Someone does a {a} motion.", "A figure is seen doing {a}.")


@dataclass
class ClipLabel:
    action: str
    actions: np.ndarray
    description: str
    source: str


def stable_seed(*parts: object) -> int:
    """A seed that is the same in every process and every run (Python's hash() is randomised per process)."""
    return int.from_bytes(hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest(), "little")


class Labeler:
    def __init__(self, babel_dir: Optional[str] = None, humanml3d_dir: Optional[str] = None, seed: int = 0):
        self.babel_dir, self.humanml3d_dir, self.seed = babel_dir, humanml3d_dir, seed

    def label(self, rel_path: str, start_s: float, valid_frames: int, window: int, fps: float) -> ClipLabel:
        name = rel_path.lower()
        action, source = "idle", "idle"
        for word, act in _KEYWORDS:
            if word in name:
                action, source = act, "keywords"
                break
        rng = np.random.default_rng(stable_seed(self.seed, rel_path, round(start_s, 6)))
        text = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))].format(a=action.replace("_", " "))
        actions = np.full(window, ACTION_INDEX[action], dtype=np.int64)
        return ClipLabel(action, actions, text, source)
