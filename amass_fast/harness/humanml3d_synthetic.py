"""A synthetic HumanML3D setup for tests and benchmarks: an AMASS SMPL+H tree with motions at real index.csv paths,
a HumanML3D-like repository (index.csv, HumanML3D/texts.zip, the split files, pose_data/humanact12.zip) and SMPL+H
model files in AMASS's layout. Nothing in it is real motion or a real model.
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from amass_fast.harness import synthetic
from amass_fast.humanml3d.constants import SPLIT_FILES, TARGET_CLIP


@dataclass(frozen=True)
class Motion:
    """One synthetic AMASS file: its index.csv path, frame rate, seconds, gender as stored, and its rows
    ((start, end) in strided frames)."""
    source_path: str
    fps: float
    seconds: float
    gender: str = "male"
    gender_as_bytes: bool = False
    rows: tuple = ((0, -1),)
    motion: str = "walk"


#: Datasets with head trims, unusual rates (59.99999 -> stride 2, 250 -> 12, 150 -> 7), genders stored as bytes,
#: a 2-frame row, a 1-frame row, a span past the end, and the target clip 000021 (KIT, 100 fps), listed late.
DEFAULT_MOTIONS = (
    Motion("./pose_data/Eyes_Japan_Dataset/aita/walk-01-normal-aita_poses.npy", 120.0, 8.0, "male", False,
           ((0, 60), (20, 90))),
    Motion("./pose_data/Eyes_Japan_Dataset/hamada/turn-01-call-hamada_poses.npy", 250.0, 7.0, "female", True,
           ((5, 70),), "idle"),
    Motion("./pose_data/MPI_HDM05/dg/HDM_dg_05-02_02_120_poses.npy", 120.0, 6.5, "female", False, ((0, 40),),
           "jump"),
    Motion("./pose_data/TotalCapture/s1/acting1_poses.npy", 60.0, 5.0, "male", True, ((0, 70),), "wave"),
    Motion("./pose_data/MPI_Limits/03099/lar1_poses.npy", 120.0, 4.0, "male", False, ((3, 50),), "idle"),
    Motion("./pose_data/Transitions_mocap/mazen_c3d/jumpingjacks_kick_poses.npy", 120.0, 4.0, "male", False,
           ((0, 55),), "jump"),
    Motion("./pose_data/SSM_synced/20160330_03333/walking_poses.npy", 59.9999885559082, 3.0, "female", False,
           ((0, 80), (10, 12)), "walk"),
    Motion("./pose_data/BioMotionLab_NTroje/rub055/0020_lifting_heavy2_poses.npy", 120.0, 4.0, "female", True,
           ((4, 60), (7, 8)), "wave"),
    Motion("./pose_data/ACCAD/Female1Running_c3d/C24 -  side step left_poses.npy", 120.0, 3.0, "female", False,
           ((0, 50),), "run"),
    Motion("./pose_data/CMU/108/108_11_poses.npy", 150.0, 4.0, "male", False, ((12, 500),), "run"),
    Motion("./pose_data/KIT/4/WalkInCounterClockwiseCircle02_poses.npy", 100.0, 9.5, "male", False, ((0, 180),),
           "walk"),
)


def write_setup(root: Union[str, Path], motions: Sequence[Motion] = DEFAULT_MOTIONS, *, humanact12: int = 2,
                num_vertices: int = 400, seed: int = 0, layout: str = "flat") -> dict:
    """Write amass/, repo/ (HumanML3D's layout) and body_models/ (smplh/{male,female}/model.npz) under root.

    Rows are numbered 000000.. in the order given, except that the KIT circle walk (if present) is TARGET_CLIP
    (000021), as in HumanML3D. layout "flat" (amass/KIT/...) or "nested" (amass/KIT/KIT/..., by archive name).
    Returns {"amass": Path, "repo": Path, "body_models": Path, "rows": [(source_path, start, end, name)]}."""
    from amass_fast.io.catalog import by_folder
    from amass_fast.harness.synthetic_models import write_model

    root = Path(root)
    amass, repo, models = root / "amass", root / "repo", root / "body_models"
    for gender, offset in (("male", 1), ("female", 2)):
        write_model(models / "smplh" / gender / "model.npz", "smplh", num_vertices=num_vertices, seed=seed + offset)
    rows = []
    number = 0
    for k, m in enumerate(motions):
        rel = m.source_path.replace("./pose_data/", "")[:-len(".npy")] + ".npz"
        folder = rel.split("/", 1)[0]
        if layout == "nested":
            dataset = by_folder(folder)
            rel = f"{dataset.name if dataset else folder}/{rel}"
        synthetic.write_sequence(amass / rel, "smplh", m.motion, seconds=m.seconds, fps=m.fps, gender=m.gender,
                                 seed=seed * 1000 + k, gender_as_bytes=m.gender_as_bytes)
        for start, end in m.rows:
            if "WalkInCounterClockwiseCircle02" in m.source_path:
                name = TARGET_CLIP
            else:
                number += number == int(TARGET_CLIP)
                name = f"{number:06d}"
                number += 1
            rows.append((m.source_path, start, end, f"{name}.npy"))
    rng = np.random.default_rng(seed)
    act_zip = io.BytesIO()
    with zipfile.ZipFile(act_zip, "w") as archive:
        for i in range(humanact12):
            name = f"P0{i}G01R01F0001T0050A0101.npy"
            joints = rng.normal(0.0, 0.02, (30 + 5 * i, 24, 3)).cumsum(0) + synthetic_rest24()
            buffer = io.BytesIO()
            np.save(buffer, joints.astype(np.float32))
            archive.writestr(f"humanact12/{name}", buffer.getvalue())
            rows.append((f"./pose_data/humanact12/humanact12/{name}", 0, -1, f"{number + 100 + i:06d}.npy"))
    (repo / "pose_data").mkdir(parents=True, exist_ok=True)
    (repo / "pose_data" / "humanact12.zip").write_bytes(act_zip.getvalue())
    with open(repo / "index.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source_path", "start_frame", "end_frame", "new_name"])
        writer.writerows(rows)
    folder = repo / "HumanML3D"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "texts.zip", "w") as archive:
        for *_, name in rows:
            stem = name[:-4]
            archive.writestr(f"texts/{stem}.txt", f"a person walks forward.#a/DET person/NOUN#0.0#0.0\n")
            archive.writestr(f"texts/M{stem}.txt", f"a person walks forward mirrored.#a/DET person/NOUN#0.0#0.0\n")
    names = [n[:-4] for *_, n in rows]
    for split in SPLIT_FILES:
        (folder / split).write_text("\n".join(names) + "\n", encoding="utf-8")
    return {"amass": amass, "repo": repo, "body_models": models, "rows": rows}


def synthetic_rest24() -> np.ndarray:
    """24 joints of a standing body (HumanAct12's joint count), Y up."""
    from amass_fast.io.body_models import default_rest_joints

    body = default_rest_joints()
    return np.concatenate([body, body[20:22] + np.array([[0.08, 0.0, 0.0], [-0.08, 0.0, 0.0]])])


def expected_names(rows: Sequence[tuple], too_short: Optional[set] = None) -> set:
    """The file names HumanML3D writes for these rows (both the clip and its mirror), leaving out too_short."""
    stems = [r[3][:-4] for r in rows if r[3][:-4] not in (too_short or set())]
    return {f"{p}{s}.npy" for s in stems for p in ("", "M")}
