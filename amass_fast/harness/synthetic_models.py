"""Synthetic, smplx-compatible SMPL+H and SMPL-X model files, for tests and benchmarks.

The licensed model files cannot be shipped, so tests build look-alikes: the same keys, shapes and dtypes as the
real files (and as ``smplx`` reads them), with random but plausible content:

- a skeleton (the built-in anthropometric body of :mod:`amass_fast.io.body_models` plus hand and face joints),
- vertices in a small cloud around each joint, ``J_regressor`` rows that average a few of them (sparse, rows sum
  to 1, and the cloud is shifted so that ``J_regressor @ v_template`` lands exactly on the skeleton),
- ``shapedirs`` whose first component scales the body (height) and the rest move joints by about a centimetre,
- small random ``posedirs``, skinning ``weights`` (rows sum to 1), faces, hand PCA and face landmarks.

Layouts written by :func:`write_model`:

- ``layout="smplx"``: as ``smplx`` expects them (``SMPLH_MALE.npz``/``.pkl``, ``SMPLX_NEUTRAL.npz``), with the
  keys ``smplx`` reads even when unused (hand PCA, landmarks). A ``.pkl`` path writes a Python-2 style pickle:
  plain dicts and arrays, a sparse ``J_regressor`` pickled as ``scipy.sparse._csc.csc_matrix`` and arrays wrapped
  in a stand-in for ``chumpy.ch.Ch``, as the files from the MANO website are. Both are stand-ins pickled under
  those class names with the real classes' state, so neither chumpy nor scipy is needed to write them.
- ``layout="amass"``: as AMASS ships SMPL+H (``smplh/male/model.npz``): 16 betas, no hand PCA keys.

Real vertex counts (6890 SMPL+H, 10475 SMPL-X) are the defaults, for benchmarks; tests pass a few hundred.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Optional, Union

import numpy as np

from amass_fast.io.body_models import default_rest_joints
from amass_fast.schemas.skeleton import SMPLH_PARENTS, SMPLX_PARENTS

REAL_NUM_VERTICES = {"smplh": 6890, "smplx": 10475}
REGRESSOR_VERTICES = 6    # vertices averaged by each J_regressor row
NUM_LANDMARKS, NUM_DYNAMIC_LANDMARK_ANGLES, NUM_DYNAMIC_LANDMARKS = 51, 79, 17


def skeleton(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Parents [J] and rest joints [J, 3] (SMPL frame: Y up, facing +Z, left = +X) of a whole SMPL+H or SMPL-X body:
    the 22 built-in body joints, then (SMPL-X) jaw and eyes, then 15 joints per hand (5 fingers x 3)."""
    body = default_rest_joints()
    head, l_wrist, r_wrist = body[15], body[20], body[21]
    extra = []
    if kind == "smplx":
        extra += [head + (0.0, -0.04, 0.05), head + (0.03, 0.03, 0.08), head + (-0.03, 0.03, 0.08)]
    for wrist, side in ((l_wrist, 1.0), (r_wrist, -1.0)):
        # smplx finger order: index, middle, pinky, ring, thumb; each finger points out along the arm (+-X).
        for spread in (0.02, 0.0, -0.04, -0.02, 0.04):
            for phalanx in range(3):
                extra.append(wrist + (side * (0.08 + 0.03 * phalanx), 0.0, spread))
    parents = SMPLX_PARENTS if kind == "smplx" else SMPLH_PARENTS
    return parents.copy(), np.concatenate([body, np.array(extra)])


