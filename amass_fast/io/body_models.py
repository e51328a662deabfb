"""Body models reduced to what the joints need: a skeleton.

Joints depend only on ``J_regressor @ (v_template + shapedirs . betas)``, the parents and the poses, so a model
file reduces to ``J_template [J, 3]``, ``J_shapedirs [J, 3, B]`` and ``parents [J]`` (docs/CONVENTIONS.md).

Accepted files (a file, or a folder plus a gender):

- as ``smplx`` names them: ``smplh/SMPLH_MALE.npz`` or ``.pkl``, ``smplx/SMPLX_NEUTRAL.npz`` (or ``.pkl``);
- as AMASS ships SMPL+H: ``smplh/male/model.npz`` (16 betas, no hand PCA keys).

``.npz`` files are read with ``allow_pickle=False``. ``.pkl`` files (the MANO website's SMPL+H) go through a
restricted unpickler that rebuilds numpy arrays, turns scipy sparse matrices and chumpy objects into plain arrays
without importing either package, and refuses every other class.

Without model files, :func:`default_body_model` gives a built-in 22-joint skeleton (see :func:`default_rest_joints`).
"""
from __future__ import annotations

import functools
import os
import pickle
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from amass_fast.io import guarded, unpickle
from amass_fast.schemas.joints import skeleton_height
from amass_fast.schemas.skeleton import (BODY_PARENTS, JOINT_NAMES, SMPL_JOINT_NAMES, SMPLH_JOINT_NAMES,
                                         SMPLX_JOINT_NAMES)

PathLike = Union[str, os.PathLike]

# Joint count of a model file -> (kind, joint names).
_KINDS = {24: ("smpl", SMPL_JOINT_NAMES), 52: ("smplh", SMPLH_JOINT_NAMES), 55: ("smplx", SMPLX_JOINT_NAMES)}
# SMPL-X shapedirs hold betas then expressions: 300 + 100 (SMPL-X 1.1) or 10 + 10 (SMPL-X 1.0), as smplx reads them.
SMPLX_FULL_SHAPE_SPACE = 400


class BodyModelError(ValueError):
    """A model file that cannot be used; the message names the file, the problem and what to do."""


@dataclass(frozen=True, eq=False)
class BodyModel:
    """A body model reduced to its skeleton.

    kind: "smpl", "smplh", "smplx" or "default". parents: int64 [J], parents[j] < j, parents[0] = -1.
    J_template: float64 [J, 3] rest joints of the mean shape (SMPL frame: Y up, facing +Z, left = +X).
    J_shapedirs: float64 [J, 3, B] joint displacement per beta. path: the file it came from ("" if built in).
    """

    kind: str
    parents: np.ndarray = field(repr=False)
    joint_names: tuple = field(repr=False)
    J_template: np.ndarray = field(repr=False)
    J_shapedirs: np.ndarray = field(repr=False)
    path: str = ""
    gender: str = "neutral"

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def num_betas(self) -> int:
        return self.J_shapedirs.shape[2]

    def rest_joints(self, betas: Optional[np.ndarray] = None) -> np.ndarray:
        """Rest-pose joints float64 [J, 3] for a body shape; uses the first min(len(betas), num_betas) betas."""
        if betas is None or self.num_betas == 0:
            return self.J_template.copy()
        betas = np.asarray(betas, dtype=np.float64).reshape(-1)
        b = min(len(betas), self.num_betas)
        return self.J_template + self.J_shapedirs[:, :, :b] @ betas[:b]


# ---------------------------------------------------------------------------------------------------------------
# The built-in skeleton.

#: Height of the built-in skeleton, metres (a neutral adult).
DEFAULT_HEIGHT = 1.70
#: Where the SMPL family's mean shapes put the rest pelvis (about; SMPL frame). Placing the built-in pelvis there
#: keeps AMASS translations meaning what they mean with the real models: world pelvis = rest pelvis + trans.
DEFAULT_REST_PELVIS = np.array([0.0, -0.22, 0.03])

# Segment heights, lengths and widths as fractions of body height H, from D. A. Winter, "Biomechanics and Motor
# Control of Human Movement", 4th ed. (2009), Fig. 4.1 (after Drillis & Contini).
WINTER = {
    "eye_height": 0.936, "chin_height": 0.870, "shoulder_height": 0.818, "chest_height": 0.720,
    "hip_height": 0.530, "knee_height": 0.285, "ankle_height": 0.039,
    "shoulder_width": 0.259, "hip_width": 0.191, "upper_arm": 0.186, "forearm": 0.146, "foot_length": 0.152,
}


