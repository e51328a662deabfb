"""Synthetic AMASS: files, trees and archives in the exact layouts AMASS ships, with procedural motions.

Used by the tests, `amass-fast demo` and the benchmarks, so that nothing licensed is ever needed or committed.

Layouts written (docs/CONVENTIONS.md):

    SMPL+H  *_poses.npz    trans [T,3], gender (str or bytes 0-d array), mocap_framerate (float64 0-d),
                           betas [16], dmpls [T,8], poses [T,156]; all float64
    SMPL-X  *_stageii.npz  gender, surface_model_type 'smplx', mocap_frame_rate, mocap_time_length,
                           markers_latent, latent_labels, markers_latent_vids (a dict in an OBJECT array, so
                           reading it needs pickle), trans, poses [T,165], betas [16], num_betas, root_orient,
                           pose_body [T,63], pose_hand [T,90], pose_jaw [T,3], pose_eye [T,6]
    SMPL    *_poses.npz    poses [T,72], trans, betas [10], gender, mocap_framerate (older tools' output)
    shape.npz              betas, gender (one per subject; no motion)
    *_stagei.npz           SMPL-X stage-i: shape and markers of a subject (no motion)

Motions (walk, run, jump, wave, idle) are sinusoidal joint-angle curves on hips, knees, ankles, spine, shoulders
and elbows, with forward root translation for walk/run and a vertical one for jump. The world is Z-up as in
AMASS: the root rotation is heading-yaw (about world Z) composed with aa = (pi/2, 0, 0), which stands SMPL's
Y-up body upright; the body then faces (sin h, -cos h, 0) for heading h. Everything is deterministic given a seed.
"""
from __future__ import annotations

import math
import os
import tarfile
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

MOTIONS = ("walk", "run", "jump", "wave", "idle")
KINDS = ("smplh", "smplx", "smpl")
POSE_WIDTH = {"smplh": 156, "smplx": 165, "smpl": 72}
NUM_BETAS = {"smplh": 16, "smplx": 16, "smpl": 10}

# Root translation z of an upright body: smplx adds `trans` to the UNROTATED rest root joint (~(0, -0.24, 0.03)
# in SMPL's Y-up coordinates), so the pelvis sits ~0.03 m above trans_z and the ankles ~0.9 m below it.
STANDING_TRANS_Z = 0.93

# SMPL body joint indices (the parents of docs/CONVENTIONS.md, "Body model").
_L_HIP, _R_HIP, _SPINE1, _L_KNEE, _R_KNEE, _SPINE2, _L_ANKLE, _R_ANKLE = 1, 2, 3, 4, 5, 6, 7, 8
_L_SHOULDER, _R_SHOULDER, _L_ELBOW, _R_ELBOW = 16, 17, 18, 19


# --- small vectorised rotation helpers (axis-angle <-> quaternion (w, x, y, z)) ------------------------------

def _quat(aa: np.ndarray) -> np.ndarray:
    aa = np.asarray(aa, dtype=np.float64)
    t = np.linalg.norm(aa, axis=-1, keepdims=True)
    s = np.where(t < 1e-8, 0.5, np.sin(0.5 * t) / np.maximum(t, 1e-12))
    return np.concatenate([np.cos(0.5 * t), s * aa], axis=-1)


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def _aa(q: np.ndarray) -> np.ndarray:
    q = np.where(q[..., :1] < 0, -q, q)
    v = q[..., 1:]
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    scale = np.where(n < 1e-8, 2.0, 2.0 * np.arctan2(n, q[..., :1]) / np.maximum(n, 1e-12))
    return scale * v


def _axis(angle: np.ndarray, axis: int) -> np.ndarray:
    """Axis-angle [T, 3] of a rotation by `angle` [T] about the coordinate axis `axis` (0=x, 1=y, 2=z)."""
    out = np.zeros((len(angle), 3))
    out[:, axis] = angle
    return out


def _compose(*aas: np.ndarray) -> np.ndarray:
    """Axis-angle of R_0 @ R_1 @ ... (the last one applied first)."""
    q = _quat(aas[0])
    for aa in aas[1:]:
        q = _qmul(q, _quat(aa))
    return _aa(q)


# --- motions ------------------------------------------------------------------------------------------------

