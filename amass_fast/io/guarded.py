"""The one guarded reader: every file amass-fast reads back (motion files, archives, shards and manifests, run
records, BABEL and HumanML3D files and zips, body-model files, images read back) is opened here.

    open_regular(path, kind)  -> binary file object (regular files only; never blocks on a FIFO or device)
    check_regular(path, kind) -> os.stat_result    (the same checks without opening)
    read_bytes(path, kind)    -> bytes             (at most the kind's cap)
    read_text(path, kind)     -> str               (UTF-8)
    read_json(path, kind)     -> the parsed value  (size and nesting depth limited: no RecursionError)
    parse_json(data, name)    -> the parsed value  (the same limits, for JSON held in memory, e.g. a shard member)
    zip_members(zf, name, kind) -> the members of an opened zip, each and all together within the kind's caps
    read_member(zf, info, name) -> one member's bytes (a bad CRC or a damaged member is a ReadRefused)

Rules, the same for every caller:

- Only regular files (links followed) are read. A path is opened with O_NONBLOCK and checked with fstat before a
  byte is read, so a FIFO with no writer, a socket or a device is refused at once instead of blocking the run.
- Each kind of file has one size cap, in LIMITS below; a larger file is refused before it is read.
- Zip members are capped one by one (ZIP_MEMBER_LIMITS) and in total (the kind's cap), from their declared sizes,
  before anything is decompressed; zipfile never yields more than a member's declared size.
- JSON is parsed only within the kind's size and at most MAX_JSON_DEPTH levels of nesting, checked before parsing.
- Every refusal is a ReadRefused (an OSError and a ValueError) whose message starts with the file's name and says
  what to do; ``path`` holds the file.
"""
from __future__ import annotations

import json
import os
import re
import stat
import zipfile
import zlib
from typing import Any, BinaryIO, Optional, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

#: The one table of size caps, in bytes, per kind of file read (None: no cap, the file is streamed).
LIMITS: dict[str, Optional[int]] = {
    "motion": 4 * GiB,        # an AMASS .npz (the largest real ones are ~100 MB; formats bounds each array too)
    "archive": None,          # a dataset .tar.bz2: streamed, tens of GB are normal
    "shard": 64 * GiB,        # a process shard (memory-mapped, never read whole)
    "clips": 64 * GiB,        # a .pt clips file (StickClips, preview)
    "manifest": 256 * MiB,    # a shards manifest.json
    "record": 16 * MiB,       # run.json, extract markers, download state
    "shard_json": 256 * MiB,  # the JSON members of a shard (clip lines, task info)
    "babel": 1 * GiB,         # one BABEL annotation file (train.json is ~50 MB)
    "index_csv": 256 * MiB,   # HumanML3D's index.csv
    "caption": 1 * MiB,       # one HumanML3D caption file (texts/NAME.txt)
    "texts_zip": 1 * GiB,     # HumanML3D's texts.zip: its members' total, after decompression
    "model": 4 * GiB,         # a body-model file (.npz or .pkl)
    "image": 512 * MiB,       # an image read back (preview)
    "credentials": 1 * MiB,   # a credentials file
}
#: Caps on one zip member after decompression, for kinds read as zips of many members.
ZIP_MEMBER_LIMITS: dict[str, int] = {"texts_zip": LIMITS["caption"]}
MAX_JSON_DEPTH = 64
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
_CHUNK = 1 << 20


class ReadRefused(OSError, ValueError):
    """A file amass-fast will not read: not a regular file, over its kind's size cap, JSON too deep, a damaged zip
    member. The message names the file, the problem and what to do; ``path`` is the file."""

    def __init__(self, path: PathLike, problem: str):
        super().__init__(f"{os.fspath(path)}: {problem}")
        self.path, self.problem = os.fspath(path), problem

    def __str__(self) -> str:
        return self.args[0]

    def __reduce__(self):  # crosses process pools whole
        return type(self), (self.path, self.problem)


class NotRegularFile(ReadRefused):
    """A FIFO, socket, device or folder where a regular file is expected."""


class TooLarge(ReadRefused):
    """A file (or zip member, or all of a zip's members) larger than its kind's cap."""


class BadContent(ReadRefused):
    """JSON that does not parse or nests too deep, text that is not UTF-8, a zip member that does not read back."""


def file_kind(mode: int) -> str:
    """What ``st_mode`` describes, in words ("a regular file", "a FIFO (named pipe)", ...)."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def size_text(n: int) -> str:
    """A byte count for messages: "1.5 GiB", "300 KiB", "12 bytes"."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def _limit(kind: str) -> Optional[int]:
    try:
        return LIMITS[kind]
    except KeyError:
        raise ValueError(f"unknown file kind {kind!r}; one of {', '.join(LIMITS)}") from None


