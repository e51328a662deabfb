"""Recognise and load AMASS sequence files (.npz): SMPL+H, SMPL-X and SMPL layouts.

    load_sequence(path_or_bytes, name=None)  -> Sequence | NoMotion     (raises FormatError)
    check_sequence(path_or_bytes, name=None) -> SequenceInfo | NoMotion (raises FormatError): whether `process`
        can convert the file, by exactly the rules load_sequence applies (what `verify` reports)
    probe_sequence(path_or_bytes, name=None) -> SequenceInfo | NoMotion (the header rules only: fast, partial)

Detection (docs/CONVENTIONS.md): the pose width decides the layout, 156 = SMPL+H (root, body, hands),
165 = SMPL-X (root, body, jaw, eyes, hands), 72 = SMPL; an explicit `surface_model_type` must agree with it.
The frame rate is `mocap_framerate` (SMPL+H) or `mocap_frame_rate` (SMPL-X release). `gender` may be str or
bytes. Files without `poses` but with `betas` (`shape.npz`, `*_stagei.npz`) are NoMotion, not errors.

Reading is amass_fast.io.npz's (the bounded reader: regular files only, object arrays refused from their header so
the marker dictionaries of SMPL-X files are never unpickled, declared sizes checked before anything is allocated,
one pass per member with its CRC-32); only the keys needed are read, the rate, gender and model-type keys capped at
SMALL_KEY_BYTES. The frame rate must lie in [MIN_FPS, MAX_FPS] and a sequence may last at most MAX_SECONDS, so
the work a file can cause is bounded; the value rules below are two reductions per array.

Values: poses, trans and betas must be finite and fit float32, the dtype clips are computed in (a finite float64
value such as 1e300 would become infinite there), and poses stay within MAX_POSE_RADIANS; the message names the
file and the key.

Dtypes: poses/trans in float32 or float64 are kept as they are (trans follows poses); float16 is widened to
float32. Integer, boolean or complex poses are refused: AMASS poses are axis-angle radians, and integers there
mean the file is not what its name says.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Optional, Union

import numpy as np

from amass_fast.io.npz import REEXTRACT, FormatError, Npz, Source, display_name, open_npz

WIDTH_TO_KIND = {156: "smplh", 165: "smplx", 72: "smpl"}
KIND_LABEL = {"smplh": "SMPL+H", "smplx": "SMPL-X", "smpl": "SMPL"}
FPS_KEYS = ("mocap_framerate", "mocap_frame_rate")
MIN_FPS = 1.0     # the range of frame rates a file may have (docs/CONVENTIONS.md); AMASS files record 50-250 fps,
MAX_FPS = 1000.0  # anything outside is a broken header (and 1e-9 fps would make billions of output frames)
MAX_SECONDS = 24 * 3600.0  # the longest AMASS sequences last minutes; a day of motion is a broken header
SMALL_KEYS = FPS_KEYS + ("gender", "surface_model_type")
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Beyond 1e4 radians float32 cannot hold an angle to 0.001 rad, and beyond ~1e19 its square overflows (NaN clips).
MAX_POSE_RADIANS = 1e4
NO_MOTION_NAMES = ("shape.npz",)
NO_MOTION_SUFFIXES = ("_stagei.npz",)


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


# --- the pieces of a sequence ---------------------------------------------------------------------------------

def _text(value: np.ndarray) -> str:
    item = value.item() if value.ndim == 0 else (value.ravel()[0] if value.size else "")
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def _gender(npz: Npz, name: str) -> str:
    if "gender" not in npz.files:
        return "neutral"
    value = npz.read("gender")
    if value.dtype.kind not in "SU":
        return "neutral"
    text = _text(value).strip().lower()
    return {"m": "male", "f": "female", "n": "neutral"}.get(text, text if text in ("male", "female") else "neutral")


def _fps(npz: Npz, name: str) -> float:
    key = next((k for k in FPS_KEYS if k in npz.files), None)
    if key is None:
        raise FormatError(f"{name}: no frame rate (AMASS stores it as 'mocap_framerate' in SMPL+H files and "
                          f"'mocap_frame_rate' in SMPL-X files); this is not an AMASS motion file or it was "
                          f"written by another tool: re-export it with a frame rate")
    value = npz.read(key)
    if value.size != 1 or value.dtype.kind not in "iuf":
        raise FormatError(f"{name}: {key} is not a number (dtype {value.dtype}, shape {value.shape}): {REEXTRACT}")
    fps = float(value.ravel()[0])
    if not MIN_FPS <= fps <= MAX_FPS:  # also refuses NaN
        raise FormatError(f"{name}: frame rate {key}={fps!r} is not between {MIN_FPS:g} and {MAX_FPS:g} frames per "
                          f"second; the header is broken: {REEXTRACT}")
    return fps


def _kind(npz: Npz, width: int, name: str) -> str:
    kind = WIDTH_TO_KIND.get(width)
    if kind is None:
        raise FormatError(f"{name}: poses has {width} values per frame; AMASS files have 156 (SMPL+H), "
                          f"165 (SMPL-X) or 72 (SMPL): this layout is not supported")
    if "surface_model_type" in npz.files:
        declared = _text(npz.read("surface_model_type")).strip().lower()
        if declared in WIDTH_TO_KIND.values() and declared != kind:
            raise FormatError(f"{name}: surface_model_type says {declared!r} but poses has {width} values per "
                              f"frame ({KIND_LABEL[kind]}); the file is inconsistent: {REEXTRACT}")
    return kind


def _no_motion(npz: Npz, name: str) -> Optional[NoMotion]:
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
        raise FormatError(f"{name}: poses has shape {shape}, expected [frames, 156|165|72]: {REEXTRACT}")
    if dtype.kind != "f":
        raise FormatError(f"{name}: poses has dtype {dtype}, expected float32/float64 axis-angle radians; "
                          f"integer poses mean this is not an AMASS motion file")
    if shape[0] == 0:
        raise FormatError(f"{name}: zero frames of motion; nothing to convert: remove the file or {REEXTRACT}")
    return int(shape[1])


def _check_trans_header(shape: tuple[int, ...], dtype: np.dtype, frames: int, name: str) -> None:
    if shape != (frames, 3):
        raise FormatError(f"{name}: trans has shape {shape}, expected ({frames}, 3) to match poses: {REEXTRACT}")
    if dtype.kind not in "fiu":
        raise FormatError(f"{name}: trans has dtype {dtype}, expected float metres: {REEXTRACT}")


def _require(npz: Npz, key: str, name: str) -> None:
    if key not in npz.files:
        raise FormatError(f"{name}: poses but no {key!r} (keys: {', '.join(sorted(npz.files))}); an AMASS motion "
                          f"file always has it: {REEXTRACT}")


def _check_duration(frames: int, fps: float, name: str) -> None:
    if frames / fps > MAX_SECONDS:
        raise FormatError(f"{name}: {frames:,} frames at {fps:g} fps last {frames / fps / 3600:,.1f} hours, more "
                          f"than the {MAX_SECONDS / 3600:g} hours one sequence may last; the header is broken: "
                          f"{REEXTRACT}")


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
                          f"corrupt: {REEXTRACT}, or remove the file")
    huge = np.abs(array) > limit
    first = tuple(int(i) for i in np.argwhere(huge)[0])
    where = f" (first at frame {first[0]})" if per_frame and array.ndim else ""
    raise FormatError(f"{name}: {key} holds {int(huge.sum())} values beyond +-{limit:.3g} ({why}), e.g. "
                      f"{float(array[first]):.3g}{where}; the file is corrupt: {REEXTRACT}, or remove the file")


def _layout(npz: Npz, name: str) -> Union[SequenceInfo, NoMotion]:
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
    name = display_name(path_or_bytes, name)
    with open_npz(path_or_bytes, name, SMALL_KEYS) as npz:
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
                          f"{REEXTRACT}")
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
    name = display_name(path_or_bytes, name)
    with open_npz(path_or_bytes, name, SMALL_KEYS) as npz:
        return _layout(npz, name)
