"""What every command shares at its edge: flag types with ranges, the one check of an output path, and progress
reporting that works on a terminal and in a log file.

Flag types raise ``argparse.ArgumentTypeError``; argparse then exits with status 2 and a message that names the flag
(``argument --fps: must be > 0 (got -1)``), before any work starts.
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from amass_fast.kernels.runtime import MAX_THREADS

PathLike = Union[str, "os.PathLike[str]"]


# --- flag types ----------------------------------------------------------------------------------------------------

def _describe(lo: Optional[float], hi: Optional[float], lo_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"between {lo:g} and {hi:g}" if not lo_open else f"> {lo:g} and <= {hi:g}"
    if lo is not None:
        return f"> {lo:g}" if lo_open else f">= {lo:g}"
    return f"<= {hi:g}"


def int_range(lo: Optional[int] = None, hi: Optional[int] = None) -> Callable[[str], int]:
    """An argparse type: an integer in [lo, hi] (either bound may be None)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number (got {text!r})") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be {_describe(lo, hi, False)} (got {text})")
        return value
    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


MAX_SEED = 2 ** 63 - 1


def seed_type() -> Callable[[str], int]:
    """The argparse type of every --seed: a whole number in [0, MAX_SEED] (numpy's generators refuse negative
    seeds, so a negative one is refused when parsed, before any work)."""
    return int_range(0, MAX_SEED)


def float_range(lo: Optional[float] = None, hi: Optional[float] = None, *, lo_open: bool = False
                ) -> Callable[[str], float]:
    """An argparse type: a finite number in [lo, hi], or (lo, hi] with ``lo_open`` (either bound may be None)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number (got {text!r})") from None
        if not math.isfinite(value) or (lo is not None and (value <= lo if lo_open else value < lo)) or \
                (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be {_describe(lo, hi, lo_open)} (got {text})")
        return value
    parse.__name__ = "number"
    return parse


# Ranges shared by several commands (one definition each).
MAX_JOBS = 1024
FPS_FLAG = float_range(1.0, 1000.0)   # output frame rates: the same range as the input rates a file may have
WINDOW_FLAG = int_range(1, 100_000)   # frames per clip: 100,000 frames is over an hour at 25 fps
THREADS_FLAG = int_range(1, MAX_THREADS)
JOBS_FLAG = int_range(1, MAX_JOBS)


# --- output paths --------------------------------------------------------------------------------------------------

def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _name_max(path: Path) -> int:
    """The longest file name (bytes) the file system under ``path``'s nearest existing folder allows."""
    for parent in path.absolute().parents:
        try:
            if parent.is_dir():
                return os.pathconf(parent, "PC_NAME_MAX")
        except (OSError, ValueError, AttributeError):
            break
    return 255


def output_problem(path: PathLike, *, kind: str, flag: str, inputs: Sequence[PathLike] = (),
                   beside: Sequence[str] = ()) -> Optional[str]:
    """Why ``path`` cannot be used as an output of ``kind`` "file" or "folder", or None when it can.

    Checks, in the order a user would fix them: a name longer than the file system allows (also with each suffix
    in ``beside``: the files written next to it, e.g. ".errors.jsonl"), a file where a folder is wanted and the
    reverse, a parent that is missing (created later, fine) or is not a folder, and an output inside one of the
    ``inputs`` folders (it would be read back as input). Whether an existing output may be replaced is the caller's
    rule (``--overwrite``)."""
    if kind not in ("file", "folder"):
        raise ValueError(f"kind must be 'file' or 'folder' (got {kind!r})")
    path = Path(path)
    limit = _name_max(path)
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            return f"{flag} {path}: the name {part[:24]}... is {len(os.fsencode(part))} bytes, longer than the " \
                   f"{limit} this file system allows; choose a shorter name"
    longest = max(beside, key=lambda suffix: len(os.fsencode(suffix)), default="")
    if longest and len(os.fsencode(path.name + longest)) > limit:
        return (f"{flag} {path}: the name is {len(os.fsencode(path.name))} bytes, and {path.name[:24]}...{longest} "
                f"written beside it would be longer than the {limit} this file system allows; choose a shorter name")
    if kind == "folder" and path.exists() and not path.is_dir():
        return f"{flag} {path}: is a file, not a folder; pass a folder (it is created if missing)"
    if kind == "file" and path.is_dir():
        return f"{flag} {path}: is a folder; pass a file name, e.g. {path / 'output'}"
    for parent in path.absolute().parents:  # the nearest existing ancestor must be a folder
        if parent.exists():
            if not parent.is_dir():
                return f"{flag} {path}: {parent} is a file, not a folder; choose a path under a folder"
            break
    for folder in inputs:
        if folder is not None and Path(folder).is_dir() and _inside(path, Path(folder)):
            return (f"{flag} {path}: is inside the input folder {folder}, where it would be read back as input; "
                    f"choose a path outside it")
    return None


