"""Unpack AMASS `.tar.bz2` archives safely and fast, or read their members without unpacking.

    amass-fast extract [--archives data/downloads] [--out data/amass] [--jobs N] [--decoder NAME]

    extract_archive(archive, out_dir, decoder=None) -> ExtractReport
    iter_archive_members(archive, decoder=None) -> iterator of (member name, bytes) for the .npz members

Decoders, fastest first as measured here (`amass-fast extract --measure` on a 7 MB synthetic CMU-like archive
holding 60 MB of .npz; decompress + tar parse, best of 3, 2-core machine shared with other jobs, four runs):
lbzip2 -n 2 through a 1 MiB pipe buffer 106-132 MB/s, indexed_bzip2 with 2 threads 74-122 MB/s, Python's bz2
52-57 MB/s. Both parallel decoders are ~2x bz2 here and scale with cores; lbzip2 was steadier under load.
Run `amass-fast extract --measure ARCHIVE` to repeat the measurement on your machine.

Safety: only regular files whose names AMASS uses (.npz, .txt, .md, LICENSE, README) are written, and only
inside the output folder. Absolute names, `..`, backslashes, symlinks, hardlinks, devices and fifos are
refused and reported; nothing is written through a symlink that already exists under the output folder. A second
member with the name of an earlier one is refused too (the first is kept). Each file is written under a temporary
name and renamed when complete, so a file under its final name is whole.

Damage: a file that is not bzip2 (e.g. a login page saved as .tar.bz2) is refused before decoding. tarfile stops
quietly at the first unreadable header, so after the last member the rest of the stream is read to its end: it
must be zero padding (anything else means damaged data), and the decoder checks every block's CRC on the way.
A damaged block is only detected at its end, so a file completed just before the error can hold damaged bytes:
the .npz's own CRC-32 catches that when it is loaded (`amass-fast verify --full`).

Idempotence: after an archive is fully unpacked, `OUT/.amass_fast/extracted/ARCHIVE.json` records its size,
mtime and the SHA-256 of its first MiB; an unchanged archive whose folders are still there is skipped.
"""
from __future__ import annotations

import argparse
import bz2
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator, Optional, Union

from amass_fast import atomic

PathLike = Union[str, "os.PathLike[str]"]

DECODERS = ("lbzip2", "indexed_bzip2", "bz2")  # fastest first (see the module docstring)
KEPT_SUFFIXES = (".npz", ".txt", ".md")
KEPT_STEMS = ("license", "readme")
MARKER_DIR = Path(".amass_fast") / "extracted"
_CHUNK = 1 << 20
_HEAD_BYTES = 1 << 20


class ArchiveError(RuntimeError):
    """An archive that cannot be read (not bzip2, corrupt, truncated); the message names it and what to do."""


@dataclass
class ExtractReport:
    archive: str
    status: str = "extracted"          # extracted | skipped | failed
    decoder: str = ""
    files: int = 0                      # files written (or, when skipped, written last time)
    bytes: int = 0
    ignored: int = 0                    # regular files AMASS does not need (not written)
    refused: list = field(default_factory=list)  # [member name, reason] of unsafe members
    folders: list = field(default_factory=list)  # top-level folders the archive extracted to
    seconds: float = 0.0
    error: str = ""


# --- decoders -----------------------------------------------------------------------------------------------

def _has_indexed_bzip2() -> bool:
    try:
        import indexed_bzip2  # noqa: F401
    except ImportError:
        return False
    return True


def available_decoders() -> list[str]:
    """The bzip2 decoders usable here, fastest first."""
    found = {"lbzip2": shutil.which("lbzip2") is not None, "indexed_bzip2": _has_indexed_bzip2(), "bz2": True}
    return [d for d in DECODERS if found[d]]