def motion_curves(motion: str, num_frames: int, fps: float, rng: np.random.Generator,
                  heading: Optional[float] = None) -> tuple[np.ndarray, np.ndarray]:
    """Body poses [T, 66] (root + 21 body joints, axis-angle, AMASS Z-up) and trans [T, 3] of one motion."""
    if motion not in MOTIONS:
        raise ValueError(f"unknown motion {motion!r}; choose one of {', '.join(MOTIONS)}")
    T = int(num_frames)
    t = np.arange(T) / float(fps)
    zero = np.zeros(T)
    h0 = rng.uniform(-math.pi, math.pi) if heading is None else heading
    turn_rate = rng.uniform(-0.15, 0.15) if motion in ("walk", "run") else 0.0  # rad/s: gentle curves
    heading_t = h0 + turn_rate * t
    phase = rng.uniform(0, 2 * math.pi)
    body = np.zeros((T, 22, 3))
    hip = {"l": zero.copy(), "r": zero.copy()}
    knee = {"l": zero.copy(), "r": zero.copy()}
    ankle = {"l": zero.copy(), "r": zero.copy()}
    shoulder_swing = {"l": zero.copy(), "r": zero.copy()}
    elbow = {"l": np.full(T, 0.2), "r": np.full(T, 0.2)}
    lean, yaw_sway, speed, lift = zero.copy(), zero.copy(), 0.0, zero.copy()
    right_arm_up = False

    if motion in ("walk", "run"):
        run = motion == "run"
        freq = rng.uniform(1.3, 1.6) if run else rng.uniform(0.8, 1.0)    # gait cycles per second
        speed = rng.uniform(2.8, 3.6) if run else rng.uniform(1.1, 1.5)   # m/s
        hip_amp, knee_amp, arm_amp = (0.75, 1.3, 0.6) if run else (0.4, 0.65, 0.3)
        g = 2 * math.pi * freq * t + phase
        for side, offset in (("l", 0.0), ("r", math.pi)):
            s = np.sin(g + offset)
            hip[side] = -hip_amp * s                                       # thigh forward = -x
            knee[side] = 0.1 + knee_amp * np.maximum(0.0, np.sin(g + offset - 1.0))  # bend in the swing phase
            ankle[side] = -0.2 * s
            shoulder_swing[side] = -arm_amp * np.sin(g + offset + math.pi)  # arms opposite the legs
        elbow = {"l": np.full(T, 1.4 if run else 0.3), "r": np.full(T, 1.4 if run else 0.3)}
        lean = np.full(T, 0.25 if run else 0.05)
        yaw_sway = 0.08 * np.sin(g)
        lift = (0.05 if run else 0.02) * np.abs(np.sin(g))
    elif motion == "jump":
        period = rng.uniform(1.1, 1.5)
        u = ((t + phase / (2 * math.pi) * period) % period) / period       # 0..1 within one jump
        crouch = np.where(u < 0.4, np.sin(math.pi * u / 0.4), 0.0) * 0.6   # bend before take-off
        flight = np.where(u >= 0.4, np.sin(math.pi * (u - 0.4) / 0.6), 0.0)
        for side in ("l", "r"):
            hip[side] = -crouch
            knee[side] = 2 * crouch
            ankle[side] = -crouch + 0.3 * flight
            shoulder_swing[side] = -1.2 * flight + 0.5 * crouch
        lean = 0.4 * crouch
        lift = rng.uniform(0.25, 0.4) * flight - 0.25 * crouch
    elif motion == "wave":
        right_arm_up = True
        g = 2 * math.pi * rng.uniform(1.2, 2.0) * t + phase
        elbow["r"] = 0.6 + 0.4 * np.sin(g)
        yaw_sway = 0.03 * np.sin(0.5 * g)
    else:  # idle: weight shifts and breathing
        g = 2 * math.pi * rng.uniform(0.15, 0.3) * t + phase
        yaw_sway = 0.05 * np.sin(g)
        lean = 0.03 * np.sin(2 * g)
        for side in ("l", "r"):
            knee[side] = 0.05 + 0.03 * np.sin(g)
            shoulder_swing[side] = 0.05 * np.sin(g)

    body[:, _L_HIP], body[:, _R_HIP] = _axis(hip["l"], 0), _axis(hip["r"], 0)
    body[:, _L_KNEE], body[:, _R_KNEE] = _axis(knee["l"], 0), _axis(knee["r"], 0)
    body[:, _L_ANKLE], body[:, _R_ANKLE] = _axis(ankle["l"], 0), _axis(ankle["r"], 0)
    body[:, _SPINE1] = _axis(lean, 0)                                      # +x leans the trunk forward
    body[:, _SPINE2] = _axis(-0.5 * yaw_sway, 1)                           # shoulders counter-rotate the hips
    # Arms hang from the T-pose: rotate about z (left -, right +), then swing forward/back about x.
    body[:, _L_SHOULDER] = _compose(_axis(shoulder_swing["l"], 0), _axis(np.full(T, -1.3), 2))
    body[:, _L_ELBOW] = _axis(-elbow["l"], 1)                              # forearm forward
    if right_arm_up:  # raised to ~60 deg above horizontal, forearm waving up and down
        body[:, _R_SHOULDER] = _axis(np.full(T, -1.0), 2)
        body[:, _R_ELBOW] = _axis(-elbow["r"], 2)
    else:
        body[:, _R_SHOULDER] = _compose(_axis(shoulder_swing["r"], 0), _axis(np.full(T, 1.3), 2))
        body[:, _R_ELBOW] = _axis(elbow["r"], 1)
    # Root: heading about world z, then AMASS's Z-up turn, then the body's own sway about its vertical (y).
    body[:, 0] = _compose(_axis(heading_t, 2), _axis(np.full(T, math.pi / 2), 0), _axis(yaw_sway, 1))

    forward = np.stack([np.sin(heading_t), -np.cos(heading_t)], axis=1)
    trans = np.zeros((T, 3))
    trans[:, :2] = rng.uniform(-2, 2, 2) + np.cumsum(speed * forward / fps, axis=0) - speed * forward[0] / fps
    trans[:, 2] = STANDING_TRANS_Z + lift
    return body.reshape(T, 66), trans


