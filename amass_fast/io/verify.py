"""`amass-fast verify [ROOT] [--json] [--headers-only]`: what an extracted AMASS tree holds, per dataset.

For each dataset folder: motion files found beside the catalog's expected count, files without poses
(shape.npz, *_stagei.npz), format counts (SMPL+H, SMPL-X, SMPL, unknown), frames, hours, the frame rates seen, and
the unreadable files with the reason. Exit status 1 when any file is unreadable.

Every file is judged by formats.check_sequence, the rules `process` loads files by, so verify passes exactly the
files process converts (in a process pool for big trees). `--headers-only` reads only the .npy headers and the
small keys (much faster; NaN values, values beyond float32 and corrupt pose data go unnoticed). Names ending in
.npz that are not regular files (FIFOs, devices, broken links) are never opened: they are listed as skipped.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from amass_fast.io import workers
from amass_fast.io.progress import progress_iter
from amass_fast.io.formats import KIND_LABEL, FormatError, NoMotion, check_sequence, probe_sequence
from amass_fast.io.tree import DEFAULT_AMASS_ROOT, dataset_of, iter_npz_files

DEFAULT_ROOT = DEFAULT_AMASS_ROOT
FORMATS = ("SMPL+H", "SMPL-X", "SMPL", "unknown")
POOL_THRESHOLD = 256  # below this many files a process pool costs more than it saves


@dataclass
class DatasetSummary:
    folder: str
    catalog_name: Optional[str] = None      # the archive name in the catalog, None if AMASS ships no such folder
    expected_motion_files: Optional[int] = None
    motion_files: int = 0
    no_motion_files: int = 0
    formats: dict = field(default_factory=lambda: {f: 0 for f in FORMATS})
    frames: int = 0
    hours: float = 0.0
    fps_seen: dict = field(default_factory=dict)   # "120" -> number of files
    unreadable: list = field(default_factory=list)  # [relative path, reason]
    skipped: list = field(default_factory=list)     # [relative path, reason]: not regular files, never opened


def check_file(job: tuple[str, str, bool]) -> tuple[str, str, int, float, str]:
    """(root, relative path, headers_only) -> (relative path, kind | "none" | "error", frames, fps, reason)."""
    root, rel, headers_only = job
    try:
        result = (probe_sequence if headers_only else check_sequence)(os.path.join(root, rel), name=rel)
    except FormatError as exc:
        return rel, "error", 0, 0.0, str(exc).removeprefix(rel + ": ")
    if isinstance(result, NoMotion):
        return rel, "none", 0, 0.0, result.reason
    return rel, result.kind, result.num_frames, result.fps, ""


def _catalog_entry(folder: str):
    """(catalog name, expected motion files) for a folder; the catalog is optional at run time."""
    try:
        from amass_fast.io import catalog
    except ImportError:
        return None, None
    dataset = catalog.by_folder(folder)
    return (dataset.name, dataset.motion_files) if dataset is not None else (None, None)


def _fps_key(fps: float) -> str:
    return f"{fps:.5f}".rstrip("0").rstrip(".")


def verify_tree(root: Union[str, "os.PathLike[str]"], headers_only: bool = False, jobs: Optional[int] = None,
                show_progress: Optional[bool] = False) -> dict[str, DatasetSummary]:
    """Summaries per dataset folder (sorted by folder) of every .npz under `root`, each file judged by
    formats.check_sequence (or, with `headers_only`, formats.probe_sequence). A progress bar goes to stderr
    when `show_progress` is True, or with None only on a terminal."""
    root = Path(root)
    skipped: list[tuple[str, str]] = []
    rels = [p.relative_to(root).as_posix()
            for p in iter_npz_files(root, on_skip=lambda p, why: skipped.append((p.relative_to(root).as_posix(),
                                                                                   why)))]
    jobs = jobs or os.cpu_count() or 1
    work = [(str(root), rel, headers_only) for rel in rels]
    # None: a bar on a terminal, plain lines elsewhere; False: silent.
    shown = (lambda items: progress_iter(items, len(work), "verify", "file", terminal=show_progress)) \
        if show_progress is not False else iter
    if jobs > 1 and len(work) >= POOL_THRESHOLD:
        with workers.process_pool(jobs) as pool:  # a stop or an error ends the workers too
            results = list(shown(pool.map(check_file, work, chunksize=64)))
    else:
        results = [check_file(job) for job in shown(work)]

    summaries: dict[str, DatasetSummary] = {}

    def summary(rel: str) -> DatasetSummary:
        folder = dataset_of(rel) or "."
        if folder not in summaries:
            name, expected = _catalog_entry(folder)
            summaries[folder] = DatasetSummary(folder, name, expected)
        return summaries[folder]

    for rel, reason in skipped:
        summary(rel).skipped.append([rel, reason.removeprefix(os.path.join(root, rel) + ": ")])
    for rel, kind, frames, fps, reason in results:
        s = summary(rel)
        if kind == "none":
            s.no_motion_files += 1
        elif kind == "error":
            s.formats["unknown"] += 1
            s.unreadable.append([rel, reason])
        else:
            s.motion_files += 1
            s.formats[KIND_LABEL[kind]] += 1
            s.frames += frames
            s.hours += frames / fps / 3600.0
            key = _fps_key(fps)
            s.fps_seen[key] = s.fps_seen.get(key, 0) + 1
    return dict(sorted(summaries.items()))


def totals(summaries: dict[str, DatasetSummary]) -> dict:
    formats: Counter = Counter()
    for s in summaries.values():
        formats.update(s.formats)
    return {"datasets": len(summaries), "motion_files": sum(s.motion_files for s in summaries.values()),
            "no_motion_files": sum(s.no_motion_files for s in summaries.values()),
            "formats": {f: formats[f] for f in FORMATS}, "frames": sum(s.frames for s in summaries.values()),
            "hours": sum(s.hours for s in summaries.values()),
            "unreadable": sum(len(s.unreadable) for s in summaries.values()),
            "skipped": sum(len(s.skipped) for s in summaries.values())}


def format_table(summaries: dict[str, DatasetSummary]) -> str:
    """The human-readable report: one row per dataset, a total, then each unreadable file with its reason."""
    head = (f"{'dataset':22s} {'found':>6s} {'expected':>8s} {'no-pose':>7s} {'SMPL+H':>6s} {'SMPL-X':>6s} "
            f"{'SMPL':>5s} {'unknown':>7s} {'frames':>10s} {'hours':>7s}  fps seen")
    lines = [head, "-" * len(head)]
    for s in summaries.values():
        expected = "-" if s.expected_motion_files is None else str(s.expected_motion_files)
        fps = ", ".join(f"{k} ({n})" for k, n in sorted(s.fps_seen.items(), key=lambda kv: -kv[1]))
        f = s.formats
        lines.append(f"{s.folder:22s} {s.motion_files:6d} {expected:>8s} {s.no_motion_files:7d} {f['SMPL+H']:6d} "
                     f"{f['SMPL-X']:6d} {f['SMPL']:5d} {f['unknown']:7d} {s.frames:10d} {s.hours:7.2f}  {fps}")
    t = totals(summaries)
    lines += ["-" * len(head),
              f"{'total':22s} {t['motion_files']:6d} {'':8s} {t['no_motion_files']:7d} {t['formats']['SMPL+H']:6d} "
              f"{t['formats']['SMPL-X']:6d} {t['formats']['SMPL']:5d} {t['formats']['unknown']:7d} "
              f"{t['frames']:10d} {t['hours']:7.2f}"]
    unknown_folders = [s.folder for s in summaries.values() if s.catalog_name is None]
    if unknown_folders:
        lines.append(f"not AMASS dataset folders (no catalog entry): {', '.join(unknown_folders)}")
    unreadable = [(rel, reason) for s in summaries.values() for rel, reason in s.unreadable]
    lines.append("expected = motion files in the SMPL+H G release (catalog; other releases differ slightly); "
                 "unknown = files not recognised or unreadable" + (" (listed below)" if unreadable else ""))
    if unreadable:
        lines.append(f"\n{len(unreadable)} unreadable file(s):")
        lines += [f"  {rel}: {reason}" for rel, reason in unreadable]
    skipped = [(rel, reason) for s in summaries.values() for rel, reason in s.skipped]
    if skipped:
        lines.append(f"\n{len(skipped)} skipped, not regular files (never opened):")
        lines += [f"  {rel}: {reason}" for rel, reason in skipped]
    return "\n".join(lines)
