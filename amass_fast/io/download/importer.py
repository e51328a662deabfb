"""``download --from-dir``: bring archives the user downloaded by hand into the output folder under their canonical
names, verified like downloads. The user's files are hard-linked or copied, never moved or changed; only regular
files are opened (a pipe or device with an archive's name is listed and skipped, never read)."""
from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path
from typing import Iterable, Optional, Union


from amass_fast.io import atomic, catalog
from amass_fast.io.catalog import Dataset
from amass_fast.io.download.checks import ArchiveCheckError, file_kind, open_regular, verify_archive
from amass_fast.io.download.retry import DownloadError
from amass_fast.io.download.state import ArchiveFiles, DownloadResult
from amass_fast.io.progress import progress_bar

log = logging.getLogger(__name__)
ARCHIVE_SUFFIXES = (".tar.bz2", ".tbz2", ".tbz")


def _copy_with_progress(src: Path, dst: Path, progress: Optional[bool]) -> None:
    with open_regular(src) as fin, open(dst, "wb") as fout, progress_bar(
            progress, desc=f"copy {src.name}", unit="B", total=os.fstat(fin.fileno()).st_size, leave=False,
            lines=False) as bar:
        while data := fin.read(1 << 22):
            fout.write(data)
            bar.update(len(data))
        fout.flush()
        os.fsync(fout.fileno())


def find_archives(from_dir: Union[str, os.PathLike]) -> dict[str, list[tuple[Path, Optional[str], Optional[str]]]]:
    """Archives in ``from_dir`` recognised by name: dataset name -> [(path, model or None, gender or None)].
    Entries with an archive's name that are not regular files (pipes, devices, folders) are logged and skipped."""
    found: dict[str, list] = {}
    for path in sorted(Path(from_dir).iterdir()):
        if not path.name.lower().endswith(ARCHIVE_SUFFIXES):
            continue
        if not path.is_file():
            try:
                kind = file_kind(path.stat().st_mode)
            except OSError as err:
                kind = f"unreadable ({err.strerror or err})"
            log.warning("%s: is %s, not a regular file; skipped", path, kind)
            continue
        try:
            dataset, model, gender = catalog.parse_archive_name(path.name)
        except KeyError:
            log.info("%s: not an AMASS archive name, ignored", path)
            continue
        found.setdefault(dataset.name, []).append((path, model, gender))
    return found


def import_archives(
    from_dir: Union[str, os.PathLike],
    out_dir: Union[str, os.PathLike],
    datasets: Optional[Iterable[Dataset]] = None,
    *,
    model: str = "smplh",
    gender: str = "gender_specific",
    check: bool = False,
    progress: Optional[bool] = None,
) -> list[DownloadResult]:
    """Bring archives downloaded by hand (``CMU.tar.bz2``, ``CMU_SMPLH_G.tar.bz2``, ...) into ``out_dir`` under
    their canonical names, verified like downloads. The user's files are hard-linked or copied, never moved.
    ``datasets`` None: every recognised archive; otherwise those, and a missing one is a failure."""
    from_dir, out_dir = Path(from_dir), Path(out_dir)
    if not from_dir.is_dir():
        raise DownloadError(f"--from-dir {from_dir} is not a folder")
    found = find_archives(from_dir)
    wanted = [catalog.get(name) for name in found] if datasets is None else list(datasets)
    results = []
    for dataset in wanted:
        started = time.monotonic()
        candidates = found.get(dataset.name, [])
        if not candidates:
            results.append(DownloadResult(dataset.name, "failed", message=(
                f"no archive for it in {from_dir} (looked for {dataset.archive}, "
                f"{dataset.name}_SMPLH_G.tar.bz2 and the like)")))
            continue
        # The requested model first, then names that do not say, then the rest.
        candidates.sort(key=lambda c: (c[1] != model, c[1] is not None, c[2] not in (None, gender)))
        src, src_model, src_gender = candidates[0]
        status, message = _import_one(dataset, src, src_model, src_gender, out_dir, model, gender, check, progress)
        if len(candidates) > 1:
            message += f"; also found, not used: {', '.join(c[0].name for c in candidates[1:])}"
        final = out_dir / dataset.archive
        results.append(DownloadResult(dataset.name, status, final if status != "failed" else None,
                                      final.stat().st_size if status != "failed" else 0,
                                      time.monotonic() - started, message))
    return results


def _import_one(dataset: Dataset, src: Path, src_model: Optional[str], src_gender: Optional[str], out_dir: Path,
                model: str, gender: str, check: bool, progress: Optional[bool]) -> tuple[str, str]:
    files = ArchiveFiles(out_dir, dataset)
    if files.final.exists() and os.path.samefile(src, files.final):
        return "skipped", "already in place"
    try:
        note = files.check_existing(src_model or model, src_gender or gender, check)
    except DownloadError as err:
        return "failed", str(err)
    if note is not None:
        return "skipped", f"{note}; {src} left alone"
    try:
        verify_archive(src, deep=check)
    except ArchiveCheckError as err:
        return "failed", f"{err}: download it again"
    out_dir.mkdir(parents=True, exist_ok=True)
    files.remove_leftovers()
    try:
        with atomic.replacing(files.final) as tmp:  # never half-written under the final name
            try:
                os.link(src, tmp)
                how = "hard link"
            except OSError:  # another file system, or links not allowed
                _copy_with_progress(src, tmp, progress)
                how = "copy"
            if tmp.stat().st_size != src.stat().st_size:
                raise OSError(errno.EIO, "the copy is shorter than the source")
    except OSError as err:
        return "failed", f"cannot import {src} into {out_dir}: {err.strerror or err}"
    files.write_json(files.receipt, {
        "dataset": dataset.name, "archive": dataset.archive, "model": src_model, "gender": src_gender,
        "size": files.final.stat().st_size, "source": "import", "from": str(src),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    variant = f" ({src_model}/{src_gender or '?'} by its name)" if src_model and src_model != model else ""
    return "imported", f"from {src} ({how}){variant}"
