"""The bounded .npz reader: an AMASS motion file (or an archive member's bytes) read in one pass per member.

    with open_npz(path_or_bytes, name, small_keys) as npz:
        npz.files; npz.member(key) (its checked .npy header); npz.read(key) (its array)

Only regular files are opened, through amass_fast.io.guarded (a FIFO or device named *.npz would block or never
end). Each needed member's .npy header is read and checked once: object arrays are refused from the header (so
nothing is ever unpickled), and the declared size is checked against the zip member's size and against
MAX_ARRAY_BYTES (SMALL_KEY_BYTES for ``small_keys``) before anything is allocated, so a forged header or a zip bomb
is refused, not read. Then its data is read once, straight into the array returned (one positioned read for a
stored member, as np.savez writes them), and the member's zip CRC-32 is computed on those same bytes. No Python
work grows with the number of frames. Every failure is a FormatError naming the file and what to do.

What the arrays must hold to be a motion (keys, shapes, rates, values) is amass_fast.io.formats'.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Callable, Collection, Iterator, Optional, Union

import numpy as np

from amass_fast.io import guarded

try:  # zlib-ng's CRC-32 (carry-less multiply) runs about 5x faster than the system zlib's; the same values
    from zlib_ng.zlib_ng import crc32 as _crc32
except ImportError:  # pragma: no cover - depends on what is installed
    _crc32 = zlib.crc32

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

# The largest AMASS files hold ~100 MB of poses; an array declaring more than this is a broken or hostile header.
MAX_ARRAY_BYTES = 1 << 30
SMALL_KEY_BYTES = 1 << 16  # frame rate, gender, surface_model_type: a few bytes each

REEXTRACT = "re-extract its archive (amass-fast extract) or download it again (amass-fast download)"


class FormatError(ValueError):
    """A file that cannot be used as an AMASS sequence; the message names the file, the problem, what to do."""


_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first member, or an empty zip
_NPY_MAGIC = b"\x93NUMPY"
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local header: 30 bytes, then its name and extra
_MAX_NPY_HEADER = 10_000  # numpy's own limit on the length of an .npy header
_CHUNK = 1 << 20
_POSITIONED = hasattr(os, "pread") and hasattr(os, "preadv")  # POSIX; elsewhere seek, then read


def display_name(source: Source, name: Optional[str]) -> str:
    """``name``, or the path of ``source`` ("<bytes>" for bytes): how messages name the file."""
    if name is not None:
        return str(name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return os.fspath(source)


def not_regular_problem(path: Union[str, "os.PathLike[str]"], name: Optional[str] = None) -> Optional[str]:
    """Why `path` (links followed) cannot be read as a data file, or None for a regular file: the message names the
    file and says what to do. Used by the tree walk and by the loaders, so both refuse the same things (the checks
    are amass_fast.io.guarded's, for the "motion" kind)."""
    name = os.fspath(path) if name is None else name
    try:
        guarded.check_regular(path, "motion")
    except FileNotFoundError:
        return f"{name}: a link to nothing (or the file vanished); fix or remove the link"
    except guarded.ReadRefused as exc:
        return _refused_problem(exc, name)
    except OSError as exc:
        return f"{name}: cannot be read ({exc.strerror or exc}); check its permissions"
    return None


def _refused_problem(exc: guarded.ReadRefused, name: str) -> str:
    if isinstance(exc, guarded.NotRegularFile):
        return (f"{name}: {exc.problem.split(';')[0]}; AMASS files are plain .npz files: remove it or rename it so "
                f"it does not end in .npz")
    return f"{name}: {exc.problem}"


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 120 else text[:117] + "..."


def _size(n: int) -> str:
    return f"{n / 1e9:.3g} GB" if n >= 1e8 else f"{n:,} bytes"


@dataclass(frozen=True)
class _Member:
    """One array of an .npz as its .npy header declares it (checked), and where its data starts."""
    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    header: bytes            # the member's bytes before the data (magic, version, header); part of its CRC-32
    data_at: Optional[int]   # where the data starts in the file (a stored member); None: compressed, read by zipfile

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class Npz:
    """An opened .npz, read in one pass per member: its .npy header is read and checked once (the declared size
    against the member's size and the key's limit, before anything is allocated), then its data is read once,
    straight into the array that is returned, and the member's CRC-32 is computed on those same bytes.
    Stored members (np.savez, as AMASS ships its files) take one positioned read; compressed ones
    (np.savez_compressed) are read through zipfile, which checks their CRC-32."""

    def __init__(self, source: Source, name: str, small_keys: Collection[str] = ()):
        self.name = name
        self.small_keys = frozenset(small_keys)
        self._file = None
        self._buffer: Optional[memoryview] = None
        self._members: dict[str, _Member] = {}
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = source if isinstance(source, bytes) else bytes(source)
            self._buffer = memoryview(data)
            self._size = len(data)
            stream = io.BytesIO(data)
        else:
            # The guarded reader: refused unless regular (a FIFO would block forever, a device never end).
            try:
                self._file = stream = guarded.open_regular(source, "motion")
            except guarded.ReadRefused as exc:
                raise FormatError(_refused_problem(exc, name)) from None
            self._size = os.fstat(stream.fileno()).st_size
        try:
            self._zip = self._open_zip(stream)
        except BaseException:
            self.close()
            raise
        self.files = [n[:-4] if n.endswith(".npy") else n for n in self._zip.namelist()]

    def _open_zip(self, stream) -> zipfile.ZipFile:
        magic = self._pread(0, len(_NPY_MAGIC))
        if not magic:
            raise FormatError(f"{self.name}: not a readable .npz archive (an empty file); the file is truncated or "
                              f"corrupt: {REEXTRACT}")
        if magic == _NPY_MAGIC:
            raise FormatError(f"{self.name}: a single .npy array, not an AMASS .npz with poses/trans/betas; "
                              f"point amass-fast at the AMASS .npz files")
        if not magic.startswith(_ZIP_SIGNATURES):
            raise FormatError(f"{self.name}: not an .npz archive (no zip signature; perhaps a web page or a pickle); "
                              f"the file is truncated, corrupt or not AMASS data: {REEXTRACT}")
        try:
            return zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise FormatError(f"{self.name}: not a readable .npz archive ({_short(exc)}); the file is truncated or "
                              f"corrupt: {REEXTRACT}") from None

    def close(self) -> None:
        if getattr(self, "_zip", None) is not None:
            self._zip.close()
        if self._file is not None:
            self._file.close()

    # -- raw bytes --

    def _pread(self, offset: int, size: int) -> bytes:
        if self._buffer is not None:
            return bytes(self._buffer[offset:offset + size])
        if _POSITIONED:
            return os.pread(self._file.fileno(), size, offset)
        self._file.seek(offset)
        return self._file.read(size)

    def _read_into(self, view: memoryview, offset: int) -> int:
        """Fill `view` from `offset`; returns the bytes read (fewer only at the end of the file)."""
        if self._buffer is not None:
            n = max(0, min(len(view), self._size - offset))
            view[:n] = self._buffer[offset:offset + n]
            return n
        got = 0
        while got < len(view):
            if _POSITIONED:
                n = os.preadv(self._file.fileno(), [view[got:]], offset + got)
            else:
                self._file.seek(offset + got)
                n = self._file.readinto(view[got:]) or 0
            if n <= 0:
                break
            got += n
        return got

    # -- members --

    def member(self, key: str) -> _Member:
        """The checked .npy header of `key` (read once): refuses object arrays, non-arrays and sizes beyond the
        member or the key's limit."""
        found = self._members.get(key)
        if found is None:
            found = self._members[key] = self._member(key)
        return found

    def _member(self, key: str) -> _Member:
        name, lookup = self.name, self._zip.NameToInfo
        info = lookup.get(key + ".npy") or lookup.get(key)
        if info is None:
            raise FormatError(f"{name}: no key {key!r}: {REEXTRACT}")
        if not info.filename.endswith(".npy"):
            raise FormatError(f"{name}: key {key!r} is not a numpy array (no .npy header); the file is corrupt or "
                              f"not AMASS data: {REEXTRACT}")
        try:
            if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 1:
                data_at = self._data_offset(info)
                cursor = [data_at]

                def read(n: int) -> bytes:
                    n = max(0, min(n, data_at + info.file_size - cursor[0]))
                    chunk = self._pread(cursor[0], n)
                    cursor[0] += len(chunk)
                    return chunk
                header = _npy_header_bytes(read)
            else:
                data_at = None
                with self._zip.open(info) as stream:
                    header = _npy_header_bytes(stream.read)
            shape, fortran, dtype = _parse_npy_header(header)
        except FormatError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, RuntimeError,
                NotImplementedError) as exc:
            raise FormatError(f"{name}: the header of {key!r} is unreadable ({_short(exc)}): {REEXTRACT}") from None
        member = _Member(info, shape, dtype, fortran, header, data_at)
        if dtype.hasobject:
            raise FormatError(f"{name}: key {key!r} is an object array, which would need unpickling; refusing "
                              f"(files from AMASS store it as numbers): {REEXTRACT}")
        declared, held = member.nbytes, info.file_size - len(header)
        limit = SMALL_KEY_BYTES if key in self.small_keys else MAX_ARRAY_BYTES
        if declared > limit:
            raise FormatError(f"{name}: {key!r} declares {_size(declared)} of data (shape {shape}), more than "
                              f"the {_size(limit)} limit for this key; refusing to read it (a broken or "
                              f"hostile file): {REEXTRACT}")
        if declared > held:
            raise FormatError(f"{name}: {key!r} declares {declared} bytes (shape {shape}) but its zip member holds "
                              f"only {held} after its header; the file is truncated or forged: {REEXTRACT}")
        return member

    def _data_offset(self, info: zipfile.ZipInfo) -> int:
        """Where a stored member's bytes start: after its local header, name and extra field."""
        local = self._pread(info.header_offset, _LOCAL_HEADER.size)
        if len(local) < _LOCAL_HEADER.size or local[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"bad local header of {info.filename!r}")
        fields = _LOCAL_HEADER.unpack(local)
        start = info.header_offset + _LOCAL_HEADER.size + fields[10] + fields[11]
        if info.compress_size != info.file_size:
            raise zipfile.BadZipFile(f"stored member {info.filename!r} lists two different sizes")
        if start + info.file_size > self._size:
            raise EOFError(f"member {info.filename!r} runs past the end of the file")
        return start

    def read(self, key: str) -> np.ndarray:
        """The array of `key`: its data read once into the returned array, the member's CRC-32 checked."""
        member, name = self.member(key), self.name
        array = np.empty(member.shape[::-1] if member.fortran else member.shape, member.dtype)
        raw = memoryview(array.reshape(-1).view(np.uint8)) if array.size else memoryview(b"")
        try:
            if member.data_at is not None:
                self._read_stored(member, raw)
            else:
                self._read_compressed(member, raw)
        except FormatError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError) as exc:
            raise FormatError(f"{name}: key {key!r} is unreadable ({_short(exc)}); the file is truncated or "
                              f"corrupt: {REEXTRACT}") from None
        return array.T if member.fortran else array

    def _read_stored(self, member: _Member, raw: memoryview) -> None:
        start = member.data_at + len(member.header)
        got = self._read_into(raw, start)
        if got < len(raw):
            raise EOFError(f"expected {len(raw)} bytes of data, got {got}")
        crc = _crc32(raw, _crc32(member.header))  # the GIL is released here: other threads go on
        at, end = start + len(raw), member.data_at + member.info.file_size
        while at < end:  # bytes after the array (np.save writes none) still count in the CRC-32
            chunk = self._pread(at, min(_CHUNK, end - at))
            if not chunk:
                raise EOFError(f"member {member.info.filename!r} ends early")
            crc, at = _crc32(chunk, crc), at + len(chunk)
        if crc != member.info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {member.info.filename!r}")

    def _read_compressed(self, member: _Member, raw: memoryview) -> None:
        with self._zip.open(member.info) as stream:
            stream.read(len(member.header))
            got = 0
            while got < len(raw):
                chunk = stream.read(min(_CHUNK * 16, len(raw) - got))
                if not chunk:
                    raise EOFError(f"expected {len(raw)} bytes of data, got {got}")
                raw[got:got + len(chunk)] = chunk
                got += len(chunk)
            while stream.read(_CHUNK):  # to the end: zipfile checks the CRC-32 there
                pass


