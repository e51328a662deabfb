"""Stage 1 of HumanML3D (raw_pose_processing): index.csv rows, AMASS files -> each row's 22 joints (Y up).

For one AMASS SMPL+H file: the body model by HumanML3D's gender test (``gender == 'male'``, so a gender stored as
bytes selects the female model), the rest joints of ``betas[:10]``, every ``int(fps / 20)``-th frame from frame 0
(``stride``) or exactly 20 fps by time (``time``), SMPL+H's joint chain plus ``trans``, axes (x, z, y). For one
index row: the dataset's head trim (a substring test on the row's path, in 20-frame units), ``[start:end]`` and
``x *= -1``. HumanAct12 rows are the repository's shipped joints, used as they are.
"""
from __future__ import annotations

import csv
import io
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from amass_fast.humanml3d.constants import AXES, FPS, HEAD_TRIMS, HUMANACT12, NUM_JOINTS

PathLike = Union[str, "os.PathLike[str]"]
RESAMPLING = ("stride", "time")
_NUM_BETAS = 10


#: below this many frames one file's joint chain runs on one thread: waking the thread pool costs more (up to 10 ms
#: per call on a busy machine, against 0.06 ms for 80 frames on one thread)
SERIAL_FK_FRAMES = 4096


def _fk(poses: np.ndarray, trans: np.ndarray, rest: np.ndarray, parents: np.ndarray) -> np.ndarray:
    from amass_fast import kernels

    if len(poses) >= SERIAL_FK_FRAMES:
        return kernels.fk(poses, trans, rest, parents)
    before = kernels.get_num_threads()
    kernels.set_num_threads(1)
    try:
        return kernels.fk(poses, trans, rest, parents)
    finally:
        kernels.set_num_threads(before)


class SourceError(ValueError):
    """A row whose motion cannot be made; the message names the file and what to do."""


@dataclass(frozen=True)
class IndexRow:
    """One row of index.csv: ``source_path`` as written (``./pose_data/KIT/...npy``), start and end frames (Python
    slice bounds at the stride's rate), the output name without ``.npy``."""
    source_path: str
    start: int
    end: int
    name: str

    @property
    def humanact12(self) -> bool:
        return HUMANACT12 in self.source_path


def read_index(index_csv: PathLike) -> list[IndexRow]:
    """The rows of HumanML3D's index.csv in file order. Raises ValueError naming the file and the row."""
    rows = []
    with open(index_csv, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"source_path", "start_frame", "end_frame", "new_name"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{index_csv}: missing columns {sorted(missing)}; expected HumanML3D's index.csv "
                             "(source_path,start_frame,end_frame,new_name)")
        for n, row in enumerate(reader, start=2):
            try:
                rows.append(IndexRow(row["source_path"], int(row["start_frame"]), int(row["end_frame"]),
                                     Path(row["new_name"]).stem))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{index_csv}, line {n}: {exc}; re-download index.csv from "
                                 "https://github.com/EricGuo5513/HumanML3D") from exc
    return rows


def head_trim(source_path: str) -> int:
    """Frames raw_pose_processing cuts from the start: every matching dataset's trim applies, in order (as its
    chain of ``if`` tests on the path does); none for HumanAct12."""
    if HUMANACT12 in source_path:
        return 0
    return sum(frames for name, frames in HEAD_TRIMS if name in source_path)


def stride(fps: float) -> int:
    """HumanML3D's ``int(fps / 20)``: 120 -> 6, 59.94 -> 2 (30 fps), 250 -> 12 (20.83 fps)."""
    return int(fps / FPS)


def is_male(gender: Optional[np.ndarray]) -> bool:
    """``bdata['gender'] == 'male'`` as HumanML3D evaluates it: text 'male' exactly; bytes (b'male') never."""
    if gender is None or gender.dtype.kind != "U" or gender.size != 1:
        return False
    return str(gender.ravel()[0]) == "male"


def raw_gender(path: PathLike) -> Optional[np.ndarray]:
    """The ``gender`` array of an .npz as stored (None when absent or not readable without pickle)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["gender"] if "gender" in data.files else None
    except (ValueError, OSError, KeyError, zipfile.BadZipFile):
        return None


def frames_to_joints(joints_zup: np.ndarray) -> np.ndarray:
    """SMPL+H world joints (Z up) [F, J, 3] -> HumanML3D's stage-1 frame before the row's x flip: (x, z, y)."""
    return joints_zup @ AXES


def row_span(joints: np.ndarray, row: IndexRow) -> np.ndarray:
    """A row's clip from its file's stage-1 joints [F, J, 3]: head trim, [start:end], then x negated (AMASS rows);
    HumanAct12 joints as they are."""
    if row.humanact12:
        return np.array(joints, dtype=np.float64)
    clip = np.array(joints[head_trim(row.source_path):][row.start:row.end], dtype=np.float64)
    clip[..., 0] *= -1
    return clip


def time_span(row: IndexRow, fps: float, num_frames: int) -> tuple[float, float]:
    """The seconds [t0, t1) of the file that a row covers, its frames read at the stride's rate (the time-based
    mode keeps the captioned motion): frame k of the strided file is at k * stride / fps."""
    step = stride(fps) / fps
    total = len(range(0, num_frames, max(stride(fps), 1)))
    first, last, _ = slice(head_trim(row.source_path), None).indices(total)
    start, end, _ = slice(row.start, row.end).indices(max(last - first, 0))
    return (first + start) * step, (first + max(end, start)) * step


class HumanAct12:
    """The repository's HumanAct12 joints: pose_data/humanact12/*.npy or pose_data/humanact12.zip."""

    def __init__(self, repo: PathLike):
        self.folder = Path(repo, "pose_data", "humanact12")
        self.zip_path = Path(repo, "pose_data", "humanact12.zip")
        self._zip: Optional[zipfile.ZipFile] = None
        self._names: dict[str, str] = {}

    def available(self) -> bool:
        return self.folder.is_dir() or self.zip_path.is_file()

    def load(self, source_path: str) -> np.ndarray:
        name = source_path.replace("\\", "/").rsplit("/", 1)[-1]
        if self.folder.is_dir() and (self.folder / name).is_file():
            return _load_joints(self.folder / name, str(self.folder / name))
        if self.zip_path.is_file():
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.zip_path)
                self._names = {i.filename.rsplit("/", 1)[-1]: i.filename for i in self._zip.infolist()}
            if name in self._names:
                return _load_joints(io.BytesIO(self._zip.read(self._names[name])), f"{self.zip_path}:{name}")
        raise SourceError(f"{source_path}: HumanAct12 joints not found in {self.folder} or {self.zip_path}; they "
                          "ship with HumanML3D's repository as pose_data/humanact12.zip (git lfs pull, or download "
                          "the repository's zip)")


