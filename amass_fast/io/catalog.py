"""The AMASS sub-datasets: archive names, extracted folders, body models offered, sizes, counts, frame rates.

Facts come from public sources (see docs/CONVENTIONS.md, "Download protocol"); where a fact was not found it is ``None`` or empty,
never guessed:

- ``motion_files``: per-file listings published with the ``llamass`` package (SMPL+H G release); their minutes
  match Table 1 of the AMASS paper where the paper lists the dataset.
- ``fps``: the files' own ``mocap_framerate`` as listed by BABEL, most common first.
- ``approx_size_smplh``: a third-party mirror's listing (probably the SMPL+H G archives; rounded);
  ``size_smplx_g``: exact byte counts of the SMPL-X gender-specific archives seen in public download logs.
  SMPL-X archives hold marker data and are several times larger than SMPL+H ones, so one never stands in for the other.

Older download guides gave estimated counts ("CMU 2,235 sequences, BMLmovi 3,911, ...", "~10 GB recommended"); the
numbers here replace them.

`amass-fast datasets [--json] [--model smplh|smplx]` prints the table.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Iterable, Optional

MODELS = ("smplh", "smplx")
GENDERS = ("gender_specific", "neutral")
DEFAULT_BASE_URL = "https://download.is.tue.mpg.de"
AMASS_SITE = "https://amass.is.tue.mpg.de"
# Licences are accepted per dataset on the download page after logging in.
LICENCE_ACCEPT_PAGE = f"{AMASS_SITE}/download.php"

# Variants an archive can be offered in: "model/gender".
SMPLH_G = "smplh/gender_specific"
SMPLX_G = "smplx/gender_specific"
SMPLX_N = "smplx/neutral"
_ALL_VARIANTS = (SMPLH_G, SMPLX_G, SMPLX_N)

_MB = 1_000_000
_GB = 1_000_000_000


@dataclass(frozen=True)
class Dataset:
    """One AMASS sub-dataset as the download site offers it."""

    name: str  # archive name: NAME.tar.bz2 on the server
    folder: str  # top folder the archive extracts to (AMASS keeps the old names)
    offered: tuple[str, ...]  # "model/gender" variants, e.g. "smplh/gender_specific"
    motion_files: Optional[int]  # motion sequences (not counting shape.npz), SMPL+H G release
    fps: tuple[float, ...]  # frame rates seen in the files, most common first; () = unknown
    minutes: Optional[float]  # total motion, minutes
    approx_size_smplh: Optional[int]  # bytes, approximate (mirror listing)
    size_smplx_g: Optional[int]  # bytes, exact (SMPL-X gender-specific archive)
    notes: str = ""

    @property
    def archive(self) -> str:
        """The archive's file name, e.g. ``CMU.tar.bz2``."""
        return f"{self.name}.tar.bz2"

    @property
    def licence_url(self) -> str:
        """The dataset's licence text (accept it on LICENCE_ACCEPT_PAGE while logged in)."""
        return f"{AMASS_SITE}/licenses2024/{self.name}/{self.name.lower()}_license_updated.html"

    def offers(self, model: str, gender: str = "gender_specific") -> bool:
        """Whether the site offers this dataset for ``model`` (smplh|smplx) and ``gender``."""
        return f"{model}/{gender}" in self.offered

    def approx_size(self, model: str = "smplh") -> Optional[int]:
        """Archive size in bytes for ``model`` where known (SMPL+H: approximate), else None."""
        return self.approx_size_smplh if model == "smplh" else self.size_smplx_g


def _d(name, folder, offered, files, fps, minutes, smplh, smplx_g, notes=""):
    return Dataset(name, folder, tuple(offered), files, tuple(float(f) for f in fps), minutes, smplh, smplx_g, notes)


