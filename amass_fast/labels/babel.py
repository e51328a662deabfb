"""BABEL frame and sequence labels (``--babel DIR``).

A release folder holds ``train.json``, ``val.json`` (entries with ``seq_ann`` / ``frame_ann``; ``frame_ann`` may be
null) and ``extra_train.json`` / ``extra_val.json`` (entries with lists ``seq_anns`` / ``frame_anns``, one per
annotator); any of them may be missing. Each segment's ``act_cat`` list maps to an ActionType by
data/babel_to_action.tsv, which covers every category of the release. A category the table does not know, or one it
maps to idle because it says too little ("hand movements", "interact with/use object"), gives way to the segment's
``proc_label`` / ``raw_label`` read by the keyword rules ("drink from a mug" -> drinking).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

import numpy as np

from amass_fast.io import guarded
from amass_fast.labels.actions import ACTION_INDEX, data_text, specificity
from amass_fast.labels.identity import sequence_key
from amass_fast.labels.keywords import keyword_action

BABEL_FILES = ("train.json", "val.json", "test.json")


@functools.lru_cache(maxsize=1)
def babel_action_table() -> dict[str, str]:
    """BABEL act_cat -> ActionType value (data/babel_to_action.tsv)."""
    table = {}
    for line in data_text("babel_to_action.tsv").splitlines():
        if line.strip() and not line.startswith("#"):
            category, action = line.split("\t")[:2]
            if action not in ACTION_INDEX:
                raise ValueError(f"babel_to_action.tsv: {category!r} maps to {action!r}, not an ActionType")
            table[category] = action
    return table


@dataclass(frozen=True)
class BabelSequence:
    """One file's BABEL labels: segments (start_s, end_s, action index) ordered so that a later one overrides an
    earlier one where they overlap; ``fallback`` labels frames no segment covers; ``duration`` is BABEL's ``dur``
    (seconds of the SMPL+H file), 0 when absent."""
    segments: tuple[tuple[float, float, int], ...]
    fallback: int
    dense: bool
    duration: float = 0.0

    def frame_actions(self, times: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """Actions at ``times`` (seconds of the file); ``scale`` stretches BABEL's clock onto the file's (a file
        with another frame rate than the annotated one, frame for frame)."""
        actions = np.full(len(times), self.fallback, dtype=np.int64)
        for start, end, action in self.segments:
            actions[(times >= start * scale) & (times < end * scale)] = action
        return actions


def label_action(label: Mapping, table: Mapping[str, str]) -> Optional[str]:
    """The ActionType of one BABEL label: the most specific of its act_cat categories (first wins ties); where none
    is in the table or all map to idle, the action its proc_label or raw_label names; None when nothing applies."""
    categories = [c for c in (label.get("act_cat") or []) if isinstance(c, str)]
    actions = [table[c] for c in categories if c in table]
    best = max(actions, key=specificity) if actions else None
    if best is None or best == "idle":
        texts = [t for t in (label.get("proc_label"), label.get("raw_label")) if isinstance(t, str) and t]
        named = keyword_action(texts) if texts else None
        if named is not None and named != "idle":
            return named
    return best


def _segments(annotation: Optional[Mapping], table: Mapping[str, str], whole: bool) -> list[tuple[float, float, str]]:
    found = []
    for label in (annotation or {}).get("labels") or []:
        action = label_action(label, table)
        if action is not None:
            start, end = (0.0, math.inf) if whole else (float(label["start_t"]), float(label["end_t"]))
            found.append((start, end, action))
    return found


def babel_sequence(entry: Mapping, table: Mapping[str, str]) -> Optional[BabelSequence]:
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
    duration = entry.get("dur")
    duration = float(duration) if isinstance(duration, (int, float)) and math.isfinite(duration) else 0.0
    return BabelSequence(tuple((s, e, ACTION_INDEX[a]) for s, e, a in ordered), ACTION_INDEX[best_whole],
                         dense=bool(dense), duration=max(duration, 0.0))


@dataclass(frozen=True)
class BabelIndex:
    """A BABEL release as loaded: labels per sequence_key, every annotated key (labelled or not) with its feat_p,
    and the files read."""
    sequences: dict[str, BabelSequence]
    annotated: dict[str, str]
    files: tuple[Path, ...]


def babel_files(folder: Path) -> list[Path]:
    """The BABEL JSON files of a release folder (train, val, test, extra_*), or of its one subfolder that has them
    (``--babel`` given the folder above ``babel_v1.0_release``)."""
    def found(where: Path) -> list[Path]:
        names = list(BABEL_FILES) + sorted(p.name for p in where.glob("extra_*.json"))
        # Every entry of those names but folders: a FIFO or device among them is refused by the guarded reader.
        return [where / name for name in names if (where / name).exists() and not (where / name).is_dir()]

    files = found(folder)
    if not files and folder.is_dir():
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            files = found(sub)
            if files:
                break
    return files


@functools.lru_cache(maxsize=4)
def babel_index(babel_dir: str) -> BabelIndex:
    """Every BABEL file in ``babel_dir``, loaded once per process. Raises FileNotFoundError or ValueError naming the
    file and what to do."""
    folder = Path(babel_dir)
    files = babel_files(folder)
    if not files:
        raise FileNotFoundError(f"{folder}: no BABEL files (train.json, val.json, extra_*.json) found; download "
                                "BABEL from https://babel.is.tue.mpg.de and pass the folder holding them to --babel")
    table, sequences, annotated = babel_action_table(), {}, {}
    for path in files:
        try:
            data = guarded.read_json(path, "babel")
            entries = data.values() if isinstance(data, dict) else data
            parsed = [(e["feat_p"], sequence_key(e["feat_p"]), babel_sequence(e, table)) for e in entries]
        except guarded.ReadRefused as exc:
            raise ValueError(f"{exc}; re-download BABEL or remove this file from the --babel folder") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}: not a BABEL annotation file ({type(exc).__name__}: {exc}); "
                             "re-download BABEL or remove this file from the --babel folder") from exc
        for feat_p, key, sequence in parsed:
            annotated.setdefault(key, feat_p)
            old = sequences.get(key)
            if sequence is not None and (old is None or (sequence.dense and not old.dense)):
                sequences[key] = sequence
    return BabelIndex(sequences, annotated, tuple(files))

