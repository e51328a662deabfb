"""What every command shares at its edge: flag types with ranges, the one check of an output path, and progress
reporting that works on a terminal and in a log file.

Flag types raise ``argparse.ArgumentTypeError``; argparse then exits with status 2 and a message that names the flag
(``argument --fps: must be > 0 (got -1)``), before any work starts.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, Union

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
MAX_THREADS = 1024            # more threads than this is a typo, and huge counts can crash OpenMP runtimes
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


# --- progress --------------------------------------------------------------------------------------------------------

def _amount(n: float, unit: str) -> str:
    """Bytes in B, KB, MB, GB or TB (powers of 1024)."""
    prefix = ""
    for prefix in ("", "K", "M", "G", "T"):
        if abs(n) < 1024 or prefix == "T":
            break
        n /= 1024.0
    return f"{n:,.1f} {prefix}B" if prefix else f"{n:,.0f} B"


class Progress:
    """A progress bar on a terminal; on a pipe or a log file, a plain line every ``every`` seconds (and at the end),
    so long runs are never silent. Use as a context manager; ``update(n, **postfix)``. It answers the part of
    tqdm's interface the commands use (``total``, ``update``, ``set_postfix``, ``refresh``, ``close``)."""

    def __init__(self, total: Optional[float], desc: str, unit: str, *, stream=None, every: float = 30.0,
                 initial: float = 0, terminal: Optional[bool] = None):
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.desc, self.unit, self.every = total, desc, unit, every
        self.done, self.postfix = initial, {}
        self.started = self.last = time.monotonic()
        self.bar = None
        if terminal if terminal is not None else getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True,
                            initial=initial, unit_scale=unit == "B", unit_divisor=1024 if unit == "B" else 1000)

    def update(self, n: float = 1, **postfix: object) -> None:
        self.done += n
        self.postfix.update(postfix)
        if self.bar is not None:
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(n)
        elif time.monotonic() - self.last >= self.every:
            self._line()

    def set_postfix(self, postfix: Optional[dict] = None, refresh: bool = True, **kwargs: object) -> None:
        self.postfix.update(postfix or {}, **kwargs)
        if self.bar is not None:
            self.bar.set_postfix(self.postfix, refresh=refresh)

    def refresh(self) -> None:
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def _line(self) -> None:
        self.last = time.monotonic()
        if self.unit == "B":
            amount = _amount(self.done, "B") + (f" of {_amount(self.total, 'B')}" if self.total else "")
        else:
            amount = f"{self.done:,.0f}" + (f"/{self.total:,.0f}" if self.total else "") + f" {self.unit}s"
        extra = "".join(f", {k} {v}" for k, v in self.postfix.items())
        print(f"{self.desc}: {amount}, {self.last - self.started:,.0f} s{extra}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.done:
            self._line()
        self.done = 0  # a second close prints nothing

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(show: Optional[bool], *, desc: str, unit: str, total: Optional[float] = None, initial: float = 0,
                 position: Optional[int] = None, leave: bool = True, lines: bool = True):
    """A tqdm bar on a terminal (``show`` None) or always (True); nothing with False. Off a terminal with ``show``
    None: plain lines every 30 s (a Progress), or nothing when ``lines`` is False (for bars that another bar's lines
    already cover)."""
    from tqdm import tqdm

    terminal = getattr(sys.stderr, "isatty", lambda: False)()
    if show is None and not terminal:
        return Progress(total, desc, unit, initial=initial, terminal=False) if lines else tqdm(disable=True)
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, unit_scale=unit == "B",
                unit_divisor=1024 if unit == "B" else 1000, position=position, leave=leave, disable=show is False,
                file=sys.stderr)


def progress_iter(items: Iterable, total: Optional[int], desc: str, unit: str, *, terminal: Optional[bool] = None):
    """Iterate ``items`` while reporting progress (see Progress; ``terminal`` forces the bar on or off)."""
    with Progress(total, desc, unit, terminal=terminal) as bar:
        for item in items:
            yield item
            bar.update()
