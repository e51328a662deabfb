"""Is this file a complete bzip2 archive? Cheap checks (magic, length, end-of-stream marker) and a deep one (test
decompression), plus the one way archives are opened: only regular files, never a pipe or device that would block."""
from __future__ import annotations

import bz2
import os
import stat
from pathlib import Path
from typing import BinaryIO, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]
BZ2_MAGIC = b"BZh"
_EOS_MAGIC = 0x177245385090  # bzip2 end-of-stream marker (sqrt(pi)), 48 bits, not byte-aligned
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a pipe (fifo)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class ArchiveCheckError(ValueError):
    """A file that is not a complete bzip2 archive; the message names the file and the problem."""


class NotRegularFileError(OSError):
    """A path that is a pipe, device, socket or folder where a regular file is expected; the message names it."""


def file_kind(mode: int) -> str:
    """What ``st_mode`` describes, in words ("a regular file", "a pipe (fifo)", ...)."""
    return next((kind for test, kind in _KINDS if test(mode)), "a regular file" if stat.S_ISREG(mode) else
                "not a regular file")


def open_regular(path: PathLike) -> BinaryIO:
    """Open ``path`` for reading in binary mode only if it is a regular file (a symlink to one is fine).

    Opened without blocking, then checked with fstat, so a fifo with no writer or a device never blocks the run;
    raises NotRegularFileError (naming the path and what it is) for anything but a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(f"{path}: is {file_kind(mode)}, not a regular file; pass the archive file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def looks_like_html(head: bytes, content_type: str = "") -> bool:
    """Whether the first bytes of a body (and its Content-Type) are a web page, e.g. a login page."""
    text = head.lstrip().lower()
    return "html" in content_type.lower() or text.startswith((b"<!doctype", b"<html", b"<head", b"<?xml"))


def has_bz2_end(path: PathLike) -> bool:
    """Whether ``path`` ends with a bzip2 end-of-stream marker: a cheap test that the file is not cut short.

    The stream ends with the 48-bit marker, a 32-bit CRC and 0-7 padding bits, so the marker sits in the last
    11 bytes at one of 8 bit offsets.
    """
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size < 14:  # the smallest bzip2 file (no data) has 14 bytes
            return False
        f.seek(size - 11)
        tail = int.from_bytes(f.read(11), "big")
    return any((tail >> (32 + pad)) & ((1 << 48) - 1) == _EOS_MAGIC for pad in range(8))


def verify_archive(path: PathLike, expected_size: Optional[int] = None, deep: bool = False) -> None:
    """Raise ArchiveCheckError unless ``path`` is a complete bzip2 file: a regular file, magic ``BZh``,
    ``expected_size`` bytes (when given), an end-of-stream marker, and with ``deep`` a full test decompression."""
    path = Path(path)
    try:
        with open_regular(path) as f:
            head = f.read(512)
            size = os.fstat(f.fileno()).st_size
    except NotRegularFileError as err:
        raise ArchiveCheckError(str(err)) from None
    if not head.startswith(BZ2_MAGIC):
        what = "a web page (HTML), not an archive" if looks_like_html(head) else "not a bzip2 archive"
        raise ArchiveCheckError(f"{path} is {what}")
    if expected_size is not None and size != expected_size:
        raise ArchiveCheckError(f"{path} has {size} bytes, the server announced {expected_size}")
    if not has_bz2_end(path):
        raise ArchiveCheckError(f"{path} is cut short (no bzip2 end-of-stream marker)")
    if deep:
        try:
            with open_regular(path) as raw, bz2.open(raw, "rb") as stream:  # multi-stream; checks every block's CRC
                while stream.read(1 << 22):
                    pass
        except (OSError, EOFError, ValueError) as err:
            raise ArchiveCheckError(f"{path} fails test decompression: {err}") from None