def model_arrays(kind: str = "smplh", num_vertices: Optional[int] = None, num_betas: Optional[int] = None,
                 seed: int = 0, layout: str = "smplx") -> dict:
    """The arrays of one synthetic model file, as a dict of key -> ndarray (``J_regressor`` dense).

    kind: "smplh" or "smplx". num_vertices: default the real count. num_betas: SMPL+H any (default 16, AMASS's);
    SMPL-X 10 (plus 10 expression components, like SMPL-X 1.0) or 300 (plus 100, like SMPL-X 1.1), default 10.
    layout: "smplx" (with hand PCA and, for SMPL-X, landmarks) or "amass" (SMPL+H only, no hand PCA keys).
    """
    if kind not in REAL_NUM_VERTICES:
        raise ValueError(f"kind must be 'smplh' or 'smplx', not {kind!r}")
    if layout == "amass" and kind != "smplh":
        raise ValueError("AMASS ships its own model files for SMPL+H only; use layout='smplx' for SMPL-X")
    rng = np.random.default_rng(seed)
    parents, joints = skeleton(kind)
    J = len(parents)
    V = int(num_vertices or REAL_NUM_VERTICES[kind])
    if V < J * REGRESSOR_VERTICES:
        raise ValueError(f"num_vertices must be at least {J * REGRESSOR_VERTICES} for {kind}")
    if kind == "smplx":
        num_betas = 10 if num_betas is None else num_betas
        if num_betas not in (10, 300):
            raise ValueError("SMPL-X files hold 10 (+10 expression) or 300 (+100 expression) shape components")
        num_components = num_betas + (10 if num_betas == 10 else 100)
    else:
        num_betas = 16 if num_betas is None else num_betas
        num_components = num_betas

    # Vertices: equal clouds around the joints; the regressor averages REGRESSOR_VERTICES of each cloud.
    owner = np.arange(V) * J // V
    v_template = joints[owner] + rng.normal(0.0, 0.02, (V, 3))
    J_regressor = np.zeros((J, V))
    for j in range(J):
        members = np.flatnonzero(owner == j)[:REGRESSOR_VERTICES]
        w = rng.uniform(0.5, 1.5, len(members))
        J_regressor[j, members] = w / w.sum()
        v_template[owner == j] += joints[j] - J_regressor[j] @ v_template   # regressed joint == skeleton joint
    shapedirs = rng.normal(0.0, 0.01, (J, 3, num_components))[owner] + rng.normal(0.0, 0.001, (V, 3, num_components))
    shapedirs[:, :, 0] = 0.03 * (v_template - joints[0])   # beta 0: about 3% taller per unit
    weights = np.zeros((V, J))
    weights[np.arange(V), owner] = 0.8
    weights[np.arange(V), np.maximum(parents[owner], 0)] += 0.2
    faces = np.sort(rng.integers(0, V, (2 * V, 3)), axis=1).astype(np.uint32)

    arrays = {
        "v_template": v_template, "J_regressor": J_regressor, "shapedirs": shapedirs,
        "posedirs": rng.normal(0.0, 1e-3, (V, 3, 9 * (J - 1))).astype(np.float32),
        "weights": weights, "kintree_table": np.stack([np.where(parents < 0, 2**32 - 1, parents), np.arange(J)])
        .astype(np.uint32 if layout == "amass" else np.int64),
        "f": faces, "J": joints.copy(),
    }
    if layout == "amass":
        arrays.update(bs_style=np.array("lbs"), bs_type=np.array("lrotmin"),
                      J_regressor_prior=J_regressor.copy(), weights_prior=weights.copy())
        return arrays
    for side in "lr":
        q, _ = np.linalg.qr(rng.normal(size=(45, 45)))
        arrays[f"hands_components{side}"] = q
        arrays[f"hands_mean{side}"] = rng.normal(0.0, 0.1, 45)
    if kind == "smplx":
        arrays["lmk_faces_idx"] = rng.integers(0, len(faces), NUM_LANDMARKS).astype(np.int64)
        arrays["lmk_bary_coords"] = rng.dirichlet(np.ones(3), NUM_LANDMARKS)
        arrays["dynamic_lmk_faces_idx"] = rng.integers(
            0, len(faces), (NUM_DYNAMIC_LANDMARK_ANGLES, NUM_DYNAMIC_LANDMARKS)).astype(np.int64)
        arrays["dynamic_lmk_bary_coords"] = rng.dirichlet(
            np.ones(3), (NUM_DYNAMIC_LANDMARK_ANGLES, NUM_DYNAMIC_LANDMARKS))
    return arrays


class _StandIn:
    """A class that pickles under another package's class name (``pickled_as``), without that package installed."""

    pickled_as: tuple[str, str]


class _FakeCh(_StandIn):
    """Pickles as ``chumpy.ch.Ch`` with its value in state['x'], like the arrays in the MANO website's .pkl files."""

    pickled_as = ("chumpy.ch", "Ch")

    def __init__(self, x: np.ndarray):
        self.x = x