def default_rest_joints(height: float = DEFAULT_HEIGHT) -> np.ndarray:
    """The built-in skeleton's 22 rest joints [22, 3], T-pose, SMPL frame (Y up, facing +Z, left = +X).

    Heights, arm segments, shoulder width and foot length come from Winter's table (:data:`WINTER`). Where the
    table has no landmark the choices are: hip joint centres half the bitrochanteric width apart (the table's hip
    width runs between the outer trochanters); the pelvis joint 0.04 H above the hips; spine1..3 evenly between
    the pelvis and chest height; the neck halfway from shoulder to chin; the head joint halfway from chin to eye;
    the collars a third of the way out to the shoulders; the foot joint (ball of the foot) half a foot length in
    front of the ankle. Finally the body is shifted so the pelvis sits at :data:`DEFAULT_REST_PELVIS`.
    """
    w = {k: v * height for k, v in WINTER.items()}
    hip_x, shoulder_x = w["hip_width"] / 4, w["shoulder_width"] / 2
    pelvis_y = w["hip_height"] + 0.04 * height
    spine = [pelvis_y + (w["chest_height"] - pelvis_y) * i / 3 for i in (1, 2, 3)]
    neck_y = 0.5 * (w["shoulder_height"] + w["chin_height"])
    head_y = 0.5 * (w["chin_height"] + w["eye_height"])
    elbow_x, wrist_x = shoulder_x + w["upper_arm"], shoulder_x + w["upper_arm"] + w["forearm"]
    sy = w["shoulder_height"]
    joints = np.array([
        (0, pelvis_y, 0), (hip_x, w["hip_height"], 0), (-hip_x, w["hip_height"], 0), (0, spine[0], 0),
        (hip_x, w["knee_height"], 0), (-hip_x, w["knee_height"], 0), (0, spine[1], 0),
        (hip_x, w["ankle_height"], 0), (-hip_x, w["ankle_height"], 0), (0, spine[2], 0),
        (hip_x, 0.3 * w["ankle_height"], 0.5 * w["foot_length"]),
        (-hip_x, 0.3 * w["ankle_height"], 0.5 * w["foot_length"]),
        (0, neck_y, 0), (shoulder_x / 3, sy, 0), (-shoulder_x / 3, sy, 0), (0, head_y, 0),
        (shoulder_x, sy, 0), (-shoulder_x, sy, 0), (elbow_x, sy, 0), (-elbow_x, sy, 0),
        (wrist_x, sy, 0), (-wrist_x, sy, 0),
    ], dtype=np.float64)
    return joints - joints[0] + DEFAULT_REST_PELVIS


def stature(rest_joints: np.ndarray) -> float:
    """A subject's standing height in metres, estimated from its rest skeleton [>=22, 3] (Y up): the head-to-ankle
    joint height (schemas.skeleton_height) over its share of stature in Winter's table (head joint halfway from
    chin to eye, 0.903 H, minus the ankle, 0.039 H), as the built-in skeleton places them."""
    head = 0.5 * (WINTER["chin_height"] + WINTER["eye_height"])
    return skeleton_height(rest_joints) / (head - WINTER["ankle_height"])


_default_warned = False


def default_body_model(warn: bool = True) -> BodyModel:
    """The built-in 22-joint skeleton (SMPL topology, Winter's proportions at 1.70 m). Betas are ignored: it has
    one body shape. Warns once per process that it is in use instead of licensed model files (``warn=False``: the
    caller says so itself, as ``amass-fast process`` does once per run)."""
    global _default_warned
    if warn and not _default_warned:
        _default_warned = True
        warnings.warn("no SMPL+H/SMPL-X model files given: using the built-in skeleton (SMPL topology, Winter's "
                      "anthropometric proportions at 1.70 m, betas ignored). Pass --body-model DIR with SMPL+H / SMPL-X "
                      "model files for exact body shapes.",
                      UserWarning, stacklevel=2)
    return _default_model()


@functools.lru_cache(maxsize=1)
def _default_model() -> BodyModel:
    return BodyModel("default", BODY_PARENTS.copy(), JOINT_NAMES, default_rest_joints(), np.zeros((22, 3, 0)))


# ---------------------------------------------------------------------------------------------------------------
# Loading model files.

