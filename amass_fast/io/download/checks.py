"""Is this file a complete bzip2 archive? Cheap checks (magic, length, end-of-stream marker) and a deep one (test
decompression); archives are opened through amass_fast.io.guarded (regular files only, never a blocking open)."""
from __future__ import annotations

import bz2
import os
from pathlib import Path
from typing import BinaryIO, Optional, Union

from amass_fast.io import guarded

PathLike = Union[str, "os.PathLike[str]"]
BZ2_MAGIC = b"BZh"
_EOS_MAGIC = 0x177245385090  # bzip2 end-of-stream marker (sqrt(pi)), 48 bits, not byte-aligned


class ArchiveCheckError(ValueError):
    """A file that is not a complete bzip2 archive; the message names the file and the problem."""


NotRegularFileError = guarded.NotRegularFile  # a pipe, device, socket or folder where an archive is expected
file_kind = guarded.file_kind


def open_regular(path: PathLike) -> BinaryIO:
    """Open an archive for reading through the guarded reader (amass_fast.io.guarded.open_regular): only a regular
    file, opened without blocking, so a fifo with no writer or a device never blocks the run."""
    return guarded.open_regular(path, "archive")


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
