"""Recognise and load AMASS sequence files (.npz): SMPL+H, SMPL-X and SMPL layouts.

    load_sequence(path_or_bytes, name=None) -> Sequence | NoMotion     (raises FormatError)
    probe_sequence(path_or_bytes, name=None) -> SequenceInfo | NoMotion (headers only, for `verify`)

Detection (docs/CONVENTIONS.md): the pose width decides the layout, 156 = SMPL+H (root, body, hands),
165 = SMPL-X (root, body, jaw, eyes, hands), 72 = SMPL; an explicit `surface_model_type` must agree with it.
The frame rate is `mocap_framerate` (SMPL+H) or `mocap_frame_rate` (SMPL-X release). `gender` may be str or
bytes. Files without `poses` but with `betas` (`shape.npz`, `*_stagei.npz`) are NoMotion, not errors.

Safety: every file is opened with `allow_pickle=False` and only the keys needed are read, so the marker
dictionaries (object arrays) in SMPL-X files are never unpickled.

Size: every array's declared size (its .npy header) is checked against the zip member's size and against
MAX_ARRAY_BYTES before anything is allocated, so a forged header or a zip bomb is refused, not read.

Dtypes: poses/trans in float32 or float64 are kept as they are (trans follows poses); float16 is widened to
float32. Integer, boolean or complex poses are refused: AMASS poses are axis-angle radians, and integers there
mean the file is not what its name says.
"""
from __future__ import annotations

import io
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator, Optional, Union

import numpy as np

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

WIDTH_TO_KIND = {156: "smplh", 165: "smplx", 72: "smpl"}
KIND_LABEL = {"smplh": "SMPL+H", "smplx": "SMPL-X", "smpl": "SMPL"}
FPS_KEYS = ("mocap_framerate", "mocap_frame_rate")
MAX_FPS = 1000.0  # no motion-capture system in AMASS records faster; anything above is a broken header
# The largest AMASS files hold ~100 MB of poses; an array declaring more than this is a broken or hostile header.
MAX_ARRAY_BYTES = 1 << 30
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
    """What `probe_sequence` learns from the headers alone: no pose data is read."""

    path: str
    kind: str
    num_frames: int
    fps: float
    gender: str

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps


# --- opening ------------------------------------------------------------------------------------------------

