"""One name per motion, whatever spells its path.

The same AMASS sequence is written in several ways: relative to a flat tree (``BioMotionLab_NTroje/rub055/x_poses.npz``)
or to a tree nested by archive name (``BMLrub/BioMotionLab_NTroje/rub055/x_poses.npz``), as BABEL's ``feat_p`` (always
nested: ``CMU/CMU/01/01_01_poses.npz``), as HumanML3D's ``./pose_data/BioMotionLab_NTroje/rub055/x_poses.npy``, and in
the SMPL-X release (``ACCAD/Female1General_c3d/A1_-_Stand_stageii.npz`` for SMPL+H ``A1 - Stand_poses.npz``).
:func:`sequence_key` maps all of them to one key; every label source matches through it.
"""
from __future__ import annotations

import functools
import re

from amass_fast.io.catalog import extracted_folder

FILE_SUFFIX = re.compile(r"(_poses|_stageii)?\.(npz|npy)$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s_]+")


def _part(text: str) -> str:
    """Case ignored; spaces and underscores, single or repeated, are one "_"."""
    return _SEPARATORS.sub("_", text.lower())


@functools.lru_cache(maxsize=1 << 17)
def split_path(path: str) -> tuple[str, tuple[str, ...]]:
    """(dataset folder as AMASS extracts it, the remaining path parts as written, file suffix removed).

    A leading "pose_data" (HumanML3D) and an archive name before the dataset folder (BABEL, nested trees) are
    dropped; the dataset folder is the catalog's spelling when the catalog knows it, else the first folder as is."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if parts and parts[0].lower() == "pose_data":
        parts = parts[1:]
    if not parts:
        return "", ()
    first = extracted_folder(parts[0])
    if len(parts) > 2 and first is not None and extracted_folder(parts[1]) == first:
        parts = parts[1:]
    parts[-1] = FILE_SUFFIX.sub("", parts[-1])
    if len(parts) == 1:
        return "", tuple(parts)
    return first or parts[0], tuple(parts[1:])


@functools.lru_cache(maxsize=1 << 17)
def sequence_key(path: str) -> str:
    """The name one motion has in every tree layout, AMASS release and annotation set:
    "CMU/CMU/01/01_01_poses.npz", "./pose_data/CMU/01/01_01_poses.npy", "cmu/01/01_01_stageii.npz" all give
    "cmu/01/01_01"; "BMLrub/BioMotionLab_NTroje/rub055/x_poses.npz" and "BioMotionLab_NTroje/rub055/x_poses.npz"
    give "biomotionlab_ntroje/rub055/x"; "A1 - Stand_poses.npz" and "A1_-_Stand_stageii.npz" give "a1_-_stand"."""
    dataset, rest = split_path(path)
    return "/".join(_part(p) for p in ((dataset,) if dataset else ()) + rest)


def dataset_folder(path: str) -> str:
    """The dataset a path belongs to, spelled as AMASS extracts it ("BMLrub/BioMotionLab_NTroje/..." ->
    "BioMotionLab_NTroje"); "" for a path with no folder."""
    return split_path(path)[0]


def is_smplx_name(path: str) -> bool:
    """Whether a file name has the SMPL-X release's spelling (``..._stageii.npz``)."""
    return path.lower().endswith("_stageii.npz")
