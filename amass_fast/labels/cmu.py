"""CMU trial descriptions (data/cmu_descriptions.tsv, from the CMU motion capture index) as actions and sentences."""
from __future__ import annotations

import functools
import re
from typing import Optional

from amass_fast.labels.actions import data_text
from amass_fast.labels.identity import sequence_key
from amass_fast.labels.keywords import keyword_action


@functools.lru_cache(maxsize=1)
def cmu_descriptions() -> dict[str, str]:
    """CMU subject ("7") and trial ("7_12") descriptions (data/cmu_descriptions.tsv, see tools/make_cmu_table.py)."""
    rows = (line.split("\t", 1) for line in data_text("cmu_descriptions.tsv").splitlines()
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
