"""Per-clip action labels and descriptions, and the `amass-fast labels` coverage report.

CONTRACT used by the pipeline (amass_fast.process); keep it stable:

    labeler = Labeler(babel_dir=None, humanml3d_dir=None, seed=0)     # cheap to build in each worker process
    lab = labeler.label(rel_path, start_s, valid_frames, window, fps)  # -> ClipLabel
    lab.action: str            ActionType value, e.g. "walk"
    lab.actions: np.ndarray    int64 [window], per-frame ActionType index (padded frames repeat the last one)
    lab.description: str
    lab.source: str            where the action came from: "babel" | "cmu" | "keywords" | "idle"

rel_path is the sequence file relative to the AMASS root, with "/" separators, e.g. "CMU/01/01_01_poses.npz"
(its first component is the dataset folder). start_s is the clip's start time in seconds, fps the clip's rate.
Optional: ``label(..., source_fps=120.0)`` (the file's own rate) makes HumanML3D spans exact for 250 fps and
59.99999 fps files; ``lab.description_source`` says "humanml3d" | "cmu" | "template".

Actions, best source first (frame k of a clip is at start_s + k / fps seconds):

1. BABEL (``--babel DIR``: train.json, val.json, test.json, extra_*.json). Each entry's ``feat_p`` names an AMASS
   file ("CMU/CMU/01/01_01_poses.npz": the doubled dataset folder is dropped; matching ignores case, the old and
   new dataset folder names, and "_poses" vs "_stageii"). ``frame_ann`` segments (start_t, end_t seconds, act_cat
   lists) label the frames they cover; where segments overlap the most specific action wins (anything over stand,
   stand over idle), then the shorter segment. Frames no segment covers take the ``seq_ann`` action, else idle.
   Categories map to ActionType by data/babel_to_action.tsv.
2. CMU trial descriptions (data/cmu_descriptions.tsv, from the CMU index): keywords of the trial's description,
   else of its subject's description ("07_01" matches "CMU/07/07_01_poses.npz").
3. Keywords in the file name, then its folders, then the dataset (HDM05 "walkRightCircle4Steps", KIT
   "kick_high_left02", TotalCapture "walking2", ACCAD "Male2MartialArtsKicks_c3d/G8 - roundhouse right", ...).
4. idle.

Descriptions: a HumanML3D caption (``--humanml3d DIR``: index.csv + texts/) of the annotated span that overlaps the
clip most, when that overlap covers at least half of the shorter of clip and span; else the CMU description as a
sentence; else a template sentence for the main action. HumanML3D counts frames at 20 fps after cutting the first
3 s (Eyes_Japan_Dataset, MPI_HDM05), 1 s (TotalCapture, MPI_Limits) or 0.5 s (Transitions_mocap) of a file, as
its raw_pose_processing does; humanact12 rows are ignored. Its 20 fps frames are every int(fps / 20)-th source
frame, so with ``source_fps`` given a frame lasts int(fps / 20) / fps seconds, otherwise 1/20 s. Choices among
captions and templates are seeded by stable_seed(seed, rel_path, start), the same in every process.
"""
from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import json
import math
import os
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Mapping, Optional, Sequence

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
LABEL_SOURCES = ("babel", "cmu", "keywords", "idle")
DESCRIPTION_SOURCES = ("humanml3d", "cmu", "template")
DEFAULT_AMASS_ROOT = "data/amass"  # as in `amass-fast extract` and `process`

_IDLE = ACTION_INDEX["idle"]


@dataclass
class ClipLabel:
    action: str
    actions: np.ndarray
    description: str
    source: str
    description_source: str = "template"


