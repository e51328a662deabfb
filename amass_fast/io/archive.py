"""Unpack AMASS `.tar.bz2` archives safely and fast, or read their members without unpacking.

    amass-fast extract [--archives data/downloads] [--out data/amass] [--jobs N] [--decoder NAME]

    extract_archive(archive, out_dir, decoder=None) -> ExtractReport
    iter_archive_members(archive, decoder=None) -> iterator of (member name, bytes) for the .npz members

Decoders, fastest first as measured here (`amass-fast extract --measure` on a 7 MB synthetic CMU-like archive
holding 60 MB of .npz; decompress + tar parse, best of 3, 2-core machine shared with other jobs, four runs):
lbzip2 -n 2 through a 1 MiB pipe buffer 106-132 MB/s, indexed_bzip2 with 2 threads 74-122 MB/s, Python's bz2
52-57 MB/s. Both parallel decoders are ~2x bz2 here and scale with cores; lbzip2 was steadier under load.
Run `amass-fast extract --measure ARCHIVE` to repeat the measurement on your machine.

Safety: only regular archive files are opened (a pipe or device passed as an archive is refused, never read, so
nothing blocks), and only regular files whose names AMASS uses (.npz, .txt, .md, LICENSE, README) are written, and only
inside the output folder. Absolute names, `..`, backslashes, symlinks, hardlinks, devices and fifos are
refused and reported; nothing is written through a symlink that already exists under the output folder. A second
member with the name of an earlier one is refused too (the first is kept). Each file is written under a temporary
name (fixed length, amass_fast.io.atomic, so a 255-byte member name still fits) and renamed when complete, so a file
under its final name is whole. A member that cannot be written (e.g. a name longer than the file system allows) is
reported by name and the following members are still extracted; a full disk stops the archive.

Bounded work: a member whose header declares more than MAX_MEMBER_BYTES (1 GiB, far above any AMASS motion file) is
refused by name before anything is read or allocated: a crafted (e.g. sparse) member cannot claim gigabytes of
memory in iter_archive_members or of disk in extract.

Empty: an archive without any .npz member is reported ("empty": not an AMASS archive, download it again); `extract`
exits with status 2 when every archive given is empty. iter_archive_members yields nothing for such an archive
(no error): a caller that needs members says so.

Damage: a file that is not bzip2 (e.g. a login page saved as .tar.bz2) is refused before decoding. tarfile stops
quietly at the first unreadable header, so after the last member the rest of the stream is read to its end: it
must be zero padding (anything else means damaged data), and the decoder checks every block's CRC on the way.
A damaged block is only detected at its end, so a file completed just before the error can hold damaged bytes:
the .npz's own CRC-32 catches that when it is loaded (`amass-fast verify --full`).

Idempotence: after an archive is fully unpacked, `OUT/.amass_fast/extracted/ARCHIVE.json` records its size,
mtime and the SHA-256 of its first MiB; an unchanged archive whose folders are still there is skipped.
"""
from __future__ import annotations

import bz2
import contextlib
import errno
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator, Optional, Union

from amass_fast.io import atomic, guarded, workers
from amass_fast.io.progress import progress_bar
from amass_fast.io.download.checks import NotRegularFileError, file_kind, looks_like_html, open_regular

PathLike = Union[str, "os.PathLike[str]"]

DECODERS = ("lbzip2", "indexed_bzip2", "bz2")  # fastest first (see the module docstring)
KEPT_SUFFIXES = (".npz", ".txt", ".md")
KEPT_STEMS = ("license", "readme")
MARKER_DIR = Path(".amass_fast") / "extracted"
_CHUNK = 1 << 20
_HEAD_BYTES = 1 << 20
MAX_MEMBER_BYTES = 1 << 30  # per member; AMASS .npz files are tens of MB at most
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}  # stop the archive: every member would fail


class ArchiveError(RuntimeError):
    """An archive that cannot be read (not bzip2, corrupt, truncated); the message names it and what to do."""


@dataclass
class ExtractReport:
    archive: str
    status: str = "extracted"          # extracted | skipped | failed | empty (no .npz member)
    decoder: str = ""
    files: int = 0                      # files written (or, when skipped, written last time)
    bytes: int = 0
    ignored: int = 0                    # regular files AMASS does not need (not written)
    refused: list = field(default_factory=list)  # [member name, reason] of unsafe members
    folders: list = field(default_factory=list)  # top-level folders the archive extracted to
    unwritten: list = field(default_factory=list)  # [member name, reason] of safe members that could not be written
    kept: list = field(default_factory=list)  # [member name, why] of existing files that differ, kept (no --overwrite)
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
    with _open_archive(path) as raw:
        if decoder == "indexed_bzip2":
            import indexed_bzip2
            with indexed_bzip2.open(os.fspath(path), parallelization=threads) as stream:  # checked regular above
                yield stream
        elif decoder == "lbzip2":
            with _lbzip2(path, raw, threads) as stream:
                yield stream
        else:
            with bz2.open(raw, "rb") as stream:
                yield stream