def load_body_model(path: PathLike, gender: Optional[str] = None) -> BodyModel:
    """Load an SMPL+H / SMPL-X (or SMPL) model file, or find one in a folder for ``gender`` (default "neutral").

    Folders: ``SMPLH_{GENDER}.npz|.pkl``, ``SMPLX_{GENDER}.npz|.pkl``, ``{gender}/model.npz``, also one level down in
    ``smplh/`` and ``smplx/``. Raises BodyModelError naming the file and the problem.
    """
    path = Path(path)
    if path.is_dir():
        gender = _normalise_gender(gender or "neutral")
        for kind in ("smplh", "smplx"):
            for candidate in _candidates(path, gender, kind):
                if candidate.is_file():
                    return load_body_model(candidate, gender)
        raise BodyModelError(f"{path}: no {gender} model file found (looked for SMPLH_{gender.upper()}.npz|pkl, "
                             f"SMPLX_{gender.upper()}.npz|pkl, {gender}/model.npz, also under smplh/ and smplx/)")
    if not path.exists():
        raise BodyModelError(f"{path}: no such model file; pass a model file or the folder that holds them")
    try:
        stat = guarded.check_regular(path, "model")
    except guarded.ReadRefused as exc:
        raise BodyModelError(f"{exc}; pass a model file or the folder that holds them") from None
    return _load_file(str(path.resolve()), stat.st_mtime_ns, stat.st_size, _gender_of(path, gender))


def find_body_model(model_dir: Optional[PathLike], gender: str, kind: str) -> Optional[BodyModel]:
    """The model for a sequence of this gender and kind ("smplh" or "smplx") in ``model_dir``, or None.

    Prefers the sequence's own gender and falls back to the neutral model (with a warning). SMPL+H sequences also
    accept SMPL models (the 22 body joints are the same). A file of the wrong kind where one is expected is an error.
    """
    if model_dir is None:
        return None
    root = Path(model_dir)
    gender = _normalise_gender(gender)
    kind = "smplh" if kind == "smpl" else kind
    for g in dict.fromkeys((gender, "neutral")):
        for candidate in _candidates(root, g, kind):
            if candidate.is_file():
                model = load_body_model(candidate, g)
                if model.kind not in (kind, "smpl"):
                    raise BodyModelError(f"{candidate}: holds a {model.kind} model where a {kind} model is expected "
                                         f"(SMPL-X sequences need SMPL-X models, SMPL+H sequences SMPL+H models)")
                if g != gender:
                    _warn_once(f"no {gender} {kind} model in {root}: using the neutral one ({candidate})")
                return model
    return None


def model_dir_problem(model_dir: PathLike) -> Optional[str]:
    """Why ``model_dir`` cannot be a --body-model folder (missing, not a folder, or holding no model file under any
    name this package looks for), or None. Checked before any work, so a mistyped folder is not silently replaced by
    the built-in skeleton."""
    root = Path(model_dir)
    if not root.exists():
        return f"--body-model {root}: no such folder; pass the folder holding smplh/ and smplx/ model files"
    if not root.is_dir():
        return f"--body-model {root}: is a file, not a folder; pass the folder that holds it"
    names = [c for g in ("male", "female", "neutral") for k in ("smplh", "smplx") for c in _candidates(root, g, k)]
    if not any(c.is_file() for c in names):
        return (f"--body-model {root}: holds no body model file; expected names like smplh/SMPLH_MALE.npz or .pkl, "
                f"smplx/SMPLX_NEUTRAL.npz (as smplx names them) or smplh/male/model.npz (as AMASS ships them)")
    return None


def _candidates(root: Path, gender: str, kind: str) -> list[Path]:
    stem = f"{kind.upper()}_{gender.upper()}"
    names = [f"{stem}.npz", f"{stem}.pkl", f"{gender}/model.npz"]
    return [folder / name for folder in (root / kind, root) for name in names]


@functools.lru_cache(maxsize=1)
def _warned() -> set:
    return set()


def _warn_once(message: str) -> None:
    if message not in _warned():
        _warned().add(message)
        warnings.warn(message, UserWarning, stacklevel=3)


def _normalise_gender(gender) -> str:
    if isinstance(gender, bytes):
        gender = gender.decode("ascii", "replace")
    return str(gender).strip().lower() or "neutral"


def _gender_of(path: Path, gender: Optional[str]) -> str:
    if gender:
        return _normalise_gender(gender)
    for g in ("female", "male", "neutral"):  # female first: "male" is inside "female"
        if g in str(path).lower():
            return g
    return "neutral"