def _display_name(source: Source, name: Optional[str]) -> str:
    if name is not None:
        return str(name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return os.fspath(source)


def _open(source: Source, name: str) -> np.lib.npyio.NpzFile:
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = np.load(io.BytesIO(bytes(source)), allow_pickle=False)
        else:
            data = np.load(source, allow_pickle=False)
    except FileNotFoundError:
        raise FormatError(f"{name}: no such file; check the path (amass-fast verify lists what is there)") from None
    except ValueError as exc:
        if "pickle" not in str(exc):
            raise FormatError(f"{name}: not a readable .npz archive ({_short(exc)}); the file is truncated or "
                              f"corrupt: {_REEXTRACT}") from None
        # numpy's last guess for a file that is neither a zip nor an .npy is a pickle, which we never load.
        raise FormatError(f"{name}: not an .npz archive (no zip signature; perhaps a web page or a pickle); the "
                          f"file is truncated, corrupt or not AMASS data: {_REEXTRACT}") from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise FormatError(f"{name}: not a readable .npz archive ({_short(exc)}); the file is truncated or "
                          f"corrupt: {_REEXTRACT}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise FormatError(f"{name}: a single .npy array, not an AMASS .npz with poses/trans/betas; "
                          f"point amass-fast at the AMASS .npz files")
    return data


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 120 else text[:117] + "..."


def _member(npz: np.lib.npyio.NpzFile, key: str) -> str:
    """The zip member that holds `key` (numpy stores it as KEY.npy)."""
    return key + ".npy" if key + ".npy" in npz.zip.NameToInfo else key


def _check_size(npz: np.lib.npyio.NpzFile, key: str, name: str) -> Optional[tuple[tuple[int, ...], np.dtype]]:
    """Refuse, before numpy allocates it, an array whose header declares more than the member holds (a truncated
    or forged file) or more than MAX_ARRAY_BYTES (a zip bomb). Returns the header it read (shape, dtype), or None
    for a member that is not an array (_read refuses it)."""
    member = npz.zip.NameToInfo.get(_member(npz, key))
    if member is None or not member.filename.endswith(".npy"):
        return None
    shape, dtype = _header(npz, key, name)
    if dtype.hasobject:
        return shape, dtype  # never read: _read refuses object arrays
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > MAX_ARRAY_BYTES:
        raise FormatError(f"{name}: {key!r} declares {declared / 1e9:.3g} GB of data (shape {shape}), more than "
                          f"the {MAX_ARRAY_BYTES / 1e9:.3g} GB limit for one array; refusing to read it (a broken or "
                          f"hostile file): {_REEXTRACT}")
    if declared > member.file_size:
        raise FormatError(f"{name}: {key!r} declares {declared} bytes (shape {shape}) but its zip member holds only "
                          f"{member.file_size}; the file is truncated or forged: {_REEXTRACT}")
    return shape, dtype


def _read(npz: np.lib.npyio.NpzFile, key: str, name: str) -> np.ndarray:
    _check_size(npz, key, name)
    try:
        value = npz[key]
    except ValueError as exc:
        if "pickle" in str(exc):
            raise FormatError(f"{name}: key {key!r} is an object array, which would need unpickling; refusing "
                              f"(files from AMASS store it as numbers): {_REEXTRACT}") from None
        raise FormatError(f"{name}: key {key!r} is unreadable ({_short(exc)}): {_REEXTRACT}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, RuntimeError) as exc:
        raise FormatError(f"{name}: key {key!r} is unreadable ({_short(exc)}); the file is truncated or "
                          f"corrupt: {_REEXTRACT}") from None
    if not isinstance(value, np.ndarray):  # numpy hands back raw bytes for a member that is not an .npy array
        raise FormatError(f"{name}: key {key!r} is not a numpy array (no .npy header); the file is corrupt or not "
                          f"AMASS data: {_REEXTRACT}")
    return value


def _header(npz: np.lib.npyio.NpzFile, key: str, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of one member from its .npy header, without reading its data."""
    try:
        with npz.zip.open(_member(npz, key)) as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
        return tuple(shape), np.dtype(dtype)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise FormatError(f"{name}: the header of {key!r} is unreadable ({_short(exc)}): {_REEXTRACT}") from None


# --- the pieces of a sequence ---------------------------------------------------------------------------------

def _text(value: np.ndarray) -> str:
    item = value.item() if value.ndim == 0 else (value.ravel()[0] if value.size else "")
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def _gender(npz: np.lib.npyio.NpzFile, name: str) -> str:
    if "gender" not in npz.files:
        return "neutral"
    value = _read(npz, "gender", name)
    if value.dtype.kind not in "SU":
        return "neutral"
    text = _text(value).strip().lower()
    return {"m": "male", "f": "female", "n": "neutral"}.get(text, text if text in ("male", "female") else "neutral")


def _fps(npz: np.lib.npyio.NpzFile, name: str) -> float:
    key = next((k for k in FPS_KEYS if k in npz.files), None)
    if key is None:
        raise FormatError(f"{name}: no frame rate (AMASS stores it as 'mocap_framerate' in SMPL+H files and "
                          f"'mocap_frame_rate' in SMPL-X files); this is not an AMASS motion file or it was "
                          f"written by another tool: re-export it with a frame rate")
    value = _read(npz, key, name)
    if value.size != 1 or value.dtype.kind not in "iuf":
        raise FormatError(f"{name}: {key} is not a number (dtype {value.dtype}, shape {value.shape}): {_REEXTRACT}")
    fps = float(value.ravel()[0])
    if not np.isfinite(fps) or fps <= 0.0 or fps > MAX_FPS:
        raise FormatError(f"{name}: frame rate {key}={fps!r} is not in (0, {MAX_FPS:g}] frames per second; the "
                          f"header is broken: {_REEXTRACT}")
    return fps


def _kind(npz: np.lib.npyio.NpzFile, width: int, name: str) -> str:
    kind = WIDTH_TO_KIND.get(width)
    if kind is None:
        raise FormatError(f"{name}: poses has {width} values per frame; AMASS files have 156 (SMPL+H), "
                          f"165 (SMPL-X) or 72 (SMPL): this layout is not supported")
    if "surface_model_type" in npz.files:
        declared = _text(_read(npz, "surface_model_type", name)).strip().lower()
        if declared in WIDTH_TO_KIND.values() and declared != kind:
            raise FormatError(f"{name}: surface_model_type says {declared!r} but poses has {width} values per "
                              f"frame ({KIND_LABEL[kind]}); the file is inconsistent: {_REEXTRACT}")
    return kind


def _no_motion(npz: np.lib.npyio.NpzFile, name: str) -> Optional[NoMotion]:
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


def _require(npz: np.lib.npyio.NpzFile, key: str, name: str) -> None:
    if key not in npz.files:
        raise FormatError(f"{name}: poses but no {key!r} (keys: {', '.join(sorted(npz.files))}); an AMASS motion "
                          f"file always has it: {_REEXTRACT}")


# --- public API -----------------------------------------------------------------------------------------------

def load_sequence(path_or_bytes: Source, name: Optional[str] = None) -> Union[Sequence, NoMotion]:
    """Load one AMASS .npz (a path, or the bytes of an archive member with `name` for messages).

    Returns a Sequence, or NoMotion for files that hold no poses. Raises FormatError (naming the file, the
    problem and what to do) for unreadable files, unknown layouts, zero frames, NaN/inf values, wrong shapes or
    dtypes and missing or absurd frame rates. Missing betas mean the mean shape (zeros); missing gender "neutral"."""
    name = _display_name(path_or_bytes, name)
    with _open(path_or_bytes, name) as npz:
        skipped = _no_motion(npz, name)
        if skipped is not None:
            return skipped
        _require(npz, "trans", name)
        poses = _read(npz, "poses", name)
        width = _check_poses_header(poses.shape, poses.dtype, name)
        kind = _kind(npz, width, name)
        fps = _fps(npz, name)
        trans = _read(npz, "trans", name)
        _check_trans_header(trans.shape, trans.dtype, poses.shape[0], name)
        gender = _gender(npz, name)
        betas = _read(npz, "betas", name) if "betas" in npz.files else np.zeros(16)

    if poses.dtype == np.float16:
        poses = poses.astype(np.float32)
    trans = trans.astype(poses.dtype, copy=False)
    for key, array in (("poses", poses), ("trans", trans)):
        bad = ~np.isfinite(array)
        if bad.any():
            frame = int(np.argwhere(bad)[0][0])
            raise FormatError(f"{name}: {key} holds {int(bad.sum())} NaN/infinite values (first at frame {frame}); "
                              f"the motion is corrupt: {_REEXTRACT}, or remove the file")
    if betas.dtype.kind not in "fiu" or betas.size == 0:
        raise FormatError(f"{name}: betas has dtype {betas.dtype} and shape {betas.shape}, expected numbers: "
                          f"{_REEXTRACT}")
    betas = betas.astype(np.float64)
    if betas.ndim > 1:  # some tools store betas per frame [F, B] or as [1, B]: the body shape is the first row
        betas = betas.reshape(-1, betas.shape[-1])[0]
    betas = betas.reshape(-1)
    if not np.isfinite(betas).all():
        raise FormatError(f"{name}: betas holds NaN/infinite values: {_REEXTRACT}")
    return Sequence(poses=poses, trans=trans, betas=betas, gender=gender, fps=fps, kind=kind, path=name)


def probe_sequence(path_or_bytes: Source, name: Optional[str] = None) -> Union[SequenceInfo, NoMotion]:
    """Kind, frame count, rate and gender from the .npy headers and the small keys only (fast; for `verify`).

    Catches everything load_sequence does except bad values inside poses/trans (NaN) and data corruption
    past the headers; use load_sequence for a full check."""
    name = _display_name(path_or_bytes, name)
    with _open(path_or_bytes, name) as npz:
        skipped = _no_motion(npz, name)
        if skipped is not None:
            return skipped
        _require(npz, "trans", name)
        # Each header read once: _check_size returns it (or None for a member that is not an array at all).
        shape, dtype = _check_size(npz, "poses", name) or _header(npz, "poses", name)
        width = _check_poses_header(shape, dtype, name)
        _check_trans_header(*(_check_size(npz, "trans", name) or _header(npz, "trans", name)), shape[0], name)
        return SequenceInfo(path=name, kind=_kind(npz, width, name), num_frames=int(shape[0]),
                            fps=_fps(npz, name), gender=_gender(npz, name))


def is_no_motion_name(path: Union[str, "os.PathLike[str]"]) -> bool:
    """True for the file names AMASS uses for files without poses (shape.npz, *_stagei.npz)."""
    base = PurePosixPath(os.fspath(path).replace("\\", "/")).name
    return base in NO_MOTION_NAMES or base.endswith(NO_MOTION_SUFFIXES)


def iter_npz_files(root: Union[str, "os.PathLike[str]"]) -> Iterator[Path]:
    """Every .npz under `root`, sorted by its "/"-separated path relative to root (the same order on every
    machine). Hidden folders (such as the extractor's .amass_fast) and hidden files are skipped; linked folders are
    followed, each real folder once."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder; extract AMASS there first (amass-fast extract --out {root})")
    found, seen = [], set()
    # Follow links (a dataset folder is often a link to a bigger disk), but enter each real folder once.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))  # sorted: the same folder wins everywhere
        found += [Path(dirpath, f) for f in filenames if f.endswith(".npz") and not f.startswith(".")]
    yield from sorted(found, key=lambda p: p.relative_to(root).as_posix())


def iter_motion_files(root: Union[str, "os.PathLike[str]"]) -> Iterator[Path]:
    """The .npz files under `root` that can hold motion (iter_npz_files without shape.npz and *_stagei.npz)."""
    return (p for p in iter_npz_files(root) if not is_no_motion_name(p))


def rel_path(path: Union[str, "os.PathLike[str]"], root: Union[str, "os.PathLike[str]"]) -> str:
    """`path` relative to the AMASS root, "/"-separated (the form labels and sample metadata use)."""
    return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()


def dataset_of(rel: str) -> str:
    """The dataset folder of a path relative to the AMASS root: "CMU/01/01_01_poses.npz" -> "CMU".
    A file directly at the root belongs to no dataset: "". """
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    return parts[0] if len(parts) > 1 else ""