def stable_seed(*parts: object) -> int:
    """A seed that is the same in every process and every run (Python's hash() is randomised per process).
    surrogateescape: file names that are not UTF-8 (Linux allows any bytes) still hash, and stably."""
    return int.from_bytes(hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8", "surrogateescape"), digest_size=8).digest(), "little")


def specificity(action: str) -> int:
    """How much an action says: idle 0, stand 1, anything else 2 (overlapping labels keep the most specific)."""
    return {"idle": 0, "stand": 1}.get(action, 2)


# --- matching AMASS paths across releases and annotation sets --------------------------------------------------

# Newer AMASS archive names -> the extracted folder names BABEL and HumanML3D use (lower case).
_DATASET_ALIASES = {
    "bmlrub": "biomotionlab_ntroje", "hdm05": "mpi_hdm05", "eyesjapandataset": "eyes_japan_dataset",
    "eyes_japan": "eyes_japan_dataset", "poseprior": "mpi_limits", "transitions": "transitions_mocap",
    "ssm": "ssm_synced", "mosh": "mpi_mosh", "dfaust": "dfaust_67", "tcdhands": "tcd_handmocap",
}
_FILE_SUFFIX = re.compile(r"(_poses|_stageii)?\.(npz|npy)$")


def sequence_key(path: str) -> str:
    """The name one motion has in AMASS, BABEL and HumanML3D alike: "CMU/CMU/01/01_01_poses.npz",
    "./pose_data/CMU/01/01_01_poses.npy" and "cmu/01/01_01_stageii.npz" all give "cmu/01/01_01"."""
    parts = [p for p in path.replace("\\", "/").lower().split("/") if p not in ("", ".")]
    if parts and parts[0] == "pose_data":  # HumanML3D's folder of converted files
        parts = parts[1:]
    while len(parts) > 2 and parts[0] == parts[1]:  # BABEL's "CMU/CMU/..."
        parts = parts[1:]
    if len(parts) > 1:
        parts[0] = _DATASET_ALIASES.get(parts[0], parts[0])
    if parts:
        parts[-1] = _FILE_SUFFIX.sub("", parts[-1])
    return "/".join(parts)


# --- keywords -------------------------------------------------------------------------------------------------

# action -> words and phrases that name it. Words also match their usual inflections (walk: walks, walked,
# walking, walker; run: running; dance: dancing). A phrase beats a single word at the same place ("lay up" is a
# basketball shot, "lay" alone lies down).
_KEYWORDS = {
    "idle": "rom|range of motion|calibration|idle|static|acting|hang out",
    "walk": "walk|carry|stroll|stride|march|sneak|tiptoe|limp|stagger|wander|shuffle|navigate|strafe|step|creep|"
            "amble|hike",
    "run": "run|jog",
    "sprint": "sprint|dash",
    "jump": "jump|hop|leap|skip|hopscotch|flip|backflip|jumpingjack",
    "wave": "wave|greet|salute|hello|goodbye",
    "talk": "talk|conversation|chat|explain|gesture|phone|telephone|discuss|argue|quarrel",
    "shout": "shout|yell|scream",
    "whisper": "whisper",
    "sing": "sing|song|nursery rhyme",
    "point": "point",
    "clap": "clap|applaud",
    "batting": "bat|golf|putt|bunt|baseball swing",
    "pitching": "pitch",
    "catching": "catch",
    "running_bases": "base running|run the bases",
    "fielding": "field",
    "throwing": "throw|toss|frisbee",
    "kicking": "kick ball|kick the ball|kick a ball",
    "dribbling": "dribble",
    "shooting": "shoot|free throw|jump shot|lay up|layup",
    "fight": "fight|boxing|boxer|spar|swordplay|sword|fencing|karate|kendo|judo|wrestle|taekwondo|kungfu|brawl|attack",
    "punch": "punch|jab|uppercut|hit|strike",
    "kick": "kick|roundhouse",
    "dodge": "dodge|duck|evade|evasive|avoid",
    "sit": "sit|seat",
    "stand": "stand|pose|balance|t pose|a pose",
    "kneel": "kneel|squat|crouch",
    "lie_down": "lie|lying|lay|sleep",
    "eating": "eat",
    "drinking": "drink|sip",
    "reading": "read",
    "typing": "type|keyboard",
    "looking_around": "look|search|binoculars",
    "climbing": "climb|ladder|stairs|staircase|upstairs|downstairs|hang",
    "crawling": "crawl",
    "swimming": "swim|stroke|breaststroke|backstroke|fly stroke",
    "flying": "fly|airplane|flap",
    "celebrate": "celebrate|cheer|victory",
    "dance": "dance|salsa|charleston|ballet|waltz|tango|hiphop|hip hop|breakdance|pirouette|arabesque|jete|disco|"
             "samba|moonwalk|freestyle",
    "cry": "cry|sob|weep",
    "laugh": "laugh|giggle",
    "handshake": "handshake|shake hands|shake hand|hand shake|shaking hands",
    "hug": "hug|embrace",
    "high_five": "highfive|high five",
    "fight_stance": "stance|guard|block|defensive",
}
# Words that set a scene rather than name a movement: used only when no word above matches anywhere.
_CONTEXT_KEYWORDS = {
    "walk": "treadmill", "climbing": "playground", "dribbling": "basketball", "kicking": "soccer|football",
    "batting": "baseball|tennis", "throwing": "handball", "fight": "martial", "sit": "motorcycle",
}
# Datasets whose every motion is one kind of action (matched on sequence_key's dataset folder).
_DATASET_ACTIONS = {"dancedb": "dance", "bmlhandball": "throwing"}


def _inflections(word: str) -> set[str]:
    forms = {word, word + "s", word + "es", word + "ed", word + "ing", word + "er", word + "ers"}
    if word.endswith("e"):
        forms |= {word + "d", word[:-1] + "ing", word + "r", word + "rs"}
    if len(word) >= 3 and word[-1] not in "aeiouwxy" and word[-2] in "aeiou" and word[-3] not in "aeiou":
        forms |= {word + word[-1] + suffix for suffix in ("ing", "ed", "er", "ers")}  # run -> running
    return forms


def _build_matcher(table: Mapping[str, str]) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """first word -> [(the phrase's other words, action)], longest phrases first."""
    matcher: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for action, alternatives in table.items():
        for phrase in alternatives.split("|"):
            first, *rest = phrase.split()
            for form in _inflections(first) if not rest else {first}:
                matcher.setdefault(form, []).append((tuple(rest), action))
    for entries in matcher.values():
        entries.sort(key=lambda entry: -len(entry[0]))
    return matcher


_MATCHER = _build_matcher(_KEYWORDS)
_CONTEXT_MATCHER = _build_matcher(_CONTEXT_KEYWORDS)


def words(text: str) -> list[str]:
    """Lower-case words of a name or sentence: "HDM_bd_walkRightCircle4Steps" -> hdm bd walk right circle 4 steps."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)  # "TPose" -> "T Pose"
    return re.findall(r"[a-z]+|\d+", text.lower())


def _first_match(tokens: list[str], matcher) -> Optional[str]:
    """The earliest action named in tokens, preferring any other action over idle."""
    fallback = None
    for i, token in enumerate(tokens):
        for rest, action in matcher.get(token, ()):
            if tuple(tokens[i + 1:i + 1 + len(rest)]) == rest:
                if action != "idle":
                    return action
                fallback = fallback or action
                break
    return fallback


def keyword_action(texts: Sequence[str]) -> Optional[str]:
    """The action named in the first of ``texts`` that names one (movement words anywhere beat scene words)."""
    tokenized = [words(text) for text in texts]
    for matcher in (_MATCHER, _CONTEXT_MATCHER):
        for tokens in tokenized:
            action = _first_match(tokens, matcher)
            if action is not None:
                return action
    return None


@functools.lru_cache(maxsize=65536)
def path_action(rel_path: str) -> Optional[str]:
    """The action named by a file's name, else its folders (innermost first), else its dataset; None if none."""
    parts = [p for p in rel_path.replace("\\", "/").split("/") if p]
    if not parts:
        return None
    parts[-1] = _FILE_SUFFIX.sub("", parts[-1])
    return keyword_action(parts[::-1]) or _DATASET_ACTIONS.get(sequence_key(rel_path).split("/")[0])


# --- package tables -------------------------------------------------------------------------------------------

def _data_text(name: str) -> str:
    return resources.files("amass_fast").joinpath("data", name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def babel_action_table() -> dict[str, str]:
    """BABEL act_cat -> ActionType value (data/babel_to_action.tsv)."""
    table = {}
    for line in _data_text("babel_to_action.tsv").splitlines():
        if line.strip() and not line.startswith("#"):
            category, action = line.split("\t")[:2]
            if action not in ACTION_INDEX:
                raise ValueError(f"babel_to_action.tsv: {category!r} maps to {action!r}, not an ActionType")
            table[category] = action
    return table


@functools.lru_cache(maxsize=1)
def cmu_descriptions() -> dict[str, str]:
    """CMU subject ("7") and trial ("7_12") descriptions (data/cmu_descriptions.tsv, see tools/make_cmu_table.py)."""
    rows = (line.split("\t", 1) for line in _data_text("cmu_descriptions.tsv").splitlines()
            if line.strip() and not line.startswith("#"))
    return {key: text for key, text in rows}


def _cmu_texts(rel_path: str) -> tuple[Optional[str], Optional[str]]:
    """(trial description, subject description) of a CMU file, each None where the index has none."""
    key = sequence_key(rel_path)
    match = re.fullmatch(r"cmu/(?:.*/)?(\d+)_(\d+)", key)
    if not match:
        return None, None
    subject, trial = int(match.group(1)), int(match.group(2))
    table = cmu_descriptions()
    return table.get(f"{subject}_{trial}"), table.get(str(subject))


def cmu_sentence(text: str) -> str:
    """An index entry as a sentence: "playground - forward jumps, turn around" -> "Playground: forward jumps,
    turn around."; "Front_Kicking001" -> "Front kicking."."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text.replace("_", " "))
    text = re.sub(r"(?<=[a-z])\d+\b", "", text)  # take numbers: "Kicking001"
    text = re.sub(r"\b[A-Z][a-z]+\b", lambda m: m.group(0).lower(), text)  # keeps "A", "B", "I'm"
    text = " ".join(text.replace(" - ", ": ").split()).strip(" ,;:-")
    text = text[:1].upper() + text[1:]
    return text if text[-1:] in '.!?"' else text + "."


@functools.lru_cache(maxsize=65536)
def cmu_action_and_sentence(rel_path: str) -> tuple[Optional[str], Optional[str]]:
    """The action the CMU index names for a file (trial, else subject description) and its description sentence
    (the trial's; the subject's only when that names an action)."""
    trial, subject = _cmu_texts(rel_path)
    action = keyword_action([t for t in (trial, subject) if t])
    if trial:
        return action, cmu_sentence(trial)
    if subject and keyword_action([subject]):
        return action, cmu_sentence(subject)
    return action, None


# --- BABEL ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BabelSequence:
    """One file's BABEL labels: segments (start_s, end_s, action index) ordered so that a later one overrides an
    earlier one where they overlap; ``fallback`` labels frames no segment covers."""
    segments: tuple[tuple[float, float, int], ...]
    fallback: int
    dense: bool

    def frame_actions(self, times: np.ndarray) -> np.ndarray:
        actions = np.full(len(times), self.fallback, dtype=np.int64)
        for start, end, action in self.segments:
            actions[(times >= start) & (times < end)] = action
        return actions


def _label_action(label: Mapping, table: Mapping[str, str]) -> Optional[str]:
    """The most specific ActionType among a BABEL label's act_cat list (first wins ties); None if none maps."""
    actions = [table[c] for c in (label.get("act_cat") or []) if c in table]
    return max(actions, key=specificity) if actions else None


def _segments(annotation: Optional[Mapping], table: Mapping[str, str], whole: bool) -> list[tuple[float, float, str]]:
    found = []
    for label in (annotation or {}).get("labels") or []:
        action = _label_action(label, table)
        if action is not None:
            start, end = (0.0, math.inf) if whole else (float(label["start_t"]), float(label["end_t"]))
            found.append((start, end, action))
    return found


def _babel_sequence(entry: Mapping, table: Mapping[str, str]) -> Optional[BabelSequence]:
    """The labels of one BABEL entry: its first frame-level annotation (frame_ann, or extra files' frame_anns),
    with the sequence-level one (seq_ann / seq_anns) for uncovered frames; None when nothing maps."""
    frame_anns = [entry.get("frame_ann"), *(entry.get("frame_anns") or [])]
    seq_anns = [entry.get("seq_ann"), *(entry.get("seq_anns") or [])]
    whole = next((s for s in (_segments(a, table, True) for a in seq_anns) if s), [])
    dense = next((s for s in (_segments(a, table, False) for a in frame_anns) if s), [])
    if not dense and not whole:
        return None
    best_whole = max((a for _, _, a in whole), key=specificity, default="idle")
    # Override order: least specific first, then longest first, so the most specific, shortest segment wins.
    ordered = sorted(dense or whole, key=lambda s: (specificity(s[2]), -(s[1] - s[0]), -s[0]))
    return BabelSequence(tuple((s, e, ACTION_INDEX[a]) for s, e, a in ordered), ACTION_INDEX[best_whole],
                         dense=bool(dense))


@functools.lru_cache(maxsize=4)
def babel_index(babel_dir: str) -> dict[str, BabelSequence]:
    """sequence_key -> labels, from every BABEL JSON file in ``babel_dir`` (loaded once per process)."""
    folder = Path(babel_dir)
    names = ["train.json", "val.json", "test.json"] + sorted(p.name for p in folder.glob("extra_*.json"))
    files = [folder / name for name in names if (folder / name).is_file()]
    if not files:
        raise FileNotFoundError(f"{folder}: no BABEL files (train.json, val.json, extra_*.json) found; download "
                                "BABEL from https://babel.is.tue.mpg.de and pass the folder holding them to --babel")
    table, index = babel_action_table(), {}
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = data.values() if isinstance(data, dict) else data
            parsed = [(sequence_key(e["feat_p"]), _babel_sequence(e, table)) for e in entries]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}: not a BABEL annotation file ({type(exc).__name__}: {exc}); "
                             "re-download BABEL or remove this file from the --babel folder") from exc
        for key, sequence in parsed:
            old = index.get(key)
            if sequence is not None and (old is None or (sequence.dense and not old.dense)):
                index[key] = sequence
    return index