@contextlib.contextmanager
def _lbzip2(path: PathLike, raw: BinaryIO, threads: int) -> Iterator[BinaryIO]:
    """lbzip2 decoding the already opened archive ``raw`` (its stdin): the child never opens a path itself."""
    proc = subprocess.Popen(["lbzip2", "-dc", "-n", str(threads)], stdin=raw,
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


def _open_archive(path: PathLike) -> BinaryIO:
    """The archive opened for reading, only if it is a regular file that starts like bzip2; else an ArchiveError
    that says what it is (missing, a pipe or device, a web page, empty, not bzip2)."""
    try:
        raw = open_regular(path)
    except FileNotFoundError:
        raise ArchiveError(f"{path}: no such archive; download it first (amass-fast download)") from None
    except NotRegularFileError as exc:
        raise ArchiveError(f"{exc}; nothing was read from it") from None
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot be read ({exc.strerror or exc}); check its permissions") from None
    head = os.pread(raw.fileno(), 512, 0)  # leaves the file offset at 0 for the decoder (lbzip2 reads the fd)
    if head.startswith(b"BZh"):
        return raw
    raw.close()
    what = ("a web page (HTML), perhaps a login or licence page saved under the archive's name"
            if looks_like_html(head) else
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


def too_big(member: tarfile.TarInfo) -> Optional[str]:
    """Why a file member is too large to read (its header declares over MAX_MEMBER_BYTES), or None."""
    if member.size <= MAX_MEMBER_BYTES:
        return None
    sparse = " (a sparse file)" if member.issparse() else ""
    return (f"declares {member.size:,} bytes{sparse}, over the limit of {MAX_MEMBER_BYTES:,} per member; "
            f"AMASS files are far smaller, so the archive is damaged or not from AMASS: not read")


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
    The name is relative to the AMASS root (its first part is the dataset folder), ready for load_sequence.
    A member declaring more than MAX_MEMBER_BYTES is refused before it is read. An archive without .npz members
    yields nothing (no error)."""
    on_refused = on_refused or _report_refused(str(archive))
    seen: set[str] = set()
    with _reading(archive), open_bzip2(archive, decoder, threads) as stream, \
            tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            reason = refusal_reason(member) or _duplicate(member, seen)
            name = safe_member_name(member.name)
            if reason is None and member.isreg() and keep(name):
                reason = too_big(member)
                if reason is None:
                    yield name, tar.extractfile(member).read()
            if reason is not None:
                on_refused(member.name, reason)
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
    with open_regular(archive) as f:
        st = os.fstat(f.fileno())
        head = hashlib.sha256(f.read(_HEAD_BYTES)).hexdigest()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256_first_mib": head}


def _marker_path(out_dir: Path, archive: Path) -> Path:
    return out_dir / MARKER_DIR / (archive.name + ".json")


def already_extracted(archive: PathLike, out_dir: PathLike) -> Optional[ExtractReport]:
    """The previous report when `archive` is unchanged since it was fully extracted and its folders exist."""
    archive, out_dir = Path(archive), Path(out_dir)
    try:
        marker = guarded.read_json(_marker_path(out_dir, archive), "record")
        report = ExtractReport(**marker["report"])
        same = marker.get("fingerprint") == archive_fingerprint(archive)
    except (OSError, ValueError, TypeError, KeyError):  # no marker, or the archive is unreadable: extract reports it
        return None
    if not same:
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


class _OutputError(Exception):
    """The output side failed for one member (its OSError in ``args[0]``), not the archive."""


def _output(fn: Callable, *args):
    """Call ``fn(*args)`` (a file-system operation on the output), turning its OSError into _OutputError."""
    try:
        return fn(*args)
    except OSError as exc:
        raise _OutputError(exc) from None


def _unwritten_reason(exc: OSError, out_dir: Path) -> str:
    """Why one member could not be written; raises ArchiveError when no further member could be written either."""
    if exc.errno in _DISK_FULL:
        raise ArchiveError(f"cannot write {exc.filename or out_dir}: {exc.strerror or exc}; free some space (or "
                           f"choose a writable --out) and rerun: files completed so far are kept") from None
    hint = " (the name is longer than this file system allows)" if exc.errno == errno.ENAMETOOLONG else ""
    return f"cannot be written: {exc.strerror or exc}{hint}"


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, progress,
                  overwrite: bool = False, stop: Optional[threading.Event] = None) -> tuple[int, bool]:
    """Write a regular member to ``dest`` through a fixed-length temporary name; returns (its bytes, whether an
    existing ``dest`` was kept because its bytes differ from the member's and ``overwrite`` is off). An existing
    file with the member's bytes is left as it is. Errors of the output raise _OutputError; errors reading the
    archive propagate as they are; ``stop`` set raises workers.Cancelled at the next chunk (the temporary file
    removed)."""
    source = tar.extractfile(member)
    tmp = Path(atomic.temporary_name(dest))
    written = 0
    old = None
    if dest.is_file():  # compared as the member streams past (the archive cannot be read twice)
        with contextlib.suppress(OSError):
            old = guarded.open_regular(dest, "archive")  # no size cap: compared, never held in memory
    same = old is not None and os.fstat(old.fileno()).st_size == member.size
    out = _output(open, tmp, "wb")
    try:
        while chunk := source.read(_CHUNK):
            workers.check(stop, str(dest))
            _output(out.write, chunk)
            if same:
                same = old.read(len(chunk)) == chunk
            written += len(chunk)
            if progress is not None:
                progress.update(len(chunk))
        _output(out.close)
        kept = old is not None and not same and not overwrite
        if old is None or (not same and overwrite):
            _output(os.replace, tmp, dest)
    finally:
        with contextlib.suppress(OSError):
            out.close()
            tmp.unlink(missing_ok=True)
            if old is not None:
                old.close()
    return written, kept


def extract_archive(archive: PathLike, out_dir: PathLike, decoder: Optional[str] = None,
                    threads: Optional[int] = None, force: bool = False, progress=None,
                    overwrite: bool = False, stop: Optional[threading.Event] = None) -> ExtractReport:
    """Unpack one AMASS archive into `out_dir` (safely; see the module docstring) and return what happened.

    Skips an archive already extracted and unchanged unless `force`. An existing file whose bytes differ from its
    member's is kept and listed in ``kept`` unless `overwrite`. `progress` is an optional tqdm bar updated
    with the bytes written. A member that cannot be written is listed in ``unwritten`` and the others go on; an
    archive without .npz members gets status "empty". Raises ArchiveError when the archive cannot be read (or the
    disk is full); files completed before the error stay (whole), and no marker is written, so a rerun extracts
    it again (likewise when a member was not written, or the archive is empty). ``stop`` set (by the caller,
    from another thread) ends it at the next chunk with workers.Cancelled, as an error would."""
    archive, out_dir = Path(archive), Path(out_dir)
    if not force:
        previous = already_extracted(archive, out_dir)
        if previous is not None:
            return previous
    start = time.perf_counter()
    decoder = decoder or available_decoders()[0]
    report = ExtractReport(archive=archive.name, decoder=decoder)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous, stamps = _written_before(out_dir, archive), {}
    folders: set[str] = set()
    seen: set[str] = set()
    motions = 0
    with _reading(archive), open_bzip2(archive, decoder, threads) as stream, \
            tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            reason = refusal_reason(member) or _duplicate(member, seen)
            name = safe_member_name(member.name)
            if reason is None and member.isreg() and not is_kept(name):
                report.ignored += 1
                continue
            if reason is None and member.isreg():
                motions += name.lower().endswith(".npz")
                reason = too_big(member)
            if reason is not None:
                report.refused.append([member.name, reason])
                continue
            parts = name.split("/")
            try:
                folder = _output(_make_folder, out_dir, parts if member.isdir() else parts[:-1])
                if folder is None:
                    reason = "its folder is an existing symlink or file under the output folder"
                elif member.isreg():
                    dest = folder / parts[-1]
                    if _output(lambda: dest.is_symlink() or (dest.exists() and not dest.is_file())):
                        reason = "the destination exists and is a symlink, folder or special file"
                    else:
                        # A file this tool wrote last time (size and mtime as recorded) is replaced freely.
                        ours = previous.get(name) is not None and previous.get(name) == _stamp(dest)
                        written, kept = _write_member(tar, member, dest, progress, overwrite or ours, stop)
                        if not kept:
                            stamps[name] = _stamp(dest)
                        if kept:
                            report.kept.append([member.name, f"{dest}: differs from the archive's copy; kept (rerun "
                                                             f"with --overwrite to replace it)"])
                        else:
                            report.bytes += written
                            report.files += 1
            except _OutputError as exc:
                report.unwritten.append([member.name, _unwritten_reason(exc.args[0], out_dir)])
                continue
            if reason is not None:
                report.refused.append([member.name, reason])
                continue
            if member.isdir() or len(parts) > 1:
                folders.add(parts[0])
        _check_tar_end(tar, archive)
    report.folders = sorted(folders)
    report.seconds = time.perf_counter() - start
    if motions == 0:
        report.status = "empty"
        report.error = (f"{archive}: holds no .npz motion files, so it is not an AMASS archive (or was saved "
                        f"incomplete): download it again (amass-fast download)")
    elif not report.unwritten and not report.kept:  # a rerun reports kept files again
        _write_marker(out_dir, archive, report, stamps)
    return report


def _stamp(path: Path) -> Optional[list]:
    """[size, mtime_ns] of a regular file (None otherwise): how the marker recognises a file this tool wrote."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns] if stat.S_ISREG(st.st_mode) else None


def _written_before(out_dir: Path, archive: Path) -> dict:
    """member name -> [size, mtime_ns] of the files the last complete extraction of ``archive`` wrote."""
    try:
        written = guarded.read_json(_marker_path(out_dir, archive), "record").get("written", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return written if isinstance(written, dict) else {}


def _write_marker(out_dir: Path, archive: Path, report: ExtractReport, written: dict) -> None:
    marker = _marker_path(out_dir, archive)
    marker.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(marker, {"fingerprint": archive_fingerprint(archive), "report": asdict(report),
                               "written": written})


def find_archives(paths: list[PathLike], on_skipped: Optional[Callable[[Path, str], None]] = None) -> list[Path]:
    """The .tar.bz2 files among `paths` (files, or folders searched one level deep), sorted, without duplicates.
    Only regular files are taken: a path given that is a pipe or device raises NotRegularFileError, one found in a
    folder goes to ``on_skipped(path, what it is)``. A missing path raises FileNotFoundError."""
    found: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            for x in p.glob("*.tar.bz2"):
                if x.is_file():
                    found.add(x)
                elif on_skipped is not None:
                    on_skipped(x, _what(x))
        elif p.is_file():
            found.add(p)
        elif p.exists():
            raise NotRegularFileError(p, f"is {_what(p)}, not an archive or folder; pass .tar.bz2 files or the "
                                         f"folder holding them")
        else:
            raise FileNotFoundError(f"{p}: no such archive or folder; download first (amass-fast download --out {p})")
    return sorted(found)


def _what(path: Path) -> str:
    try:
        return file_kind(path.stat().st_mode)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"


def extract_all(archives: list[PathLike], out_dir: PathLike, jobs: int = 2, decoder: Optional[str] = None,
                force: bool = False, show_progress: Optional[bool] = None,
                overwrite: bool = False) -> list[ExtractReport]:
    """Extract several archives at once (threads: the decoders release the GIL). Each archive's decoder gets
    cpu_count / jobs threads. A failed archive gives a report with status "failed"; the others go on.
    Progress bars go to stderr; `show_progress=None` shows them only on a terminal (stacked bars garble logs)."""
    archives = [Path(a) for a in archives]
    jobs = max(1, min(jobs, len(archives) or 1))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    slots = list(range(jobs))
    lock = threading.Lock()
    stop = threading.Event()  # set when this thread stops (Ctrl-C, SIGTERM, SIGHUP): the extractions end too

    def one(archive: Path) -> ExtractReport:
        with lock:
            slot = slots.pop(0)
        try:
            with progress_bar(show_progress, desc=archive.name, unit="B", position=slot, leave=False) as bar:
                return extract_archive(archive, out_dir, decoder, threads, force, bar, overwrite, stop)
        except ArchiveError as exc:
            return ExtractReport(archive=archive.name, status="failed", decoder=decoder or "", error=str(exc))
        finally:
            with lock:
                slots.append(slot)

    with workers.thread_pool(jobs, stop, "amass-extract") as pool, \
            progress_bar(show_progress, total=len(archives), desc="archives", unit="archive",
                         position=jobs) as overall:
        reports = []
        for report in pool.map(one, archives):
            reports.append(report)
            overall.update(1)
        return reports


# --- CLI ----------------------------------------------------------------------------------------------------------
