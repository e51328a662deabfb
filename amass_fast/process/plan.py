"""Plan: list the source files in a fixed order and cut them into numbered tasks.

The order is the same whether the files come from an extracted tree or from .tar.bz2 archives read in place:
dataset folder by dataset folder (sorted by name), and within a dataset by the file's path relative to the AMASS
root. Archive members arrive in whatever order the archive holds them, so each member is loaded as it arrives (every
check of formats.load_sequence, its CRC-32 included) and what the kernels read of it (the body poses and trans in
float32, a fifth of the file) is spooled to one temporary file beside the output; the sequences are then read back
sorted. Memory stays at one file's size, and the spool costs a fifth of spooling the members themselves.
"""
from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

import numpy as np

from amass_fast.outputs import writers
from amass_fast.io.formats import FormatError, NoMotion, Sequence, load_sequence
from amass_fast.io.tree import dataset_of, iter_npz_files

# A file path; an archive member already loaded (its body poses and trans only, float32), or found to hold no
# motion; or the error that made a member or an archive unreadable.
Source = Union[str, Sequence, NoMotion, Exception]
Item = tuple[str, Source]  # (path relative to the AMASS root, source)
BODY_POSE_COLUMNS = 66  # the 22 body joints' axis-angles: all the kernels read of poses
ARCHIVE_SUFFIX = ".tar.bz2"


@dataclass(frozen=True)
class Task:
    """A fixed group of source files: (path relative to the AMASS root, file path, or the archive member as loaded
    or the error that refused it; or an archive's name and the error that stopped its reading)."""
    index: int
    items: tuple[Item, ...]

    @property
    def shard_name(self) -> str:
        return writers.SHARD_NAME.format(self.index)


def task_sources(task: Task) -> list[str]:
    """The relative paths a task's shard was made from: a shard counts as done for --resume only when they match
    (a file added to or removed from the tree shifts the files of every later task)."""
    return [rel for rel, _ in task.items]


def plan_tasks(items: Iterator[Item], batch_files: int) -> Iterator[Task]:
    """Cut the items into tasks of ``batch_files`` files, numbered from 0 in order."""
    group: list = []
    index = 0
    for item in items:
        group.append(item)
        if len(group) == batch_files:
            yield Task(index, tuple(group))
            index, group = index + 1, []
    if group:
        yield Task(index, tuple(group))


# --- which datasets ------------------------------------------------------------------------------------------------

def archive_folder(path: Path) -> Optional[str]:
    """The folder an AMASS archive extracts to (CMU.tar.bz2 or CMU_SMPLH_G.tar.bz2 -> "CMU", HDM05 -> "MPI_HDM05"),
    or None for a name the catalog does not know (such an archive is read and filtered member by member)."""
    from amass_fast.io import catalog

    try:
        return catalog.get(_archive_stem(path)).folder
    except KeyError:
        return None


def _archive_stem(path: Path) -> str:
    return path.name[:-len(ARCHIVE_SUFFIX)] if path.name.endswith(ARCHIVE_SUFFIX) else path.stem


def list_archives(archives: Union[str, Path]) -> list[Path]:
    """The archives to read: the one named, or the .tar.bz2 files of a folder, ordered by the folder each extracts
    to (as an extracted tree is ordered), then by name."""
    source = Path(archives)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no such archive or folder; download archives there first "
                                f"(amass-fast download --out {source})")
    paths = [p for p in source.iterdir() if p.name.endswith(ARCHIVE_SUFFIX) and p.is_file()]
    return sorted(paths, key=lambda p: (archive_folder(p) or _archive_stem(p), p.name))


def unknown_datasets(names: Optional[list[str]], amass_root: Optional[str] = None,
                     archives: Optional[str] = None) -> tuple[list[str], list[str]]:
    """(names that are neither an AMASS dataset nor a folder of the tree nor an archive given, the valid names to
    list in the message). Case is ignored, as the filter ignores it."""
    from amass_fast.io import catalog

    present: list[str] = []
    if amass_root is not None and Path(amass_root).is_dir():
        present = sorted(p.name for p in Path(amass_root).iterdir() if p.is_dir() and not p.name.startswith("."))
    elif archives is not None and Path(archives).exists():
        present = [_archive_stem(p) for p in list_archives(archives)]
    local = {n.lower() for n in present}
    unknown = []
    for name in names or []:
        try:
            catalog.get(name)
        except KeyError:
            if name.lower() not in local:
                unknown.append(name)
    return unknown, sorted(set(catalog.ALL) | set(present), key=str.lower)