def _check_status(path: PathLike, status: os.stat_result, kind: str) -> os.stat_result:
    if not stat.S_ISREG(status.st_mode):
        raise NotRegularFile(path, f"not a regular file but {file_kind(status.st_mode)}; remove it or pass a "
                                   f"regular file")
    cap = _limit(kind)
    if cap is not None and status.st_size > cap:
        raise TooLarge(path, f"{size_text(status.st_size)}, over the {size_text(cap)} limit for a {kind} file; "
                             f"this is not a file amass-fast writes or reads")
    return status


def check_regular(path: PathLike, kind: str) -> os.stat_result:
    """``os.stat(path)`` (links followed) if it is a regular file within the kind's cap; else ReadRefused.
    A missing path raises FileNotFoundError as usual."""
    return _check_status(path, os.stat(path), kind)


def open_regular(path: PathLike, kind: str) -> BinaryIO:
    """``path`` opened for binary reading, only if it is a regular file within the kind's cap.

    Opened without blocking, then checked with fstat, so a FIFO with no writer or a device never blocks the run;
    the descriptor is made blocking again for reading. Raises ReadRefused (naming the path) otherwise."""
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
             | getattr(os, "O_CLOEXEC", 0))
    fd = os.open(path, flags)
    try:
        _check_status(path, os.fstat(fd), kind)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: PathLike, kind: str) -> bytes:
    """The whole of a regular file, at most the kind's cap (a file that grows while read is refused too)."""
    cap = _limit(kind)
    with open_regular(path, kind) as f:
        data = f.read() if cap is None else f.read(cap + 1)
    if cap is not None and len(data) > cap:
        raise TooLarge(path, f"over the {size_text(cap)} limit for a {kind} file (it grew while read)")
    return data


def decode_text(data: bytes, name: PathLike) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadContent(name, f"not UTF-8 text (byte {exc.start}); the file is damaged or not what its name "
                               f"says") from None


def read_text(path: PathLike, kind: str) -> str:
    """A regular file's UTF-8 text, at most the kind's cap."""
    return decode_text(read_bytes(path, kind), path)


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_OPEN, _CLOSE = np.zeros(256, np.int8), np.zeros(256, np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_CLOSE[[ord("]"), ord("}")]] = 1


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text (strings skipped), without parsing it."""
    bare = np.frombuffer(_JSON_STRING.sub(b'""', data), dtype=np.uint8)
    deepest = depth = 0
    for start in range(0, bare.size, _CHUNK):  # in chunks: bounded memory for large files
        chunk = bare[start:start + _CHUNK]
        steps = _OPEN[chunk].astype(np.int32) - _CLOSE[chunk]
        levels = np.cumsum(steps, dtype=np.int64) + depth
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


def parse_json(data: Union[bytes, str], name: PathLike, fix: str = "") -> Any:
    """Parse JSON held in memory, refusing (BadContent, naming ``name``) text that nests deeper than MAX_JSON_DEPTH
    or does not parse; ``fix`` says what the user can do."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    tail = f"; {fix}" if fix else ""
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise BadContent(name, f"JSON nested {depth} levels deep, over the limit of {MAX_JSON_DEPTH}; the file is "
                               f"damaged or not what its name says{tail}")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadContent(name, f"damaged, not readable as JSON ({exc}){tail}") from None


def read_json(path: PathLike, kind: str, fix: str = "") -> Any:
    """The JSON value in a regular file, within the kind's size cap and MAX_JSON_DEPTH; ``fix`` is appended to the
    message of a file that does not parse."""
    return parse_json(read_bytes(path, kind), path, fix)


def open_zip(path: PathLike, kind: str) -> zipfile.ZipFile:
    """A regular file opened as a zip (its members not yet checked: see zip_members)."""
    f = open_regular(path, kind)
    try:
        return zipfile.ZipFile(f)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        f.close()
        raise BadContent(path, f"not a readable zip file ({exc}); download it again") from None


def zip_members(zf: zipfile.ZipFile, name: PathLike, kind: str) -> list[zipfile.ZipInfo]:
    """The members of ``zf`` (opened from ``name``), refused as a whole (TooLarge) when one member is over the kind's
    per-member cap or all of them together over the kind's cap, by their declared sizes, before any is read."""
    infos = zf.infolist()
    member_cap, total_cap = ZIP_MEMBER_LIMITS.get(kind), _limit(kind)
    for info in infos:
        if member_cap is not None and info.file_size > member_cap:
            raise TooLarge(name, f"member {info.filename!r} expands to {size_text(info.file_size)}, over the "
                                 f"{size_text(member_cap)} limit for one member; the zip is damaged or not the "
                                 f"expected one")
    total = sum(info.file_size for info in infos)
    if total_cap is not None and total > total_cap:
        raise TooLarge(name, f"its members expand to {size_text(total)}, over the {size_text(total_cap)} limit "
                             f"for a {kind} file; the zip is damaged or not the expected one")
    return infos


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: PathLike) -> bytes:
    """One member's bytes; a bad CRC, an unsupported compression or damaged data is BadContent naming the zip and
    the member."""
    try:
        with zf.open(info) as member:
            return member.read()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise BadContent(name, f"member {info.filename!r} does not read back ({exc}); the zip is damaged: "
                               f"download it again") from None