# --- HumanML3D ------------------------------------------------------------------------------------------------

HUMANML3D_FPS = 20
# Frames (at 20 fps) HumanML3D cuts from the start of a file before applying index.csv (raw_pose_processing).
HUMANML3D_TRIM = {"eyes_japan_dataset": 60, "mpi_hdm05": 60, "totalcapture": 20, "mpi_limits": 20,
                  "transitions_mocap": 10}


@dataclass(frozen=True)
class HumanML3DSpan:
    """One annotated span: frames [start, end) at HumanML3D's 20 fps after its per-dataset trim; ``name`` is
    the texts/ file stem."""
    start: int
    end: int
    name: str


@functools.lru_cache(maxsize=4)
def humanml3d_index(humanml3d_dir: str) -> dict[str, list[HumanML3DSpan]]:
    """sequence_key -> annotated spans, from ``humanml3d_dir``/index.csv (loaded once per process)."""
    path = Path(humanml3d_dir, "index.csv")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; pass the HumanML3D folder holding index.csv and texts/ "
                                "to --humanml3d (https://github.com/EricGuo5513/HumanML3D)")
    index: dict[str, list[HumanML3DSpan]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"source_path", "start_frame", "end_frame", "new_name"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}; expected source_path,start_frame,"
                             "end_frame,new_name (HumanML3D's index.csv)")
        for row in reader:
            if "humanact12" in row["source_path"].lower():  # not AMASS
                continue
            span = HumanML3DSpan(int(float(row["start_frame"])), int(float(row["end_frame"])),
                                 Path(row["new_name"]).stem)
            index.setdefault(sequence_key(row["source_path"]), []).append(span)
    return index