def dataset_filter(names: Optional[list[str]]) -> Callable[[str], bool]:
    """Which dataset folders to keep: by folder name or by catalog name (HDM05 keeps MPI_HDM05), any case."""
    if not names:
        return lambda folder: True
    from amass_fast.io import catalog

    wanted = {n.lower() for n in names}
    known = set()
    for name in names:
        try:
            known.add(catalog.get(name).name)
        except KeyError:  # not an AMASS name: a folder of the user's own
            pass

    def keep(folder: str) -> bool:
        dataset = catalog.by_folder(folder) if folder else None
        return folder.lower() in wanted or (dataset is not None and dataset.name in known)
    return keep


# --- the items, in order -------------------------------------------------------------------------------------------

def _order(rel: str) -> tuple[str, str]:
    """The one order of source files: dataset folder, then the path relative to the AMASS root."""
    return dataset_of(rel), rel


def source_items(amass_root: Optional[str] = None, archives: Optional[str] = None,
                 datasets: Optional[list[str]] = None, spool_dir: Optional[Union[str, Path]] = None
                 ) -> Iterator[Item]:
    """(path relative to the AMASS root, file path or loaded member) of every .npz, in the order of the module
    docstring: the same files give the same order from a tree and from archives. ``spool_dir`` is where an
    archive's members wait to be sorted (default: the system's temporary folder)."""
    keep = dataset_filter(datasets)
    if amass_root is not None:
        root = Path(amass_root)

        def skipped(path: Path, why: str) -> None:  # a FIFO, device or broken link named *.npz: never opened
            if keep(dataset_of(path.relative_to(root).as_posix())):
                print(f"skipped: {why}", file=sys.stderr)

        rels = [(path.relative_to(root).as_posix(), path) for path in iter_npz_files(root, on_skip=skipped)]
        for rel, path in sorted(rels, key=lambda item: _order(item[0])):
            if keep(dataset_of(rel)):
                yield rel, str(path)
        return
    for path in list_archives(archives):
        folder = archive_folder(path)
        if folder is not None and not keep(folder):
            continue  # an archive of a dataset that --datasets leaves out: not worth decompressing
        yield from _archive_items(path, keep, spool_dir)


def _archive_items(path: Path, keep: Callable[[str], bool], spool_dir: Optional[Union[str, Path]]
                   ) -> Iterator[Item]:
    """An archive's kept .npz members, loaded, sorted by name (their body poses and trans spooled to one temporary
    file first); a damaged archive gives the members read before the damage, then (archive name, the error)."""
    from amass_fast.io.archive import ArchiveError, iter_archive_members

    index: list[tuple[str, Source, int, int]] = []  # (name, what it loaded as, its arrays' offset, its frames)
    failure: Optional[Exception] = None
    with tempfile.TemporaryFile(dir=spool_dir, prefix=".amf-spool-") as spool:
        try:
            for name, data in iter_archive_members(path):
                hidden = any(part.startswith(".") for part in name.split("/"))  # skipped in a tree walk too
                if not hidden and keep(dataset_of(name)):
                    loaded, offset, frames = _load_member(name, data), spool.tell(), 0
                    if isinstance(loaded, Sequence):
                        frames = loaded.num_frames
                        spool.write(memoryview(loaded.poses))
                        spool.write(memoryview(loaded.trans))
                        loaded = replace(loaded, poses=None, trans=None)  # what is spooled is not kept in memory
                    index.append((name, loaded, offset, frames))
        except ArchiveError as exc:  # its members read so far are kept, the rest recorded
            failure = exc
        for name, loaded, offset, frames in sorted(index, key=lambda entry: _order(entry[0])):
            yield name, _read_back(spool, loaded, offset, frames) if isinstance(loaded, Sequence) else loaded
    if failure is not None:
        yield path.name, failure


def _load_member(name: str, data: bytes) -> Source:
    """A member loaded with every check (as from a tree), cut to what the kernels read: the body poses and the trans
    in float32, as the batch keeps them (so clips are the same as from the extracted file). Or why it cannot be."""
    try:
        seq = load_sequence(data, name=name)
    except (FormatError, OSError, ValueError, RuntimeError) as exc:  # what load_task records for a tree's file
        return exc
    if isinstance(seq, NoMotion):
        return seq
    return replace(seq, poses=np.ascontiguousarray(seq.poses[:, :BODY_POSE_COLUMNS], dtype=np.float32),
                   trans=np.ascontiguousarray(seq.trans, dtype=np.float32))


def _read_back(spool, seq: Sequence, offset: int, frames: int) -> Sequence:
    """A spooled sequence with its arrays read back from the spool file."""
    poses = np.empty((frames, BODY_POSE_COLUMNS), np.float32)
    trans = np.empty((frames, 3), np.float32)
    spool.seek(offset)
    for array in (poses, trans):
        if spool.readinto(memoryview(array).cast("B")) != array.nbytes:
            raise OSError(f"the spool file {spool.name} ended early (was it deleted or the disk full?)")
    return replace(seq, poses=poses, trans=trans)