def full_poses(body: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Body poses [T, 66] -> the kind's full pose vector (hands slightly curled, jaw/eyes still)."""
    T = body.shape[0]
    out = np.zeros((T, POSE_WIDTH[kind]))
    out[:, :66] = body
    if kind == "smplh":
        out[:, 66:156] = np.tile(rng.normal(0.0, 0.1, 90), (T, 1))
    elif kind == "smplx":
        out[:, 75:165] = np.tile(rng.normal(0.0, 0.1, 90), (T, 1))
    return out


# --- files ------------------------------------------------------------------------------------------------

def _gender_array(gender: str, as_bytes: bool) -> np.ndarray:
    return np.array(gender.encode()) if as_bytes else np.array(gender)


def _markers(rng: np.random.Generator, count: int = 8) -> dict:
    labels = np.array([f"M{i:02d}" for i in range(count)])
    return {
        "markers_latent": rng.normal(0.0, 0.3, (count, 3)),
        "latent_labels": labels,
        # A dict in an object array: exactly what makes naive np.load(allow_pickle=False) readers fail.
        "markers_latent_vids": np.array({str(k): int(v) for k, v in zip(labels, rng.integers(0, 10475, count))},
                                        dtype=object),
    }


def write_sequence(path: PathLike, kind: str = "smplh", motion: str = "walk", seconds: float = 4.0,
                   fps: float = 120.0, gender: str = "male", seed: int = 0, gender_as_bytes: bool = False,
                   betas: Optional[np.ndarray] = None, heading: Optional[float] = None) -> Path:
    """Write one motion file in the real layout of `kind` ("smplh", "smplx" or "smpl"); returns its path.

    The frame count is round(seconds * fps) (at least 1). `betas` defaults to a seeded random body shape."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    rng = np.random.default_rng(seed)
    T = max(1, int(round(seconds * fps)))
    body, trans = motion_curves(motion, T, fps, rng, heading)
    poses = full_poses(body, kind, rng)
    if betas is None:
        betas = rng.normal(0.0, 0.8, NUM_BETAS[kind])
    betas = np.asarray(betas, dtype=np.float64)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = np.array(float(fps))
    if kind == "smplx":
        np.savez(path, gender=_gender_array(gender, gender_as_bytes), surface_model_type=np.array("smplx"),
                 mocap_frame_rate=rate, mocap_time_length=np.array(T / float(fps)), **_markers(rng),
                 trans=trans, poses=poses, betas=betas, num_betas=np.array(len(betas)),
                 root_orient=poses[:, 0:3], pose_body=poses[:, 3:66], pose_hand=poses[:, 75:165],
                 pose_jaw=poses[:, 66:69], pose_eye=poses[:, 69:75])
    elif kind == "smplh":
        np.savez(path, trans=trans, gender=_gender_array(gender, gender_as_bytes), mocap_framerate=rate,
                 betas=betas, dmpls=rng.normal(0.0, 0.1, (T, 8)), poses=poses)
    else:
        np.savez(path, poses=poses, trans=trans, betas=betas, gender=_gender_array(gender, gender_as_bytes),
                 mocap_framerate=rate)
    return path


def write_shape(path: PathLike, betas: np.ndarray, gender: str = "female", gender_as_bytes: bool = False) -> Path:
    """A subject's `shape.npz` (betas, gender): no motion."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, betas=np.asarray(betas, dtype=np.float64), gender=_gender_array(gender, gender_as_bytes))
    return path


def write_stagei(path: PathLike, betas: np.ndarray, gender: str = "male", seed: int = 0) -> Path:
    """An SMPL-X `*_stagei.npz` (subject shape and marker layout, object arrays included): no motion."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    np.savez(path, gender=np.array(gender), surface_model_type=np.array("smplx"),
             betas=np.asarray(betas, dtype=np.float64), num_betas=np.array(len(betas)), **_markers(rng))
    return path


# --- dataset-like trees -------------------------------------------------------------------------------------

# folder -> (frame rates to draw from, whether subjects carry a shape.npz, name template). Templates get
# s (subject number), i (trial number), m (motion), M (Motion) and name the file without its suffix.
DATASET_LAYOUTS: dict[str, tuple[tuple[float, ...], bool, str]] = {
    "CMU": ((120.0, 120.0, 60.0), False, "{s:02d}/{s:02d}_{i:02d}"),
    "ACCAD": ((120.0,), False, "Male{s}{M}_c3d/{M[0]} B{i} - {M} turn left 45"),
    "BMLmovi": ((120.0,), True, "Subject_{s}_F_MoSh/Subject_{s}_F_{i}"),
    "MPI_HDM05": ((120.0,), False, "bk/HDM_bk_{s:02d}-{i:02d}_01_120"),
    "KIT": ((100.0,), False, "{s}/{m}_medium{i:02d}"),
    "TotalCapture": ((60.0,), False, "s{s}/{m}{i}"),
    "SSM_synced": ((59.99999, 120.00005), False, "20160330_0333{s}/{m}_{i}_sync"),
    "Eyes_Japan_Dataset": ((120.0, 250.0), False, "aita{s}/{m}-{i:02d}-normal-aita"),
}


def _subject_betas(seed: int, folder: str, subject: int, kind: str) -> np.ndarray:
    key = [seed, sum(map(ord, folder)), subject]
    return np.random.default_rng(key).normal(0.0, 0.8, NUM_BETAS[kind])


def make_tree(root: PathLike, datasets: Optional[Iterable[str]] = None, files_per_dataset: int = 4,
              seconds: tuple[float, float] = (2.0, 6.0), seed: int = 0, kind: str = "smplh",
              subjects_per_dataset: int = 2) -> list[Path]:
    """Write a dataset-like AMASS tree under `root` (e.g. CMU/01/01_01_poses.npz); returns the written paths,
    motion files and no-motion files (shape.npz, *_stagei.npz), sorted.

    `datasets` are extracted folder names (keys of DATASET_LAYOUTS; default: all). `kind="smplx"` writes the
    SMPL-X release layout (*_stageii.npz, one {gender}_stagei.npz per subject). Deterministic given `seed`."""
    root = Path(root)
    names = list(DATASET_LAYOUTS) if datasets is None else list(datasets)
    suffix = "_stageii.npz" if kind == "smplx" else "_poses.npz"
    written: list[Path] = []
    for d, folder in enumerate(names):
        if folder not in DATASET_LAYOUTS:
            raise ValueError(f"no synthetic layout for dataset folder {folder!r}; known: {', '.join(DATASET_LAYOUTS)}")
        rates, has_shape, template = DATASET_LAYOUTS[folder]
        subject_files: dict[Path, tuple[int, str]] = {}
        for n in range(files_per_dataset):
            rng = np.random.default_rng([seed, d, n])
            subject = 1 + n % max(1, subjects_per_dataset)
            motion = MOTIONS[int(rng.integers(len(MOTIONS)))]
            gender = "female" if "_F_" in template or rng.random() < 0.4 else "male"
            rel = template.format(s=subject, i=1 + n // max(1, subjects_per_dataset), m=motion,
                                  M=motion.capitalize())
            path = root / folder / (rel + suffix)
            write_sequence(path, kind, motion, seconds=float(rng.uniform(*seconds)),
                           fps=float(rates[int(rng.integers(len(rates)))]), gender=gender,
                           seed=int(rng.integers(2**31)), gender_as_bytes=bool(rng.random() < 0.3),
                           betas=_subject_betas(seed, folder, subject, kind))
            written.append(path)
            subject_files.setdefault(path.parent, (subject, gender))
        for subject_dir, (subject, gender) in subject_files.items():
            betas = _subject_betas(seed, folder, subject, kind)
            if kind == "smplx":
                written.append(write_stagei(subject_dir / f"{gender}_stagei.npz", betas, gender, seed))
            elif has_shape:
                written.append(write_shape(subject_dir / "shape.npz", betas, gender))
    return sorted(written)


def make_archive(tree_root: PathLike, dataset_folder: str, out_path: PathLike, compresslevel: int = 9) -> Path:
    """Pack `tree_root/dataset_folder` into a .tar.bz2 whose top folder is the dataset folder, as AMASS ships.
    Members are sorted and their metadata fixed, so the same tree gives the same bytes."""
    src = Path(tree_root) / dataset_folder
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: no such dataset folder to archive")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 1_600_000_000
        return info

    with tarfile.open(out_path, "w:bz2", compresslevel=compresslevel) as tar:
        tar.add(src, arcname=dataset_folder, recursive=False, filter=normalise)
        for path in sorted(src.rglob("*")):
            tar.add(path, arcname=f"{dataset_folder}/{path.relative_to(src).as_posix()}", recursive=False,
                    filter=normalise)
    return out_path


def make_demo_tree(root: PathLike, seed: int = 0) -> list[Path]:
    """A small mixed tree for `amass-fast demo` (~20 files, 5 datasets, 60/100/120/250/59.99999 fps, a shape.npz,
    one SMPL-X file with its stage-i file); writes in well under 2 s. Returns the written paths, sorted."""
    root = Path(root)
    paths = make_tree(root, ["CMU", "ACCAD", "BMLmovi", "KIT"], files_per_dataset=3, seconds=(4.0, 12.0), seed=seed)
    extra = (  # (path, motion, seconds, fps, gender, gender as bytes): one per remaining real frame rate
        ("SSM_synced/20160330_03333/walk_1_sync_poses.npz", "walk", 9.0, 59.99999, "male", False),
        ("Eyes_Japan_Dataset/aita/run-01-normal-aita_poses.npz", "run", 6.0, 250.0, "male", False),
        ("TotalCapture/s1/jump1_poses.npz", "jump", 12.0, 60.0, "female", True),
        ("MPI_HDM05/bk/HDM_bk_03-02_01_120_poses.npz", "wave", 8.0, 120.0, "male", False),
    )
    for n, (rel, motion, seconds, fps, gender, as_bytes) in enumerate(extra):
        paths.append(write_sequence(root / rel, "smplh", motion, seconds=seconds, fps=fps, gender=gender,
                                    seed=seed + 1 + n, gender_as_bytes=as_bytes))
    betas = _subject_betas(seed, "DFaust_67", 1, "smplx")
    paths.append(write_sequence(root / "DFaust_67/50002/50002_running_on_spot_stageii.npz", "smplx", "run",
                                seconds=5.0, fps=60.0, gender="male", seed=seed + 9, betas=betas))
    paths.append(write_stagei(root / "DFaust_67/50002/male_stagei.npz", betas, "male", seed))
    return sorted(paths)