@functools.lru_cache(maxsize=4096)
def humanml3d_captions(humanml3d_dir: str, name: str) -> tuple[tuple[str, float, float], ...]:
    """(caption, start_s, end_s) per line of texts/<name>.txt; start = end = 0 means the whole span."""
    path = Path(humanml3d_dir, "texts", name + ".txt")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ()
    captions = []
    for line in lines:
        fields = line.strip().split("#")
        if not fields[0].strip():
            continue
        times = []
        for text in fields[2:4]:
            try:
                value = float(text)
            except ValueError:
                value = 0.0
            times.append(value if math.isfinite(value) else 0.0)
        start, end = (times + [0.0, 0.0])[:2]
        captions.append((fields[0].strip(), start, end))
    return tuple(captions)


def _sentence(caption: str) -> str:
    caption = " ".join(caption.split())
    caption = caption[:1].upper() + caption[1:]
    return caption if caption[-1:] in ".!?" else caption + "."


# --- templates ------------------------------------------------------------------------------------------------

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
    return _TEMPLATES[int(rng.integers(len(_TEMPLATES)))].format(_PHRASES[action])


def main_action(actions: np.ndarray) -> int:
    """The most frequent label; ties go to the one that occurs first."""
    counts = np.bincount(actions, minlength=len(ACTION_TYPES))
    return int(actions[np.argmax(counts[actions] == counts.max())])


