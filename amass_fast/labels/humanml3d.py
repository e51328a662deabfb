"""HumanML3D captions (``--humanml3d DIR``), from its repository as cloned or from its ``HumanML3D/`` folder.

The repository keeps ``index.csv`` at its root and the captions zipped in ``HumanML3D/texts.zip`` (``texts/NNNNNN.txt``);
users may have unzipped them into ``texts/``. Given either the repository root or its ``HumanML3D/`` folder, the
index and the captions are found in the folder, its ``HumanML3D/`` subfolder or its parent, and the captions are read
from ``texts/`` or straight from ``texts.zip`` (nothing is unzipped to disk).

``start_frame`` / ``end_frame`` count HumanML3D's 20 fps frames (every int(fps / 20)-th frame of the file) after it
cut the first 3 s (Eyes_Japan_Dataset, MPI_HDM05), 1 s (TotalCapture, MPI_Limits) or 0.5 s (Transitions_mocap) of
a file; HumanAct12 rows are not AMASS and are skipped; ``end_frame`` -1 means to the end.
"""
from __future__ import annotations

import csv
import functools
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from amass_fast.io import guarded
from amass_fast.labels.identity import sequence_key

HUMANML3D_FPS = 20
# Frames (at 20 fps) HumanML3D cuts from the start of a file before applying index.csv (raw_pose_processing).
HUMANML3D_TRIM = {"eyes_japan_dataset": 60, "mpi_hdm05": 60, "totalcapture": 20, "mpi_limits": 20,
                  "transitions_mocap": 10}


@dataclass(frozen=True)
class HumanML3DSpan:
    """One annotated span: frames [start, end) at HumanML3D's 20 fps after its per-dataset trim (end may be inf);
    ``name`` is the texts/ file stem."""
    start: int
    end: float
    name: str


@dataclass(frozen=True)
class HumanML3DIndex:
    """index.csv as loaded: spans per sequence_key, the source_path of each key, and where captions are read."""
    spans: dict[str, list[HumanML3DSpan]]
    annotated: dict[str, str]
    index_csv: Path
    texts: Path  # a texts/ folder or a texts.zip


def _locate(folder: Path) -> tuple[Optional[Path], Optional[Path]]:
    """(index.csv, texts folder or texts.zip) for a repository root or its HumanML3D/ folder; None where absent."""
    bases = [folder, folder / "HumanML3D", folder.parent]
    index = next((b / "index.csv" for b in bases if (b / "index.csv").is_file()), None)
    texts = None
    for base in bases:
        if (base / "texts").is_dir():
            texts = base / "texts"
            break
        if (base / "texts.zip").is_file():
            texts = base / "texts.zip"
            break
    return index, texts


def _frame(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a frame number: {text!r}")
    return value


@functools.lru_cache(maxsize=4)
def humanml3d_index(humanml3d_dir: str) -> HumanML3DIndex:
    """The HumanML3D index of ``humanml3d_dir`` (loaded once per process). Raises FileNotFoundError or ValueError
    naming the file and what to do."""
    folder = Path(humanml3d_dir)
    path, texts = _locate(folder)
    if path is None:
        raise FileNotFoundError(f"{folder}: no index.csv here, in {folder / 'HumanML3D'} or in {folder.parent}; "
                                "pass the HumanML3D repository folder (index.csv at its root, captions in "
                                "HumanML3D/texts.zip) to --humanml3d (https://github.com/EricGuo5513/HumanML3D)")
    if texts is None:
        raise FileNotFoundError(f"{folder}: no captions (texts/ or texts.zip) here, in {folder / 'HumanML3D'} or "
                                f"in {folder.parent}; HumanML3D's repository has them in HumanML3D/texts.zip")
    spans: dict[str, list[HumanML3DSpan]] = {}
    annotated: dict[str, str] = {}
    try:
        with io.StringIO(guarded.read_text(path, "index_csv"), newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"source_path", "start_frame", "end_frame", "new_name"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"missing columns {sorted(missing)}; expected source_path,start_frame,end_frame,"
                                 "new_name (HumanML3D's index.csv)")
            for row in reader:
                if "humanact12" in row["source_path"].lower():  # not AMASS
                    continue
                end = _frame(row["end_frame"])
                span = HumanML3DSpan(int(_frame(row["start_frame"])), math.inf if end < 0 else end,
                                     Path(row["new_name"]).stem)
                key = sequence_key(row["source_path"])
                spans.setdefault(key, []).append(span)
                annotated.setdefault(key, row["source_path"])
    except guarded.ReadRefused as exc:
        raise ValueError(f"{exc}; re-download it from https://github.com/EricGuo5513/HumanML3D") from None
    except (OSError, UnicodeDecodeError, csv.Error, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not HumanML3D's index.csv ({exc}); re-download it from "
                         "https://github.com/EricGuo5513/HumanML3D") from exc
    if texts.suffix == ".zip":
        _zip_texts(str(texts))  # read now (within its caps), so a damaged zip is reported before any work
    return HumanML3DIndex(spans, annotated, path, texts)


@functools.lru_cache(maxsize=4)
def _zip_texts(zip_path: str) -> dict[str, str]:
    """name stem -> caption file text, for every .txt in texts.zip (read once per process, never written out)."""
    found: dict[str, str] = {}
    fix = "re-download it from HumanML3D's repository or unzip it by hand"
    try:
        archive = guarded.open_zip(zip_path, "texts_zip")
    except guarded.BadContent:
        raise ValueError(f"{zip_path}: not a zip file; {fix}") from None
    with archive:  # every member within its cap, and all of them within the zip's (guarded.LIMITS)
        for info in guarded.zip_members(archive, zip_path, "texts_zip"):
            name = info.filename.rsplit("/", 1)[-1]
            if info.is_dir() or not name.endswith(".txt"):
                continue
            found[name[:-4]] = guarded.read_member(archive, info, zip_path).decode("utf-8", "replace")
    return found


def _parse_captions(text: str) -> tuple[tuple[str, float, float], ...]:
    captions = []
    for line in text.splitlines():
        fields = line.strip().split("#")
        if not fields[0].strip():
            continue
        times = []
        for value_text in fields[2:4]:
            try:
                value = float(value_text)
            except ValueError:
                value = 0.0
            times.append(value if math.isfinite(value) else 0.0)
        start, end = (times + [0.0, 0.0])[:2]
        captions.append((fields[0].strip(), start, end))
    return tuple(captions)


@functools.lru_cache(maxsize=4096)
def humanml3d_captions(texts: str, name: str) -> tuple[tuple[str, float, float], ...]:
    """(caption, start_s, end_s) per line of caption file ``name`` in ``texts`` (a texts/ folder or texts.zip);
    start = end = 0 means the whole span; () when the file is missing."""
    if texts.endswith(".zip"):
        text = _zip_texts(texts).get(name)
    else:
        path = Path(texts, name + ".txt")
        try:  # a FIFO or device named like a caption is refused (ReadRefused), never opened blocking
            text = guarded.read_text(path, "caption")
        except FileNotFoundError:
            text = None
    return _parse_captions(text) if text else ()
