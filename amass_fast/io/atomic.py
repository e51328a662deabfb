"""Temporary names for files written atomically (write the temporary, then os.replace onto the final name).

A temporary name is short and of fixed length whatever the final name is (a 255-byte final name must not give a
temporary name the file system refuses), sits in the final name's folder (so os.replace is atomic), is hidden, and
says which final name it belongs to, so that what a killed run left behind can be found and removed:

    .amf-<8 hex of the final name>-<8 hex of the writer>.tmp
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]
PREFIX, SUFFIX = ".amf-", ".tmp"
GLOB = f"{PREFIX}*{SUFFIX}"
_counter = itertools.count()


def _digest(text: str, size: int = 4) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=size).hexdigest()


def temporary_name(final: PathLike) -> str:
    """A fresh temporary path beside ``final``, unique to this process, thread and call."""
    final = os.fspath(final)
    writer = _digest(f"{os.getpid()}-{threading.get_ident()}-{next(_counter)}")
    return os.path.join(os.path.dirname(final), f"{PREFIX}{_digest(os.path.basename(final))}-{writer}{SUFFIX}")


@contextlib.contextmanager
def replacing(final: PathLike) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``final`` to write; when the block ends without an error it replaces
    ``final`` (os.replace), otherwise it is deleted and the error goes on."""
    tmp = Path(temporary_name(final))
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(final: PathLike, data: bytes) -> None:
    """``data`` under ``final``, atomically (replacing)."""
    with replacing(final) as tmp:
        tmp.write_bytes(data)


def write_json(final: PathLike, obj: Any) -> None:
    """``obj`` as indented JSON with sorted keys (equal content, equal bytes) and a final newline, atomically."""
    write_bytes(final, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def write_json_lines(final: PathLike, records: Iterable[Any]) -> None:
    """One JSON value per line (sorted keys), atomically."""
    write_bytes(final, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode("utf-8"))


def leftovers(final: PathLike) -> list[Path]:
    """Temporaries of ``final`` that a killed writer left behind."""
    final = Path(final)
    return sorted(final.parent.glob(f"{PREFIX}{_digest(final.name)}-*{SUFFIX}"))


def remove_leftovers(final: PathLike) -> None:
    for path in leftovers(final):
        path.unlink(missing_ok=True)


def remove_all(folder: PathLike) -> None:
    """Delete every temporary left half-written in ``folder`` (a folder only this tool writes)."""
    for path in Path(folder).glob(GLOB):
        path.unlink(missing_ok=True)