# --- the labeler ----------------------------------------------------------------------------------------------

class Labeler:
    """Labels clips (see the module docstring). Building one is free: the BABEL and HumanML3D indexes load on the
    first clip that needs them, once per process, and are shared by every Labeler with the same folders."""

    def __init__(self, babel_dir: Optional[str] = None, humanml3d_dir: Optional[str] = None, seed: int = 0):
        self.babel_dir = None if babel_dir is None else os.path.abspath(os.fspath(babel_dir))
        self.humanml3d_dir = None if humanml3d_dir is None else os.path.abspath(os.fspath(humanml3d_dir))
        self.seed = seed

    def check(self) -> None:
        """Load the BABEL and HumanML3D indexes now, so that a wrong folder is reported before any work starts.
        Raises FileNotFoundError or ValueError naming the file and what to do."""
        if self.babel_dir is not None:
            babel_index(self.babel_dir)
        if self.humanml3d_dir is not None:
            humanml3d_index(self.humanml3d_dir)

    def label(self, rel_path: str, start_s: float, valid_frames: int, window: int, fps: float, *,
              source_fps: Optional[float] = None) -> ClipLabel:
        valid = max(1, min(int(valid_frames), int(window)))
        times = start_s + np.arange(valid) / fps
        key = sequence_key(rel_path)
        frame_actions, source = self._frame_actions(rel_path, key, times)
        actions = np.full(window, frame_actions[-1], dtype=np.int64)
        actions[:valid] = frame_actions
        action = ACTION_TYPES[main_action(frame_actions)]

        rng = np.random.default_rng(stable_seed(self.seed, rel_path, f"{start_s:.6f}"))
        clip_span = (float(times[0]), float(times[0]) + valid / fps)
        description, description_source = self._caption(key, clip_span, source_fps, rng), "humanml3d"
        if description is None:
            description, description_source = cmu_action_and_sentence(rel_path)[1], "cmu"
        if description is None:
            description, description_source = template_description(action, rng), "template"
        return ClipLabel(action, actions, description, source, description_source)

    def _frame_actions(self, rel_path: str, key: str, times: np.ndarray) -> tuple[np.ndarray, str]:
        if self.babel_dir is not None:
            sequence = babel_index(self.babel_dir).get(key)
            if sequence is not None:
                return sequence.frame_actions(times), "babel"
        for source, action in (("cmu", cmu_action_and_sentence(rel_path)[0]), ("keywords", path_action(rel_path))):
            if action is not None:
                return np.full(len(times), ACTION_INDEX[action], dtype=np.int64), source
        return np.full(len(times), _IDLE, dtype=np.int64), "idle"

    def _caption(self, key: str, clip: tuple[float, float], source_fps: Optional[float],
                 rng: np.random.Generator) -> Optional[str]:
        """A HumanML3D caption for the clip [start, end) seconds, or None (rules in the module docstring)."""
        if self.humanml3d_dir is None:
            return None
        spans = humanml3d_index(self.humanml3d_dir).get(key)
        if not spans:
            return None
        frame_s = 1.0 / HUMANML3D_FPS
        if source_fps:  # HumanML3D took every int(fps / 20)-th frame of the file
            frame_s = max(1, int(source_fps / HUMANML3D_FPS)) / source_fps
        offset = HUMANML3D_TRIM.get(key.split("/")[0], 0)
        best, best_overlap = None, 0.0
        for span in spans:
            start, end = (offset + span.start) * frame_s, (offset + span.end) * frame_s
            overlap = min(end, clip[1]) - max(start, clip[0])
            if overlap > best_overlap and overlap >= 0.5 * min(end - start, clip[1] - clip[0]):
                captions = humanml3d_captions(self.humanml3d_dir, span.name)
                if captions:
                    best, best_overlap = (start, captions), overlap
        if best is None:
            return None
        start, captions = best
        # Captions of a part of the span (start/end seconds on HumanML3D's clock) count where they meet the clip.
        scale = frame_s * HUMANML3D_FPS
        fitting = [c for c, s, e in captions
                   if (s == 0.0 and e == 0.0) or (start + s * scale < clip[1] and start + e * scale > clip[0])]
        choices = fitting or [c for c, _, _ in captions]
        return _sentence(choices[int(rng.integers(len(choices)))])