@contextlib.contextmanager
def open_bzip2(path: PathLike, decoder: Optional[str] = None, threads: Optional[int] = None) -> Iterator[BinaryIO]:
    """A readable stream of the decompressed archive, using `decoder` (default: the fastest available)."""
    decoder = decoder or available_decoders()[0]
    threads = max(1, threads or os.cpu_count() or 1)
    if decoder not in DECODERS:
        raise ValueError(f"unknown bzip2 decoder {decoder!r}; choose one of {', '.join(DECODERS)}")
    if decoder not in available_decoders():
        how = "pip install indexed_bzip2" if decoder == "indexed_bzip2" else "install lbzip2 (e.g. apt install lbzip2)"
        raise ArchiveError(f"bzip2 decoder {decoder!r} is not available here ({how}); available: "
                           f"{', '.join(available_decoders())}")
    _check_magic(path)
    if decoder == "indexed_bzip2":
        import indexed_bzip2
        with indexed_bzip2.open(os.fspath(path), parallelization=threads) as stream:
            yield stream
    elif decoder == "lbzip2":
        proc = subprocess.Popen(["lbzip2", "-dc", "-n", str(threads), "--", os.fspath(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=_CHUNK)
        try:
            yield proc.stdout
            proc.stdout.read()  # drain, so that lbzip2 reaches the end and reports a truncated stream
        except Exception:
            # An error while reading is often only the symptom (an empty or short stream) of lbzip2 failing:
            # when lbzip2 has stopped with an error, its message is the one to report.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.5)
            if proc.returncode is None:
                proc.kill()
            elif proc.returncode != 0:
                err = proc.stderr.read().decode(errors="replace").strip()
                raise ArchiveError(f"{path}: lbzip2 failed ({err or f'exit status {proc.returncode}'}); the archive "
                                   f"is corrupt or incomplete: download it again (amass-fast download)") from None
            raise
        except BaseException:
            proc.kill()
            raise
        finally:
            proc.stdout.close()
            err = proc.stderr.read().decode(errors="replace").strip()
            proc.stderr.close()
            returncode = proc.wait()
        if returncode != 0:
            raise ArchiveError(f"{path}: lbzip2 failed ({err or f'exit status {returncode}'}); the archive is "
                               f"corrupt or incomplete: download it again (amass-fast download)")
    else:
        with bz2.open(path, "rb") as stream:
            yield stream


def _check_magic(path: PathLike) -> None:
    """Refuse a file that is not bzip2 before a decoder sees it, with a message that says what it is."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except FileNotFoundError:
        raise ArchiveError(f"{path}: no such archive; download it first (amass-fast download)") from None
    if head.startswith(b"BZh"):
        return
    text = head.lstrip().lower()
    what = ("a web page (HTML), perhaps a login or licence page saved under the archive's name"
            if text.startswith((b"<!doctype", b"<html", b"<head", b"<?xml")) else
            "empty" if not head else "not a bzip2 archive (it does not start with 'BZh')")
    raise ArchiveError(f"{path}: {what}; download it again (amass-fast download, after accepting the dataset's "
                       f"licence on the AMASS website)")


def _check_tar_end(tar: tarfile.TarFile, archive: PathLike) -> None:
    """tarfile ends quietly at the first unreadable header: what follows the last member must be zero padding.
    Reading it to the end also makes the decoder check the remaining blocks' CRCs and the end of the stream."""
    while chunk := tar.fileobj.read(_CHUNK):
        if chunk.strip(b"\0"):
            where = f"after member {tar.members[-1].name!r}" if tar.members else "at its start"
            raise ArchiveError(f"{archive}: damaged: unreadable tar data {where}; the archive is corrupt: "
                               f"download it again (amass-fast download)")


def measure_decoders(archive: PathLike, repeats: int = 3) -> dict[str, float]:
    """Decompress + tar-parse throughput (MB of tar per second, best of `repeats`) of each available decoder."""
    result = {}
    for decoder in available_decoders():
        best = float("inf")
        for _ in range(repeats):
            start, total = time.perf_counter(), 0
            for _, data in iter_archive_members(archive, decoder, on_refused=lambda *_: None, keep=lambda n: True):
                total += len(data)
            best = min(best, time.perf_counter() - start)
        result[decoder] = total / 1e6 / best
    return result


# --- member safety ------------------------------------------------------------------------------------------

_DRIVE = re.compile(r"^[A-Za-z]:")


def safe_member_name(name: str) -> Optional[str]:
    """The member's path as safe "/"-separated parts, or None if it could land outside the output folder."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or _DRIVE.match(name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def refusal_reason(member: tarfile.TarInfo) -> Optional[str]:
    """Why a member must not be extracted, or None when it is a plain file or folder with a safe name."""
    if safe_member_name(member.name) is None:
        return "unsafe path (absolute, '..', drive letter or backslash)"
    if member.issym():
        return f"symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"hard link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "device file"
    if member.isfifo():
        return "fifo"
    if not (member.isreg() or member.isdir()):
        return "not a regular file"
    return None


def is_kept(name: str) -> bool:
    """Files AMASS ships that we keep: the motion .npz files and the licence/readme texts."""
    base = PurePosixPath(name).name.lower()
    return base.endswith(KEPT_SUFFIXES) or base.split(".")[0] in KEPT_STEMS


def _report_refused(archive: str) -> Callable[[str, str], None]:
    return lambda member, reason: print(f"{archive}: refused member {member!r}: {reason}", file=sys.stderr)


def iter_archive_members(archive: PathLike, decoder: Optional[str] = None,
                         on_refused: Optional[Callable[[str, str], None]] = None,
                         keep: Callable[[str], bool] = lambda name: name.endswith(".npz"),
                         threads: Optional[int] = None) -> Iterator[tuple[str, bytes]]:
    """Stream (safe member name, bytes) for the .npz members of a .tar.bz2, in archive order, without writing
    anything. Unsafe members are skipped and passed to `on_refused(name, reason)` (default: printed to stderr).
    The name is relative to the AMASS root (its first part is the dataset folder), ready for load_sequence."""
    on_refused = on_refused or _report_refused(str(archive))
    seen: set[str] = set()
    with _reading(archive), open_bzip2(archive, decoder, threads) as stream, \
            tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            reason = refusal_reason(member) or _duplicate(member, seen)
            if reason is not None:
                on_refused(member.name, reason)
                continue
            name = safe_member_name(member.name)
            if member.isreg() and keep(name):
                yield name, tar.extractfile(member).read()
        _check_tar_end(tar, archive)


def _duplicate(member: tarfile.TarInfo, seen: set[str]) -> Optional[str]:
    """Why a file member repeats an earlier one's name (None if it does not); records the name."""
    if not member.isreg():
        return None
    name = safe_member_name(member.name)
    if name in seen:
        return "duplicate name: an earlier member of the same name was kept"
    seen.add(name)
    return None


@contextlib.contextmanager
def _reading(archive: PathLike) -> Iterator[None]:
    """Turn the decoders' and tarfile's many exception types into one ArchiveError that says what to do."""
    try:
        yield
    except (ArchiveError, GeneratorExit):
        raise
    except FileNotFoundError:
        raise ArchiveError(f"{archive}: no such archive; download it first (amass-fast download)") from None
    except (OSError, EOFError, ValueError, tarfile.TarError, RuntimeError) as exc:
        raise ArchiveError(f"{archive}: unreadable ({type(exc).__name__}: {exc}); the archive is corrupt or "
                           f"incomplete: download it again (amass-fast download)") from None


# --- extraction ------------------------------------------------------------------------------------------------

def archive_fingerprint(archive: PathLike) -> dict:
    """Size, mtime and SHA-256 of the first MiB: cheap, and changes when the archive is replaced."""
    st = os.stat(archive)
    with open(archive, "rb") as f:
        head = hashlib.sha256(f.read(_HEAD_BYTES)).hexdigest()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256_first_mib": head}


def _marker_path(out_dir: Path, archive: Path) -> Path:
    return out_dir / MARKER_DIR / (archive.name + ".json")


def already_extracted(archive: PathLike, out_dir: PathLike) -> Optional[ExtractReport]:
    """The previous report when `archive` is unchanged since it was fully extracted and its folders exist."""
    archive, out_dir = Path(archive), Path(out_dir)
    try:
        marker = json.loads(_marker_path(out_dir, archive).read_text())
        report = ExtractReport(**marker["report"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if marker.get("fingerprint") != archive_fingerprint(archive):
        return None
    if not all((out_dir / folder).is_dir() for folder in report.folders):
        return None
    report.status, report.seconds = "skipped", 0.0
    return report


def _make_folder(out_dir: Path, parts: list[str]) -> Optional[Path]:
    """out_dir/parts..., created one level at a time; None if a level is an existing symlink or a file, so that
    nothing is ever created or written through a link that points outside the output folder."""
    path = out_dir
    for part in parts:
        path = path / part
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            return None
        path.mkdir(exist_ok=True)
    return path


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, progress) -> int:
    tmp = Path(atomic.temporary_name(dest))
    source = tar.extractfile(member)
    written = 0
    try:
        with open(tmp, "wb") as out:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
                written += len(chunk)
                if progress is not None:
                    progress.update(len(chunk))
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written


def extract_archive(archive: PathLike, out_dir: PathLike, decoder: Optional[str] = None,
                    threads: Optional[int] = None, force: bool = False, progress=None) -> ExtractReport:
    """Unpack one AMASS archive into `out_dir` (safely; see the module docstring) and return what happened.

    Skips an archive already extracted and unchanged unless `force`. `progress` is an optional tqdm bar updated
    with the bytes written. Raises ArchiveError when the archive cannot be read; files completed before the
    error stay (whole), and no marker is written, so a rerun extracts it again."""
    archive, out_dir = Path(archive), Path(out_dir)
    if not force:
        previous = already_extracted(archive, out_dir)
        if previous is not None:
            return previous
    start = time.perf_counter()
    decoder = decoder or available_decoders()[0]
    report = ExtractReport(archive=archive.name, decoder=decoder)
    out_dir.mkdir(parents=True, exist_ok=True)
    folders: set[str] = set()
    seen: set[str] = set()
    with _reading(archive), open_bzip2(archive, decoder, threads) as stream, \
            tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            reason = refusal_reason(member) or _duplicate(member, seen)
            name = safe_member_name(member.name)
            if reason is None and member.isreg() and not is_kept(name):
                report.ignored += 1
                continue
            if reason is None:
                parts = name.split("/")
                folder = _make_folder(out_dir, parts if member.isdir() else parts[:-1])
                if folder is None:
                    reason = "its folder is an existing symlink or file under the output folder"
            if reason is not None:
                report.refused.append([member.name, reason])
                continue
            if member.isdir() or len(parts) > 1:
                folders.add(parts[0])
            if member.isreg():
                dest = folder / parts[-1]
                if dest.is_symlink() or dest.is_dir():
                    report.refused.append([member.name, "the destination exists and is a symlink or folder"])
                    continue
                report.bytes += _write_member(tar, member, dest, progress)
                report.files += 1
        _check_tar_end(tar, archive)
    report.folders = sorted(folders)
    report.seconds = time.perf_counter() - start
    marker = _marker_path(out_dir, archive)
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"fingerprint": archive_fingerprint(archive), "report": asdict(report)}, indent=1))
    os.replace(tmp, marker)
    return report