def _load_joints(source, name: str) -> np.ndarray:
    try:
        data = np.load(source, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise SourceError(f"{name}: not a joints .npy ({exc})") from exc
    if data.ndim != 3 or data.shape[1] < NUM_JOINTS or data.shape[2] != 3 or not np.issubdtype(data.dtype, np.floating):
        raise SourceError(f"{name}: joints of shape {data.shape} ({data.dtype}); expected [T, >=22, 3] floats")
    return data


@dataclass
class FileJoints:
    """One AMASS file's stage-1 joints [F', 22, 3] (HumanML3D axes, before any row's trim or flip), how they were
    resampled, and the file's own frame rate and frame count."""
    joints: np.ndarray
    resampling: str
    fps: float
    num_frames: int

    def clip(self, row: IndexRow) -> np.ndarray:
        """A row's clip [T, 22, 3] float64: "stride" as HumanML3D (head trim, [start:end], x negated); "time": the
        20 fps frames whose times fall in the row's seconds (:func:`time_span`), x negated."""
        if self.resampling == "stride":
            return row_span(self.joints, row)
        t0, t1 = time_span(row, self.fps, self.num_frames)
        a, b = int(math.ceil(t0 * FPS - 1e-9)), int(math.ceil(t1 * FPS - 1e-9))
        clip = np.array(self.joints[a:b], dtype=np.float64)
        clip[..., 0] *= -1
        return clip


#: float64 values per 20 fps frame that stage 1 holds at once: poses, trans, the FK's joints and the output joints.
_VALUES_PER_FRAME = 66 + 3 + 2 * NUM_JOINTS * 3


def _plan_size(path: PathLike, seq: Any, resampling: str) -> None:
    """Refuse (MemoryError naming the file, its planned size and the limit) a file whose 20 fps joints the machine
    cannot hold, before they are computed."""
    from amass_fast.kernels import reference, runtime

    if resampling == "time":
        frames = reference.resampled_length(seq.num_frames, seq.fps, float(FPS))
    else:
        frames = -(-seq.num_frames // stride(seq.fps))  # stride >= 1: amass_joints refused the rest first
    runtime.check_allocation(str(path), (frames, _VALUES_PER_FRAME), 8, what="its 20 fps joints",
                             fix="check its frame rate (mocap_framerate) and length, or run on a machine with more "
                                 "memory")


def amass_joints(path: PathLike, models: dict, resampling: str = "stride") -> FileJoints:
    """Stage-1 joints of one AMASS SMPL+H file.

    models: {"male": BodyModel, "female": BodyModel}. resampling "stride": every int(fps / 20)-th frame as
    HumanML3D; "time": exactly 20 fps, each joint rotation slerped between the two nearest frames."""
    from amass_fast import kernels
    from amass_fast.io.formats import FormatError, NoMotion, load_sequence

    try:
        seq = load_sequence(path)
    except FormatError as exc:
        raise SourceError(str(exc)) from exc
    if isinstance(seq, NoMotion):
        raise SourceError(f"{path}: holds no motion ({seq.reason}); index.csv should not point at it")
    if seq.kind != "smplh":
        raise SourceError(f"{path}: a {seq.kind} file; HumanML3D is made from AMASS's SMPL+H release "
                          "(*_poses.npz)")
    if resampling == "stride" and stride(seq.fps) < 1:
        raise SourceError(f"{path}: frame rate {seq.fps:g} fps is below 20 fps; HumanML3D's stride "
                          "int(fps / 20) is 0 there, so HumanML3D makes nothing of this file; check that "
                          "index.csv points at the right one")
    _plan_size(path, seq, resampling)
    model = models["male" if is_male(raw_gender(path)) else "female"]
    # HumanML3D hands the body model float32 tensors: round the inputs the same way.
    poses = seq.poses[:, :66].astype(np.float32).astype(np.float64)
    trans = seq.trans.astype(np.float32).astype(np.float64)
    betas = seq.betas[:_NUM_BETAS].astype(np.float32).astype(np.float64)
    if resampling == "stride":
        step = stride(seq.fps)
        poses, trans = poses[::step], trans[::step]
    elif resampling == "time":
        poses, trans = kernels.resample_poses(poses, trans, seq.fps, float(FPS))
    else:
        raise ValueError(f"resampling must be one of {RESAMPLING}, got {resampling!r}")
    rest = model.rest_joints(betas)[:NUM_JOINTS]
    world = _fk(np.ascontiguousarray(poses), np.ascontiguousarray(trans), rest, model.parents[:NUM_JOINTS])
    return FileJoints(frames_to_joints(np.asarray(world, dtype=np.float64)), resampling, seq.fps, seq.num_frames)