# --- coverage report ------------------------------------------------------------------------------------------

def coverage_table(counts: Mapping[str, int], rows: Sequence[str] = LABEL_SOURCES,
                   title: str = "action from") -> str:
    """A table of clip counts and percentages per source (rows in this order, then any other keys, then total)."""
    names = list(rows) + sorted(k for k in counts if k not in rows)
    total = sum(counts.get(name, 0) for name in names)
    width = max(len(title), *(len(n) for n in names), len("total"))
    lines = [f"{title:<{width}}  {'clips':>9}  {'%':>6}"]
    for name in names + ["total"]:
        n = total if name == "total" else counts.get(name, 0)
        lines.append(f"{name:<{width}}  {n:>9,}  {100.0 * n / total if total else 0.0:>6.1f}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amass-root", "--amass_root", default=DEFAULT_AMASS_ROOT, metavar="DIR",
                        help=f"the extracted AMASS folder, dataset folders inside (default {DEFAULT_AMASS_ROOT})")
    parser.add_argument("--babel", metavar="DIR", help="BABEL folder with train.json, val.json, extra_*.json")
    parser.add_argument("--humanml3d", metavar="DIR", help="HumanML3D folder with index.csv and texts/")
    parser.add_argument("--window", type=int, default=250, help="clip length in frames (default 250)")
    parser.add_argument("--stride", type=int, default=None, help="frames between clip starts (default: window)")
    parser.add_argument("--short", choices=("pad", "drop"), default="pad",
                        help="a tail shorter than the window: count it (pad, default) or not (drop), as in process")
    parser.add_argument("--min-seconds", type=float, default=0.0, metavar="S",
                        help="with --short pad: leave out tails shorter than S seconds, as in process (default 0)")
    parser.add_argument("--fps", type=float, default=25.0, help="clip frame rate (default 25)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the choice of descriptions (default 0)")