def find_archives(paths: list[PathLike]) -> list[Path]:
    """The .tar.bz2 files among `paths` (files, or folders searched one level deep), sorted, without duplicates."""
    found: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            found.update(x for x in p.glob("*.tar.bz2") if x.is_file())
        elif p.is_file():
            found.add(p)
        else:
            raise FileNotFoundError(f"{p}: no such archive or folder; download first (amass-fast download --out {p})")
    return sorted(found)


def extract_all(archives: list[PathLike], out_dir: PathLike, jobs: int = 2, decoder: Optional[str] = None,
                force: bool = False, show_progress: Optional[bool] = None) -> list[ExtractReport]:
    """Extract several archives at once (threads: the decoders release the GIL). Each archive's decoder gets
    cpu_count / jobs threads. A failed archive gives a report with status "failed"; the others go on.
    Progress bars go to stderr; `show_progress=None` shows them only on a terminal (stacked bars garble logs)."""
    from tqdm import tqdm

    hide = None if show_progress is None else not show_progress

    archives = [Path(a) for a in archives]
    jobs = max(1, min(jobs, len(archives) or 1))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    slots = list(range(jobs))
    lock = threading.Lock()

    def one(archive: Path) -> ExtractReport:
        with lock:
            slot = slots.pop(0)
        try:
            with tqdm(desc=archive.name, unit="B", unit_scale=True, position=slot, leave=False,
                      disable=hide, file=sys.stderr) as bar:
                return extract_archive(archive, out_dir, decoder, threads, force, bar)
        except ArchiveError as exc:
            return ExtractReport(archive=archive.name, status="failed", decoder=decoder or "", error=str(exc))
        finally:
            with lock:
                slots.append(slot)

    with ThreadPoolExecutor(max_workers=jobs) as pool, \
            tqdm(total=len(archives), desc="archives", unit="archive", position=jobs, disable=hide,
                 file=sys.stderr) as overall:
        reports = []
        for report in pool.map(one, archives):
            reports.append(report)
            overall.update(1)
        return reports