class _FakeCsc(_StandIn):
    """Pickles as scipy's ``csc_matrix`` with scipy's state: ``_shape``, ``maxprint``, ``indptr``, ``indices``
    (int32) and ``data``, in that order; entries sorted by column, then row, as scipy stores them."""

    pickled_as = ("scipy.sparse._csc", "csc_matrix")

    def __init__(self, dense: np.ndarray):
        cols, rows = np.nonzero(dense.T)
        self._shape = tuple(int(n) for n in dense.shape)
        self.maxprint = 50
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=dense.shape[1]))]).astype(np.int32)
        self.indices = rows.astype(np.int32)
        self.data = dense[rows, cols].astype(np.float64)


class _StandInPickler(pickle._Pickler):
    """The pure-Python pickler, writing each :class:`_StandIn` class as the global it stands in for."""

    def save_global(self, obj, name=None):
        if isinstance(obj, type) and issubclass(obj, _StandIn) and obj is not _StandIn:
            module, qualname = obj.pickled_as
            self.write(pickle.GLOBAL + f"{module}\n{qualname}\n".encode("ascii"))
            self.memoize(obj)
            return
        super().save_global(obj, name)


def _write_chumpy_pickle(path: Path, arrays: dict) -> None:
    """A Python-2 style (protocol 2) model pickle: chumpy arrays, a scipy csc ``J_regressor``, plain arrays."""
    data = {k: (_FakeCh(v) if k in ("v_template", "shapedirs", "posedirs", "weights", "J") else v)
            for k, v in arrays.items()}
    data["J_regressor"] = _FakeCsc(arrays["J_regressor"])
    data["bs_style"], data["bs_type"] = "lbs", "lrotmin"
    with open(path, "wb") as fh:
        _StandInPickler(fh, protocol=2).dump(data)


def write_model(path: Union[str, Path], kind: str = "smplh", *, num_vertices: Optional[int] = None,
                num_betas: Optional[int] = None, seed: int = 0, layout: Optional[str] = None) -> Path:
    """Write one synthetic model file and return its path.

    The format follows the suffix (``.npz``, or ``.pkl`` for the chumpy-style pickle). ``layout`` defaults to
    "amass" for a path ending in ``model.npz`` (AMASS's ``smplh/GENDER/model.npz``), else "smplx".
    See :func:`model_arrays` for the other parameters.
    """
    path = Path(path)
    layout = layout or ("amass" if path.name == "model.npz" else "smplx")
    arrays = model_arrays(kind, num_vertices, num_betas, seed, layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".pkl":
        _write_chumpy_pickle(path, arrays)
    elif path.suffix == ".npz":
        with open(path, "wb") as fh:  # an open handle: np.savez would otherwise append .npz to odd names
            np.savez(fh, **arrays)
    else:
        raise ValueError(f"{path}: model files end in .npz or .pkl")
    return path


def write_model_tree(root: Union[str, Path], *, num_vertices: int = 400, seed: int = 0) -> dict:
    """A model folder with every layout the loader accepts, small by default for tests:
    ``smplh/SMPLH_{MALE,FEMALE}.npz``, ``smplh/SMPLH_MALE.pkl``, ``smplh/{male,female,neutral}/model.npz`` and
    ``smplx/SMPLX_{NEUTRAL,MALE}.npz``. Returns {relative path: Path}."""
    root = Path(root)
    specs = {
        "smplh/SMPLH_MALE.npz": ("smplh", 1), "smplh/SMPLH_FEMALE.npz": ("smplh", 2),
        "smplh/SMPLH_MALE.pkl": ("smplh", 1), "smplh/male/model.npz": ("smplh", 3),
        "smplh/female/model.npz": ("smplh", 4), "smplh/neutral/model.npz": ("smplh", 5),
        "smplx/SMPLX_NEUTRAL.npz": ("smplx", 6), "smplx/SMPLX_MALE.npz": ("smplx", 7),
    }
    return {rel: write_model(root / rel, kind, num_vertices=num_vertices, seed=seed + offset)
            for rel, (kind, offset) in specs.items()}