DATASETS: tuple[Dataset, ...] = (
    _d("ACCAD", "ACCAD", _ALL_VARIANTS, 252, [120], 26.7, 109 * _MB, 495_538_986),
    _d("BMLhandball", "BMLhandball", [SMPLH_G], 649, [], 102, 417 * _MB, None,
       "frame rate unconfirmed: probably 120, some tools assume 240; offered in SMPL+H only"),
    _d("BMLmovi", "BMLmovi", _ALL_VARIANTS, 1801, [120], 169, 749 * _MB, None, "also 86 shape.npz files"),
    _d("BMLrub", "BioMotionLab_NTroje", _ALL_VARIANTS, 3061, [120], 522.7, 2_140 * _MB, None),
    _d("CMU", "CMU", _ALL_VARIANTS, 2082, [120, 60], None, 1_990 * _MB, None,
       "some trials have different rates in the SMPL+H and SMPL-X releases"),
    _d("CNRS", "CNRS", [SMPLX_G, SMPLX_N], None, [], None, None, 160_948_791, "probably SMPL-X only"),
    _d("DanceDB", "DanceDB", [SMPLH_G, SMPLX_G], 153, [], None, 904 * _MB, None),
    _d("DFaust", "DFaust_67", _ALL_VARIANTS, 129, [60], 11.5, None, 222_956_611),
    _d("EKUT", "EKUT", _ALL_VARIANTS, 349, [100], 30.7, None, 565_280_070),
    _d("EyesJapanDataset", "Eyes_Japan_Dataset", _ALL_VARIANTS, 750, [120, 250], None, 1_440 * _MB, None),
    _d("GRAB", "GRAB", _ALL_VARIANTS, None, [], None, 10_900 * _MB, None, "hand-object grasps; large"),
    _d("HDM05", "MPI_HDM05", _ALL_VARIANTS, 215, [120], 144.5, 525 * _MB, None),
    _d("HUMAN4D", "HUMAN4D", [SMPLH_G, SMPLX_G], None, [], None, 290 * _MB, None),
    _d("HumanEva", "HumanEva", _ALL_VARIANTS, 28, [120], 8.5, None, 276_527_838),
    _d("KIT", "KIT", _ALL_VARIANTS, 4232, [100], 661.8, 2_200 * _MB, None),
    _d("MoSh", "MPI_mosh", _ALL_VARIANTS, 77, [100, 120], 16.5, None, None),
    _d("PosePrior", "MPI_Limits", _ALL_VARIANTS, 35, [120], 20.8, None, None),
    _d("SFU", "SFU", _ALL_VARIANTS, 44, [120], 15.2, None, None),
    _d("SOMA", "SOMA", _ALL_VARIANTS, None, [], None, 459 * _MB, None),
    _d("SSM", "SSM_synced", _ALL_VARIANTS, 30, [120.00005, 59.99999], 1.9, 13_500_000, None,
       "non-integer frame rates: resample by time"),
    _d("TCDHands", "TCD_handMocap", _ALL_VARIANTS, 62, [120, 150], 8.0, None, None),
    _d("TotalCapture", "TotalCapture", _ALL_VARIANTS, 37, [60], 41.1, None, None),
    _d("Transitions", "Transitions_mocap", _ALL_VARIANTS, 110, [120], 15.1, None, None),
    _d("WEIZMANN", "WEIZMANN", [SMPLX_G, SMPLX_N], None, [], None, None, None, "probably SMPL-X only"),
)

# The recommended set: about 3.4 GB in SMPL+H plus TotalCapture (older guides said "~10 GB").
RECOMMENDED: tuple[str, ...] = ("CMU", "BMLmovi", "ACCAD", "HDM05", "TotalCapture")
# Small but varied datasets for a quick start: about 67 minutes of motion. Known SMPL+H sizes: ACCAD 109 MB,
# SSM 13.5 MB; the other three, estimated from their minutes at ACCAD's ~4 MB per minute, add about 150 MB.
SUBSET: tuple[str, ...] = ("ACCAD", "SFU", "HumanEva", "Transitions", "SSM")
ALL: tuple[str, ...] = tuple(d.name for d in DATASETS)