# --- CLI ----------------------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archives", nargs="+", default=["data/downloads"], metavar="PATH",
                        help="archives, or folders holding *.tar.bz2 (default: data/downloads)")
    parser.add_argument("--out", default="data/amass", metavar="DIR",
                        help="the AMASS root to extract into (default: data/amass)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="archives extracted at once (default: 2)")
    parser.add_argument("--decoder", choices=DECODERS, default=None,
                        help="bzip2 decoder (default: the fastest available: %s)" % ", ".join(available_decoders()))
    parser.add_argument("--force", action="store_true", help="extract again even when already extracted")
    parser.add_argument("--measure", metavar="ARCHIVE", default=None,
                        help="only measure each available decoder's throughput on ARCHIVE and print it")


def run(args: argparse.Namespace) -> int:
    if args.measure:
        for decoder, rate in measure_decoders(args.measure).items():
            print(f"{decoder:14s} {rate:8.1f} MB/s")
        return 0
    try:
        archives = find_archives(args.archives)
    except FileNotFoundError as exc:
        print(f"amass-fast extract: {exc}", file=sys.stderr)
        return 2
    if not archives:
        print(f"amass-fast extract: no .tar.bz2 archives in {' '.join(args.archives)}; download them first "
              f"(amass-fast download) or pass --archives", file=sys.stderr)
        return 2
    reports = extract_all(archives, args.out, jobs=args.jobs, decoder=args.decoder, force=args.force)
    head = f"{'archive':32s} {'status':9s} {'files':>6s} {'MB':>9s} {'ignored':>7s} {'refused':>7s} {'s':>7s}  decoder"
    print(f"{head}\n{'-' * len(head)}")
    for r in reports:
        print(f"{r.archive:32s} {r.status:9s} {r.files:6d} {r.bytes / 1e6:9.1f} {r.ignored:7d} {len(r.refused):7d} "
              f"{r.seconds:7.1f}  {r.decoder}")
    for r in reports:
        for member, reason in r.refused:
            print(f"refused: {r.archive}: {member!r}: {reason}", file=sys.stderr)
        if r.error:
            print(f"failed: {r.error}", file=sys.stderr)
    bad = [r for r in reports if r.status == "failed" or r.refused]
    if bad:
        print(f"{len(bad)} archive(s) failed or held unsafe members (see above); genuine AMASS archives do not",
              file=sys.stderr)
        return 1
    print(f"done: AMASS tree in {args.out}; next: amass-fast verify {args.out}")
    return 0
