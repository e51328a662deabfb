"""The ActionType list, how specific each action is, seeds and template sentences (shared by every label source)."""
from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np

# The stick-gen ActionType values; index = position (docs/CONVENTIONS.md).
ACTION_TYPES: tuple[str, ...] = (
    "idle", "walk", "run", "sprint", "jump", "wave", "talk", "shout", "whisper", "sing", "point", "clap",
    "batting", "pitching", "catching", "running_bases", "fielding", "throwing", "kicking", "dribbling",
    "shooting", "fight", "punch", "kick", "dodge", "sit", "stand", "kneel", "lie_down", "eating", "drinking",
    "reading", "typing", "looking_around", "climbing", "crawling", "swimming", "flying", "celebrate", "dance",
    "cry", "laugh", "handshake", "hug", "high_five", "fight_stance",
)
ACTION_INDEX = {name: i for i, name in enumerate(ACTION_TYPES)}
IDLE = ACTION_INDEX["idle"]


def specificity(action: str) -> int:
    """How much an action says: idle 0, stand 1, anything else 2 (overlapping labels keep the most specific)."""
    return {"idle": 0, "stand": 1}.get(action, 2)


def main_action(actions: np.ndarray) -> int:
    """The most frequent label; ties go to the one that occurs first."""
    counts = np.bincount(actions, minlength=len(ACTION_TYPES))
    return int(actions[np.argmax(counts[actions] == counts.max())])


def stable_seed(*parts: object) -> int:
    """A seed that is the same in every process and every run (Python's hash() is randomised per process).
    surrogateescape: file names that are not UTF-8 (Linux allows any bytes) still hash, and stably."""
    text = "\x1f".join(map(str, parts)).encode("utf-8", "surrogateescape")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def data_text(name: str) -> str:
    """A table shipped in amass_fast/data/."""
    return resources.files("amass_fast").joinpath("data", name).read_text(encoding="utf-8")


_PHRASES = {
    "idle": "stands still", "walk": "walks", "run": "runs", "sprint": "sprints", "jump": "jumps",
    "wave": "waves a hand", "talk": "talks, gesturing with the hands", "shout": "shouts", "whisper": "whispers",
    "sing": "sings", "point": "points at something", "clap": "claps", "batting": "swings a bat",
    "pitching": "pitches a ball", "catching": "catches a ball", "running_bases": "runs the bases",
    "fielding": "fields a ball", "throwing": "throws something", "kicking": "kicks a ball",
    "dribbling": "dribbles a ball", "shooting": "shoots a ball", "fight": "fights", "punch": "throws punches",
    "kick": "kicks", "dodge": "dodges", "sit": "sits down", "stand": "stands", "kneel": "kneels down",
    "lie_down": "lies down", "eating": "eats", "drinking": "drinks", "reading": "reads", "typing": "types",
    "looking_around": "looks around", "climbing": "climbs", "crawling": "crawls",
    "swimming": "makes swimming strokes", "flying": "spreads the arms as if flying", "celebrate": "celebrates",
    "dance": "dances", "cry": "cries", "laugh": "laughs", "handshake": "shakes hands", "hug": "hugs someone",
    "high_five": "gives a high five", "fight_stance": "holds a fighting stance",
}
_TEMPLATES = ("A person {}.", "Someone {}.", "A figure {}.", "The person {}.")


def template_description(action: str, rng: np.random.Generator) -> str:
    """A short sentence for ``action``, one of a few phrasings chosen by ``rng``."""
    return _TEMPLATES[int(rng.integers(len(_TEMPLATES)))].format(_PHRASES[action])


def sentence(text: str) -> str:
    """Spaces collapsed, first letter upper case, a final full stop."""
    text = " ".join(text.split())
    text = text[:1].upper() + text[1:]
    return text if text[-1:] in ".!?" else text + "."