def _key(text: str) -> str:
    """Lookup key: case and punctuation ignored, so "Eyes_Japan_Dataset" == "EyesJapanDataset"."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


_BY_KEY: dict[str, Dataset] = {}
for _ds in DATASETS:
    _BY_KEY[_key(_ds.name)] = _ds
    _BY_KEY.setdefault(_key(_ds.folder), _ds)
_BY_FOLDER = {d.folder: d for d in DATASETS}

# The archive names BABEL's feat_p (and a tree nested by archive name) put before the extracted folder:
# "BMLrub/BioMotionLab_NTroje/rub055/...", "MPIHDM05/MPI_HDM05/...". One place for these pairs.
ARCHIVE_FOLDERS: tuple[tuple[str, str], ...] = (
    ("ACCAD", "ACCAD"), ("BMLmovi", "BMLmovi"), ("BMLrub", "BioMotionLab_NTroje"), ("CMU", "CMU"),
    ("DFaust67", "DFaust_67"), ("EKUT", "EKUT"), ("EyesJapanDataset", "Eyes_Japan_Dataset"), ("HumanEva", "HumanEva"),
    ("KIT", "KIT"), ("MPIHDM05", "MPI_HDM05"), ("MPILimits", "MPI_Limits"), ("MPImosh", "MPI_mosh"), ("SFU", "SFU"),
    ("SSMsynced", "SSM_synced"), ("TCDhandMocap", "TCD_handMocap"), ("TotalCapture", "TotalCapture"),
    ("Transitionsmocap", "Transitions_mocap"),
)
for _archive, _folder in ARCHIVE_FOLDERS:
    _BY_KEY.setdefault(_key(_archive), _BY_FOLDER[_folder])

# Hand-downloaded archive names: CMU.tar.bz2, CMU_SMPLH_G.tar.bz2, ACCAD-SMPLX-N.tar.bz2, ...
_ARCHIVE_NAME = re.compile(
    r"^(?P<base>.+?)(?:[_-](?P<model>smpl\+?h|smpl-?x)(?:[_-](?P<gender>g|n|gs|gender_?specific|neutral))?)?"
    r"(?:\.tar\.bz2|\.tbz2?)?$",
    re.IGNORECASE,
)


class UnknownDatasetError(KeyError):
    """A name that is no AMASS dataset; the message lists close matches and all names."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0])


def parse_archive_name(filename: str) -> tuple[Dataset, Optional[str], Optional[str]]:
    """``CMU_SMPLH_G.tar.bz2`` -> (CMU dataset, "smplh", "gender_specific"); model/gender None when absent.

    Raises UnknownDatasetError when the name holds no known dataset.
    """
    match = _ARCHIVE_NAME.match(filename.strip())
    if match is None:
        raise UnknownDatasetError(f"{filename!r} is not an AMASS archive name")
    dataset = get(match["base"])
    model = match["model"] and ("smplh" if "h" in match["model"].lower() else "smplx")
    gender = match["gender"] and ("neutral" if match["gender"].lower().startswith("n") else "gender_specific")
    return dataset, model or None, gender or None


