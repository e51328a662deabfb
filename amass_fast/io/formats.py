"""Recognise and load AMASS sequence files (.npz): SMPL+H, SMPL-X and SMPL layouts.

    load_sequence(path_or_bytes, name=None)  -> Sequence | NoMotion     (raises FormatError)
    check_sequence(path_or_bytes, name=None) -> SequenceInfo | NoMotion (raises FormatError): whether `process`
        can convert the file, by exactly the rules load_sequence applies (what `verify` reports)
    probe_sequence(path_or_bytes, name=None) -> SequenceInfo | NoMotion (the header rules only: fast, partial)

Detection (docs/CONVENTIONS.md): the pose width decides the layout, 156 = SMPL+H (root, body, hands),
165 = SMPL-X (root, body, jaw, eyes, hands), 72 = SMPL; an explicit `surface_model_type` must agree with it.
The frame rate is `mocap_framerate` (SMPL+H) or `mocap_frame_rate` (SMPL-X release). `gender` may be str or
bytes. Files without `poses` but with `betas` (`shape.npz`, `*_stagei.npz`) are NoMotion, not errors.

Safety: only the keys needed are read and object arrays are refused from their header, so the marker
dictionaries (object arrays) in SMPL-X files are never unpickled; headers are parsed by numpy's literal parser.

Reading (one pass per member): each needed member's .npy header is read and checked once, then its data is read
once, straight into the array returned (one positioned read for a stored member, as np.savez writes them), and
the member's zip CRC-32 is computed on those same bytes; the value rules below are two reductions per array.
No Python work grows with the number of frames.

Only regular files are opened (a FIFO or device named *.npz would block or never end): the tree walk
(amass_fast.io.tree) skips them and reports each, and a path that is not a regular file is refused before it is read.

Size: every array's declared size (its .npy header) is checked against the zip member's size and against
MAX_ARRAY_BYTES (SMALL_KEY_BYTES for the rate, gender and model-type keys) before anything is allocated, so a
forged header or a zip bomb is refused, not read. The frame rate must lie in [MIN_FPS, MAX_FPS] and a sequence
may last at most MAX_SECONDS, so the work a file can cause is bounded.

Values: poses, trans and betas must be finite and fit float32, the dtype clips are computed in (a finite float64
value such as 1e300 would become infinite there), and poses stay within MAX_POSE_RADIANS; the message names the
file and the key.

Dtypes: poses/trans in float32 or float64 are kept as they are (trans follows poses); float16 is widened to
float32. Integer, boolean or complex poses are refused: AMASS poses are axis-angle radians, and integers there
mean the file is not what its name says.
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
from pathlib import PurePosixPath
from typing import Callable, Iterator, Optional, Union

import numpy as np

from amass_fast.io import guarded

try:  # zlib-ng's CRC-32 (carry-less multiply) runs about 5x faster than the system zlib's; the same values
    from zlib_ng.zlib_ng import crc32 as _crc32
except ImportError:  # pragma: no cover - depends on what is installed
    _crc32 = zlib.crc32

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

WIDTH_TO_KIND = {156: "smplh", 165: "smplx", 72: "smpl"}
KIND_LABEL = {"smplh": "SMPL+H", "smplx": "SMPL-X", "smpl": "SMPL"}
FPS_KEYS = ("mocap_framerate", "mocap_frame_rate")
MIN_FPS = 1.0     # the range of frame rates a file may have (docs/CONVENTIONS.md); AMASS files record 50-250 fps,
MAX_FPS = 1000.0  # anything outside is a broken header (and 1e-9 fps would make billions of output frames)
MAX_SECONDS = 24 * 3600.0  # the longest AMASS sequences last minutes; a day of motion is a broken header
# The largest AMASS files hold ~100 MB of poses; an array declaring more than this is a broken or hostile header.
MAX_ARRAY_BYTES = 1 << 30
SMALL_KEY_BYTES = 1 << 16  # frame rate, gender, surface_model_type: a few bytes each
SMALL_KEYS = FPS_KEYS + ("gender", "surface_model_type")
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Beyond 1e4 radians float32 cannot hold an angle to 0.001 rad, and beyond ~1e19 its square overflows (NaN clips).
MAX_POSE_RADIANS = 1e4
NO_MOTION_NAMES = ("shape.npz",)
NO_MOTION_SUFFIXES = ("_stagei.npz",)

_REEXTRACT = "re-extract its archive (amass-fast extract) or download it again (amass-fast download)"


class FormatError(ValueError):
    """A file that cannot be used as an AMASS sequence; the message names the file, the problem, what to do."""


@dataclass
class Sequence:
    """One motion: poses [F, P] axis-angle (P = 156, 165 or 72), trans [F, 3] metres (Z-up), betas [B]."""

    poses: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    gender: str
    fps: float
    kind: str
    path: str

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps


@dataclass
class NoMotion:
    """A file that holds no poses (shape.npz, *_stagei.npz): skipped and counted, not an error."""

    path: str
    reason: str


@dataclass
class SequenceInfo:
    """What the header rules learn about a motion file (probe_sequence, check_sequence): no pose data is read."""

    path: str
    kind: str
    num_frames: int
    fps: float
    gender: str

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps


# --- opening and reading ------------------------------------------------------------------------------------

_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first member, or an empty zip
_NPY_MAGIC = b"\x93NUMPY"
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local header: 30 bytes, then its name and extra
_MAX_NPY_HEADER = 10_000  # numpy's own limit on the length of an .npy header
_CHUNK = 1 << 20
_POSITIONED = hasattr(os, "pread") and hasattr(os, "preadv")  # POSIX; elsewhere seek, then read


def _display_name(source: Source, name: Optional[str]) -> str:
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


class _Npz:
    """An opened .npz, read in one pass per member: its .npy header is read and checked once (the declared size
    against the member's size and the key's limit, before anything is allocated), then its data is read once,
    straight into the array that is returned, and the member's CRC-32 is computed on those same bytes.
    Stored members (np.savez, as AMASS ships its files) take one positioned read; compressed ones
    (np.savez_compressed) are read through zipfile, which checks their CRC-32."""

    def __init__(self, source: Source, name: str):
        self.name = name
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
                              f"corrupt: {_REEXTRACT}")
        if magic == _NPY_MAGIC:
            raise FormatError(f"{self.name}: a single .npy array, not an AMASS .npz with poses/trans/betas; "
                              f"point amass-fast at the AMASS .npz files")
        if not magic.startswith(_ZIP_SIGNATURES):
            raise FormatError(f"{self.name}: not an .npz archive (no zip signature; perhaps a web page or a pickle); "
                              f"the file is truncated, corrupt or not AMASS data: {_REEXTRACT}")
        try:
            return zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise FormatError(f"{self.name}: not a readable .npz archive ({_short(exc)}); the file is truncated or "
                              f"corrupt: {_REEXTRACT}") from None

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
            raise FormatError(f"{name}: no key {key!r}: {_REEXTRACT}")
        if not info.filename.endswith(".npy"):
            raise FormatError(f"{name}: key {key!r} is not a numpy array (no .npy header); the file is corrupt or "
                              f"not AMASS data: {_REEXTRACT}")
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
            raise FormatError(f"{name}: the header of {key!r} is unreadable ({_short(exc)}): {_REEXTRACT}") from None
        member = _Member(info, shape, dtype, fortran, header, data_at)
        if dtype.hasobject:
            raise FormatError(f"{name}: key {key!r} is an object array, which would need unpickling; refusing "
                              f"(files from AMASS store it as numbers): {_REEXTRACT}")
        declared, held = member.nbytes, info.file_size - len(header)
        limit = SMALL_KEY_BYTES if key in SMALL_KEYS else MAX_ARRAY_BYTES
        if declared > limit:
            raise FormatError(f"{name}: {key!r} declares {_size(declared)} of data (shape {shape}), more than "
                              f"the {_size(limit)} limit for this key; refusing to read it (a broken or "
                              f"hostile file): {_REEXTRACT}")
        if declared > held:
            raise FormatError(f"{name}: {key!r} declares {declared} bytes (shape {shape}) but its zip member holds "
                              f"only {held} after its header; the file is truncated or forged: {_REEXTRACT}")
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
                              f"corrupt: {_REEXTRACT}") from None
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
def _open(source: Source, name: str) -> Iterator[_Npz]:
    """The opened .npz (closed on leaving); FormatError naming the file for anything that is not one."""
    try:
        npz = _Npz(source, name)
    except FileNotFoundError:
        raise FormatError(f"{name}: no such file; check the path (amass-fast verify lists what is there)") from None
    except OSError as exc:
        raise FormatError(f"{name}: not a readable .npz archive ({_short(exc)}); the file is truncated or "
                          f"corrupt: {_REEXTRACT}") from None
    try:
        yield npz
    finally:
        npz.close()


# --- the pieces of a sequence ---------------------------------------------------------------------------------

def _text(value: np.ndarray) -> str:
    item = value.item() if value.ndim == 0 else (value.ravel()[0] if value.size else "")
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def _gender(npz: _Npz, name: str) -> str:
    if "gender" not in npz.files:
        return "neutral"
    value = npz.read("gender")
    if value.dtype.kind not in "SU":
        return "neutral"
    text = _text(value).strip().lower()
    return {"m": "male", "f": "female", "n": "neutral"}.get(text, text if text in ("male", "female") else "neutral")


def _fps(npz: _Npz, name: str) -> float:
    key = next((k for k in FPS_KEYS if k in npz.files), None)
    if key is None:
        raise FormatError(f"{name}: no frame rate (AMASS stores it as 'mocap_framerate' in SMPL+H files and "
                          f"'mocap_frame_rate' in SMPL-X files); this is not an AMASS motion file or it was "
                          f"written by another tool: re-export it with a frame rate")
    value = npz.read(key)
    if value.size != 1 or value.dtype.kind not in "iuf":
        raise FormatError(f"{name}: {key} is not a number (dtype {value.dtype}, shape {value.shape}): {_REEXTRACT}")
    fps = float(value.ravel()[0])
    if not MIN_FPS <= fps <= MAX_FPS:  # also refuses NaN
        raise FormatError(f"{name}: frame rate {key}={fps!r} is not between {MIN_FPS:g} and {MAX_FPS:g} frames per "
                          f"second; the header is broken: {_REEXTRACT}")
    return fps


def _kind(npz: _Npz, width: int, name: str) -> str:
    kind = WIDTH_TO_KIND.get(width)
    if kind is None:
        raise FormatError(f"{name}: poses has {width} values per frame; AMASS files have 156 (SMPL+H), "
                          f"165 (SMPL-X) or 72 (SMPL): this layout is not supported")
    if "surface_model_type" in npz.files:
        declared = _text(npz.read("surface_model_type")).strip().lower()
        if declared in WIDTH_TO_KIND.values() and declared != kind:
            raise FormatError(f"{name}: surface_model_type says {declared!r} but poses has {width} values per "
                              f"frame ({KIND_LABEL[kind]}); the file is inconsistent: {_REEXTRACT}")
    return kind


def _no_motion(npz: _Npz, name: str) -> Optional[NoMotion]:
    if "poses" in npz.files:
        return None
    base = PurePosixPath(name.replace("\\", "/")).name
    if "betas" in npz.files:
        if base.endswith(NO_MOTION_SUFFIXES):
            return NoMotion(name, "SMPL-X stage-i file: the subject's shape and markers, no motion")
        if base in NO_MOTION_NAMES:
            return NoMotion(name, "subject shape file (betas, gender), no motion")
        return NoMotion(name, "betas but no poses: a body-shape file, no motion")
    raise FormatError(f"{name}: unknown layout, no 'poses' and no 'betas' (keys: {', '.join(sorted(npz.files))}); "
                      f"this is not an AMASS file: remove it from the AMASS folder")


def _check_poses_header(shape: tuple[int, ...], dtype: np.dtype, name: str) -> int:
    if len(shape) != 2:
        raise FormatError(f"{name}: poses has shape {shape}, expected [frames, 156|165|72]: {_REEXTRACT}")
    if dtype.kind != "f":
        raise FormatError(f"{name}: poses has dtype {dtype}, expected float32/float64 axis-angle radians; "
                          f"integer poses mean this is not an AMASS motion file")
    if shape[0] == 0:
        raise FormatError(f"{name}: zero frames of motion; nothing to convert: remove the file or {_REEXTRACT}")
    return int(shape[1])


def _check_trans_header(shape: tuple[int, ...], dtype: np.dtype, frames: int, name: str) -> None:
    if shape != (frames, 3):
        raise FormatError(f"{name}: trans has shape {shape}, expected ({frames}, 3) to match poses: {_REEXTRACT}")
    if dtype.kind not in "fiu":
        raise FormatError(f"{name}: trans has dtype {dtype}, expected float metres: {_REEXTRACT}")


def _require(npz: _Npz, key: str, name: str) -> None:
    if key not in npz.files:
        raise FormatError(f"{name}: poses but no {key!r} (keys: {', '.join(sorted(npz.files))}); an AMASS motion "
                          f"file always has it: {_REEXTRACT}")


def _check_duration(frames: int, fps: float, name: str) -> None:
    if frames / fps > MAX_SECONDS:
        raise FormatError(f"{name}: {frames:,} frames at {fps:g} fps last {frames / fps / 3600:,.1f} hours, more "
                          f"than the {MAX_SECONDS / 3600:g} hours one sequence may last; the header is broken: "
                          f"{_REEXTRACT}")


def _check_values(array: np.ndarray, key: str, name: str, per_frame: bool = True) -> None:
    """Finite, inside float32's range (the dtype clips are computed in), and poses within MAX_POSE_RADIANS.

    One test covers all three: the smallest and largest value lie within +-limit (NaN fails every comparison,
    an infinity or a float32 overflow lies beyond the limit). Two reductions, no temporary array; only a file
    that fails is looked at again, to say what is wrong and where."""
    limit, why = ((MAX_POSE_RADIANS, "axis-angle radians; AMASS poses stay within a few pi") if key == "poses"
                  else (FLOAT32_MAX, "too large for float32, the precision clips are computed in"))
    if array.size == 0 or array.dtype.kind != "f":  # integers are finite and fit float32
        return
    if -limit <= float(array.min()) and float(array.max()) <= limit:
        return
    bad = ~np.isfinite(array)
    if bad.any():
        where = f" (first at frame {int(np.argwhere(bad)[0][0])})" if per_frame and array.ndim else ""
        raise FormatError(f"{name}: {key} holds {int(bad.sum())} NaN/infinite values{where}; the motion is "
                          f"corrupt: {_REEXTRACT}, or remove the file")
    huge = np.abs(array) > limit
    first = tuple(int(i) for i in np.argwhere(huge)[0])
    where = f" (first at frame {first[0]})" if per_frame and array.ndim else ""
    raise FormatError(f"{name}: {key} holds {int(huge.sum())} values beyond +-{limit:.3g} ({why}), e.g. "
                      f"{float(array[first]):.3g}{where}; the file is corrupt: {_REEXTRACT}, or remove the file")


def _layout(npz: _Npz, name: str) -> Union[SequenceInfo, NoMotion]:
    """The header rules, shared by load_sequence and probe_sequence: keys present, poses/trans shapes and dtypes
    (sizes checked before any read), the layout (pose width, surface_model_type), the frame rate, the duration,
    the gender. No pose data is read."""
    skipped = _no_motion(npz, name)
    if skipped is not None:
        return skipped
    _require(npz, "trans", name)
    poses = npz.member("poses")  # each header read and size-checked once; read() reuses it
    width = _check_poses_header(poses.shape, poses.dtype, name)
    frames = int(poses.shape[0])
    trans = npz.member("trans")
    _check_trans_header(trans.shape, trans.dtype, frames, name)
    kind = _kind(npz, width, name)
    fps = _fps(npz, name)
    _check_duration(frames, fps, name)
    return SequenceInfo(path=name, kind=kind, num_frames=frames, fps=fps, gender=_gender(npz, name))


# --- public API -----------------------------------------------------------------------------------------------

def load_sequence(path_or_bytes: Source, name: Optional[str] = None) -> Union[Sequence, NoMotion]:
    """Load one AMASS .npz (a path, or the bytes of an archive member with `name` for messages).

    Returns a Sequence, or NoMotion for files that hold no poses. Raises FormatError (naming the file, the
    problem and what to do) for paths that are not regular files, unreadable files, unknown layouts, zero frames,
    NaN/inf values or values beyond float32, wrong shapes or dtypes, frame rates missing or outside
    [MIN_FPS, MAX_FPS], and sequences longer than MAX_SECONDS. Missing betas mean the mean shape (zeros); missing
    gender "neutral". These are the rules `verify` reports (check_sequence)."""
    name = _display_name(path_or_bytes, name)
    with _open(path_or_bytes, name) as npz:
        layout = _layout(npz, name)
        if isinstance(layout, NoMotion):
            return layout
        poses = npz.read("poses")  # arrays of exactly the shapes and dtypes _layout checked
        trans = npz.read("trans")
        betas = npz.read("betas") if "betas" in npz.files else np.zeros(16)

    if poses.dtype == np.float16:
        poses = poses.astype(np.float32)
    _check_values(poses, "poses", name)
    _check_values(trans, "trans", name)
    trans = trans.astype(poses.dtype, copy=False)
    if betas.dtype.kind not in "fiu" or betas.size == 0:
        raise FormatError(f"{name}: betas has dtype {betas.dtype} and shape {betas.shape}, expected numbers: "
                          f"{_REEXTRACT}")
    betas = betas.astype(np.float64)
    if betas.ndim > 1:  # some tools store betas per frame [F, B] or as [1, B]: the body shape is the first row
        betas = betas.reshape(-1, betas.shape[-1])[0]
    betas = betas.reshape(-1)
    _check_values(betas, "betas", name, per_frame=False)
    return Sequence(poses=poses, trans=trans, betas=betas, gender=layout.gender, fps=layout.fps, kind=layout.kind,
                    path=name)


def check_sequence(path_or_bytes: Source, name: Optional[str] = None) -> Union[SequenceInfo, NoMotion]:
    """Whether `process` can convert this file, and why not: the one validator of a file.

    Applies every rule load_sequence applies (it loads the file; nothing is kept) and returns what it learnt,
    or NoMotion for a file without poses. Raises FormatError naming the file, the problem and what to do.
    `verify` reports these verdicts, so it passes exactly the files `process` accepts."""
    result = load_sequence(path_or_bytes, name)
    if isinstance(result, NoMotion):
        return result
    return SequenceInfo(path=result.path, kind=result.kind, num_frames=result.num_frames, fps=result.fps,
                        gender=result.gender)


def probe_sequence(path_or_bytes: Source, name: Optional[str] = None) -> Union[SequenceInfo, NoMotion]:
    """Kind, frame count, rate and gender from the .npy headers and the small keys only (fast).

    Applies the header rules of load_sequence (the same code) but not the value rules (NaN, values beyond
    float32, betas) nor data corruption past the headers: a file it passes may still be refused by
    check_sequence / load_sequence."""
    name = _display_name(path_or_bytes, name)
    with _open(path_or_bytes, name) as npz:
        return _layout(npz, name)