def run(args: argparse.Namespace) -> int:
    """Count where each clip's label and description would come from; reads only file headers."""
    from tqdm import tqdm

    from amass_fast.clips import min_tail_frames, plan_windows
    from amass_fast.formats import FormatError, NoMotion, iter_motion_files, probe_sequence, rel_path

    root = Path(args.amass_root)
    if not root.is_dir():
        print(f"amass-fast labels: {root}: no such folder; extract AMASS there (amass-fast extract --out {root}) "
              f"or pass --amass-root DIR", file=sys.stderr)
        return 2
    labeler = Labeler(args.babel, args.humanml3d, args.seed)
    try:
        labeler.check()
    except (FileNotFoundError, ValueError) as exc:
        print(f"amass-fast labels: {exc}", file=sys.stderr)
        return 2
    files = list(iter_motion_files(root))
    if not files:
        print(f"amass-fast labels: {root}: no .npz motion files found; extract AMASS there first "
              f"(amass-fast extract --out {root})", file=sys.stderr)
        return 1
    sources: dict[str, int] = {}
    descriptions: dict[str, int] = {}
    unreadable = 0
    for path in tqdm(files, desc="labels", unit="file", file=sys.stderr, disable=None):
        try:
            info = probe_sequence(path)
        except FormatError as exc:
            unreadable += 1
            print(f"skipped: {exc}", file=sys.stderr)
            continue
        if isinstance(info, NoMotion):
            continue
        rel = rel_path(path, root)
        for window in plan_windows(info.num_frames, info.fps, dst_fps=args.fps, window=args.window,
                                   stride=args.stride, short=args.short,
                                   min_length=min_tail_frames(args.min_seconds, args.fps)):
            lab = labeler.label(rel, window.start / args.fps, window.length, args.window, args.fps,
                                source_fps=info.fps)
            sources[lab.source] = sources.get(lab.source, 0) + 1
            descriptions[lab.description_source] = descriptions.get(lab.description_source, 0) + 1
    print(coverage_table(sources))
    print()
    print(coverage_table(descriptions, DESCRIPTION_SOURCES, "description from"))
    if unreadable:
        print(f"\n{unreadable} unreadable file(s) skipped (listed above)")
    return 0