def get(name: str) -> Dataset:
    """The dataset called ``name``: its archive name or folder, any case, with or without a model suffix
    (``cmu``, ``BioMotionLab_NTroje``, ``CMU_SMPLH_G``, ``ACCAD.tar.bz2``)."""
    dataset = _BY_KEY.get(_key(name))
    if dataset is not None:
        return dataset
    match = _ARCHIVE_NAME.match(name.strip())
    if match is not None and match["base"] != name.strip():
        dataset = _BY_KEY.get(_key(match["base"]))
        if dataset is not None:
            return dataset
    close = difflib.get_close_matches(name, [d.name for d in DATASETS], n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UnknownDatasetError(
        f"unknown AMASS dataset {name!r}.{hint} Known: {', '.join(ALL)} (`amass-fast datasets` lists them)."
    )


def by_folder(folder: str) -> Optional[Dataset]:
    """The dataset an extracted top folder (e.g. ``MPI_HDM05``) belongs to, or None for a folder AMASS does not ship."""
    dataset = _BY_FOLDER.get(folder)
    if dataset is None:
        dataset = _BY_KEY.get(_key(folder))
    return dataset


def extracted_folder(name: str) -> Optional[str]:
    """The folder AMASS extracts a dataset to, for any of its names: archive name (``BMLrub``, ``BMLrub_SMPLH_G``),
    BABEL's archive spelling (``MPIHDM05``) or the folder itself, any case; None for a name AMASS does not ship."""
    dataset = by_folder(name)
    if dataset is None:
        match = _ARCHIVE_NAME.match(name.strip())
        if match is not None and match["base"] != name.strip():
            dataset = _BY_KEY.get(_key(match["base"]))
    return None if dataset is None else dataset.folder


def select(names: Iterable[str]) -> list[Dataset]:
    """Datasets for ``names`` in the given order, duplicates dropped; raises UnknownDatasetError."""
    chosen: dict[str, Dataset] = {}
    for name in names:
        dataset = get(name)
        chosen.setdefault(dataset.name, dataset)
    return list(chosen.values())


def archive_url(base_url: str, name: str, model: str = "smplh", gender: str = "gender_specific") -> str:
    """The download address of one archive, e.g. for CMU, smplh, gender_specific::

        https://download.is.tue.mpg.de/download.php?domain=amass&resume=1
            &sfile=amass_per_dataset/smplh/gender_specific/mosh_results/CMU.tar.bz2   (one line)
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, not {model!r}")
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {GENDERS}, not {gender!r}")
    dataset = get(name)
    return (
        f"{base_url.rstrip('/')}/download.php?domain=amass&resume=1"
        f"&sfile=amass_per_dataset/{model}/{gender}/mosh_results/{dataset.archive}"
    )


def format_size(num_bytes: Optional[float]) -> str:
    """1_990_000_000 -> "1.99 GB"; None -> "?"."""
    if num_bytes is None:
        return "?"
    for unit, scale in (("GB", _GB), ("MB", _MB), ("kB", 1000)):
        if num_bytes >= scale:
            return f"{num_bytes / scale:.3g} {unit}"
    return f"{int(num_bytes)} B"


def total_size(names: Iterable[str], model: str = "smplh") -> tuple[int, list[str]]:
    """(sum of the known archive sizes, names whose size is unknown) for ``model``."""
    known, unknown = 0, []
    for dataset in select(names):
        size = dataset.approx_size(model)
        if size is None:
            unknown.append(dataset.name)
        else:
            known += size
    return known, unknown


def _fps_text(fps: tuple[float, ...]) -> str:
    return ", ".join(f"{f:.8g}" for f in fps) if fps else "?"


def format_table(model: str) -> str:
    size_title = "size (SMPL+H, ~)" if model == "smplh" else "size (SMPL-X G)"
    header = ("dataset", "folder", "files", "minutes", "fps", size_title, "offered", "set")
    rows = []
    for d in DATASETS:
        tags = "".join(tag for tag, names in (("R", RECOMMENDED), ("S", SUBSET)) if d.name in names)
        offered = " ".join(v.replace("smplh/", "H-").replace("smplx/", "X-")
                           .replace("gender_specific", "G").replace("neutral", "N") for v in d.offered)
        rows.append((d.name, d.folder, "?" if d.motion_files is None else str(d.motion_files),
                     "?" if d.minutes is None else f"{d.minutes:g}", _fps_text(d.fps),
                     format_size(d.approx_size(model)), offered, tags))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for label, names in (("recommended (R, the default)", RECOMMENDED), ("--subset (S)", SUBSET), ("--all", ALL)):
        known, unknown = total_size(names, model)
        extra = f" + {len(unknown)} of unknown size ({', '.join(unknown)})" if unknown else ""
        lines.append(f"{label}: {format_size(known)}{extra}")
    lines.append("offered: H = SMPL+H, X = SMPL-X; G = gender-specific, N = neutral. '?' = not known.")
    lines.append(f"Each dataset has its own licence: accept it at {LICENCE_ACCEPT_PAGE} (logged in) first.")
    return "\n".join(lines)