def _npy_header_bytes(read: Callable[[int], bytes]) -> bytes:
    """The bytes of an .npy header (magic, version, length, text), read from the start of a member."""
    start = read(len(_NPY_MAGIC) + 2)
    if len(start) < len(_NPY_MAGIC) + 2 or not start.startswith(_NPY_MAGIC):
        raise ValueError("no .npy magic string at the start of the member")
    width = 2 if start[len(_NPY_MAGIC)] == 1 else 4
    length_bytes = read(width)
    if len(length_bytes) < width:
        raise EOFError("the header ends early")
    length = int.from_bytes(length_bytes, "little")
    if length > _MAX_NPY_HEADER:
        raise ValueError(f"an .npy header of {length:,} bytes (at most {_MAX_NPY_HEADER:,})")
    text = read(length)
    if len(text) < length:
        raise EOFError("the header ends early")
    return start + length_bytes + text


def _parse_npy_header(header: bytes) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) of an .npy header, by numpy's own (literal, never pickled) parser."""
    stream = io.BytesIO(header)
    version = np.lib.format.read_magic(stream)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(stream)
    return tuple(int(n) for n in shape), bool(fortran), np.dtype(dtype)


@contextlib.contextmanager
def open_npz(source: Source, name: str, small_keys: Collection[str] = ()) -> Iterator[Npz]:
    """The opened .npz (closed on leaving); FormatError naming the file for anything that is not one. Arrays of
    ``small_keys`` may declare SMALL_KEY_BYTES, the others MAX_ARRAY_BYTES."""
    try:
        npz = Npz(source, name, small_keys)
    except FileNotFoundError:
        raise FormatError(f"{name}: no such file; check the path (amass-fast verify lists what is there)") from None
    except OSError as exc:
        raise FormatError(f"{name}: not a readable .npz archive ({_short(exc)}); the file is truncated or "
                          f"corrupt: {REEXTRACT}") from None
    try:
        yield npz
    finally:
        npz.close()