def _open_model(path: str):
    """A model file opened through the guarded reader; BodyModelError naming it when it must not be read."""
    try:
        return guarded.open_regular(path, "model")
    except guarded.ReadRefused as exc:
        raise BodyModelError(str(exc)) from None


@functools.lru_cache(maxsize=16)
def _load_file(path: str, mtime_ns: int, size: int, gender: str) -> BodyModel:
    """Cached by path, modification time and size, so the pipeline can ask for a model per sequence."""
    if path.endswith(".pkl"):
        try:
            with _open_model(path) as fh:
                data = unpickle.load_arrays(fh, path)
        except unpickle.PickleRefused as exc:
            raise BodyModelError(str(exc)) from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
            if isinstance(exc, BodyModelError):
                raise
            raise BodyModelError(f"{path}: not a readable model pickle ({type(exc).__name__}: {exc}); the file is "
                                 f"truncated or corrupt: re-download the model file") from None
        return _skeleton_from_arrays(data, path, gender)
    if path.endswith(".npz"):
        try:
            with _open_model(path) as fh, np.load(fh, allow_pickle=False) as npz:
                data = {k: npz[k] for k in ("J_regressor", "v_template", "shapedirs", "kintree_table") if k in npz}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise BodyModelError(f"{path}: not a readable model .npz ({exc}); re-download the model file") from None
        return _skeleton_from_arrays(data, path, gender)
    raise BodyModelError(f"{path}: model files end in .npz or .pkl")


def _skeleton_from_arrays(data: dict, path: str, gender: str) -> BodyModel:
    missing = [k for k in ("J_regressor", "v_template", "shapedirs", "kintree_table") if k not in data]
    if missing:
        raise BodyModelError(f"{path}: missing {', '.join(missing)}; this is not an SMPL+H/SMPL-X model file")
    try:
        regressor, v_template, shapedirs = (np.asarray(data[k], dtype=np.float64)
                                            for k in ("J_regressor", "v_template", "shapedirs"))
        kintree = np.asarray(data["kintree_table"], dtype=np.int64)
    except (ValueError, TypeError) as exc:
        raise BodyModelError(f"{path}: a model array is not numeric ({exc}); re-download the model file") from None
    if shapedirs.ndim == 2:
        shapedirs = shapedirs[:, :, None]
    V = v_template.shape[0] if v_template.ndim == 2 else -1
    if v_template.ndim != 2 or v_template.shape[1] != 3:
        raise BodyModelError(f"{path}: v_template has shape {v_template.shape}, expected [V, 3]")
    if regressor.ndim != 2 or regressor.shape[1] != V:
        raise BodyModelError(f"{path}: J_regressor has shape {regressor.shape}, expected [J, {V}]")
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (V, 3):
        raise BodyModelError(f"{path}: shapedirs has shape {shapedirs.shape}, expected [{V}, 3, B]")
    J = regressor.shape[0]
    if J not in _KINDS:
        raise BodyModelError(f"{path}: {J} joints; expected 52 (SMPL+H), 55 (SMPL-X) or 24 (SMPL)")
    if kintree.ndim != 2 or kintree.shape != (2, J):
        raise BodyModelError(f"{path}: kintree_table has shape {kintree.shape}, expected [2, {J}]")
    parents = kintree[0].copy()
    parents[0] = -1   # stored as 2**32 - 1 (or anything): the root has no parent
    if np.any(parents[1:] >= np.arange(1, J)) or np.any(parents[1:] < 0):
        raise BodyModelError(f"{path}: kintree_table parents are not ordered (parents[j] < j); file is corrupt")
    kind, names = _KINDS[J]
    num_betas = shapedirs.shape[2]
    if kind == "smplx":   # betas first, then expression components
        num_betas = 300 if num_betas >= SMPLX_FULL_SHAPE_SPACE else min(num_betas, 10)
    # Only the vertices the regressor reads matter: keeps SMPL-X's 10475 x 3 x 300 product small.
    used = np.flatnonzero(np.any(regressor != 0.0, axis=0))
    R = regressor[:, used]
    J_template = R @ v_template[used]
    J_shapedirs = np.einsum("jv,vcb->jcb", R, shapedirs[used, :, :num_betas])
    if not (np.isfinite(J_template).all() and np.isfinite(J_shapedirs).all()):
        raise BodyModelError(f"{path}: NaN or infinite values in the joint data (J_regressor, v_template or "
                             f"shapedirs); the file is corrupt: re-download the model file")
    return BodyModel(kind, parents, names, J_template, J_shapedirs, path, gender)
