"""The AMASS tree on disk: where it is by default, its motion files in a stable order, and paths relative to it.

    iter_npz_files(root, on_skip=None)     the regular .npz files of a tree, sorted; what it skips is reported
    iter_motion_files(root, on_skip=None)  the same without shape.npz and *_stagei.npz
    rel_path(path, root), dataset_of(rel)  "CMU/01/01_01_poses.npz", "CMU"
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator, Optional, Union

from amass_fast.io.formats import NO_MOTION_NAMES, NO_MOTION_SUFFIXES
from amass_fast.io.npz import not_regular_problem


def is_no_motion_name(path: Union[str, "os.PathLike[str]"]) -> bool:
    """True for the file names AMASS uses for files without poses (shape.npz, *_stagei.npz)."""
    base = PurePosixPath(os.fspath(path).replace("\\", "/")).name
    return base in NO_MOTION_NAMES or base.endswith(NO_MOTION_SUFFIXES)


DEFAULT_AMASS_ROOT = "data/amass"  # where `amass-fast extract` puts AMASS; process, labels and verify read it there


def no_tree_message(root: Union[str, "os.PathLike[str]"]) -> str:
    """What to tell a user whose AMASS root ``root`` is not a folder (the message names it and the fix)."""
    return f"{root}: no such folder; extract AMASS there first (amass-fast extract --out {root})"


def empty_tree_message(root: Union[str, "os.PathLike[str]"]) -> str:
    """What to tell a user whose AMASS root ``root`` holds no .npz files: extract the archives found there, or
    extract AMASS there."""
    if next(Path(root).glob("*.tar.bz2"), None) is not None:
        hint = f"it holds archives: extract them (amass-fast extract --archives {root})"
    else:
        hint = f"extract AMASS there first (amass-fast extract --out {root})"
    return f"no .npz files under {root}; {hint}"


def iter_npz_files(root: Union[str, "os.PathLike[str]"],
                   on_skip: Optional[Callable[[Path, str], None]] = None) -> Iterator[Path]:
    """Every regular .npz file under `root`, sorted by its "/"-separated path relative to root (the same order on
    every machine); each path starts with `root` as given, also under linked folders.

    Hidden folders (such as the extractor's .amass_fast) and hidden files are skipped silently. Links are followed
    (a dataset folder is often a link to a bigger disk), each real folder entered once. A name ending in .npz that
    is not a regular file (a FIFO, socket or device, which would block or never end, or a broken link) is not
    yielded: ``on_skip(path, message)`` is called for it (the message names the file, what it is and what to
    do); without ``on_skip`` the message is issued as a UserWarning. Skips are reported before the first file."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(no_tree_message(root))
    found, skipped, seen = [], [], set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))  # sorted: the same folder wins everywhere
        for f in filenames:
            if f.endswith(".npz") and not f.startswith("."):
                path = Path(dirpath, f)
                problem = not_regular_problem(path)
                (found if problem is None else skipped).append((path, problem))
    order = lambda item: item[0].relative_to(root).as_posix()  # noqa: E731
    for path, problem in sorted(skipped, key=order):
        if on_skip is not None:
            on_skip(path, problem)
        else:
            warnings.warn(problem, UserWarning, stacklevel=2)
    yield from (path for path, _ in sorted(found, key=order))


def iter_motion_files(root: Union[str, "os.PathLike[str]"],
                      on_skip: Optional[Callable[[Path, str], None]] = None) -> Iterator[Path]:
    """The .npz files under `root` that can hold motion (iter_npz_files without shape.npz and *_stagei.npz)."""
    return (p for p in iter_npz_files(root, on_skip) if not is_no_motion_name(p))


def rel_path(path: Union[str, "os.PathLike[str]"], root: Union[str, "os.PathLike[str]"]) -> str:
    """`path` relative to the AMASS root, "/"-separated (the form labels and sample metadata use). A path found
    under `root` (iter_npz_files) keeps the folder names it was found by, even where a folder is a link elsewhere
    (a dataset folder linked to another disk): "CMU/01/01_01_poses.npz", never the link's target."""
    path, root = Path(path), Path(root)
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:  # given by another spelling (e.g. through a link above the root): compare real paths
        return path.resolve().relative_to(root.resolve()).as_posix()


def dataset_of(rel: str) -> str:
    """The dataset folder of a path relative to the AMASS root: "CMU/01/01_01_poses.npz" -> "CMU".
    A file directly at the root belongs to no dataset: "". """
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    return parts[0] if len(parts) > 1 else ""
