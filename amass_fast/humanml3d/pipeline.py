"""The whole HumanML3D build: AMASS + HumanML3D's repository -> its ``HumanML3D/`` folder.

:func:`build` writes, under ``out``: ``new_joints/NAME.npy`` [T-1, 22, 3] and ``new_joint_vecs/NAME.npy`` [T-1, 263]
(float32) for every index.csv row and its mirror ``MNAME``, ``Mean.npy`` and ``Std.npy`` [263], ``texts/`` (the
repository's captions) and the split files. Clips are made file by file (stage 1), their features batched across
clips (amass_fast.humanml3d.kernels), every file written under a temporary name first.
"""
from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from amass_fast.humanml3d import reference
from amass_fast.humanml3d.constants import (FEATURE_GROUPS, HUMANACT12, NUM_FEATURES, NUM_JOINTS, SPLIT_FILES,
                                            TARGET_CLIP)
from amass_fast.humanml3d.kernels import features_batch, recover_batch
from amass_fast.humanml3d.source import (RESAMPLING, HumanAct12, IndexRow, SourceError, amass_joints, read_index)

PathLike = Union[str, "os.PathLike[str]"]
SETTINGS_FILE = ".amass-fast-humanml3d.json"  # what a --resume must match
JOINTS_DIR, VECS_DIR, TEXTS_DIR = "new_joints", "new_joint_vecs", "texts"


class BuildError(ValueError):
    """Inputs or outputs that stop the whole build; the message names the file or flag and what to do."""


@dataclass
class Report:
    """What a build did: clips written (mirrors included), rows already there (--resume), rows HumanML3D itself
    gives no files for (fewer than 2 frames), and rows that failed with the reason."""
    written: int = 0
    resumed: int = 0
    frames: int = 0
    too_short: list = field(default_factory=list)  # names
    failed: list = field(default_factory=list)  # (name, reason)
    mean_std_clips: int = 0
    nan_clips: list = field(default_factory=list)


def load_models(body_model: PathLike) -> dict:
    """HumanML3D's two SMPL+H models (male, female) from a folder as AMASS ships them (smplh/{male,female}/model.npz)
    or as smplx names them (SMPLH_MALE.npz ...). Raises BuildError naming the folder."""
    from amass_fast.io.body_models import BodyModelError, load_body_model

    models = {}
    for gender in ("male", "female"):
        try:
            model = load_body_model(body_model, gender)
        except BodyModelError as exc:
            raise BuildError(f"--body-model: {exc}; HumanML3D needs the SMPL+H male and female models "
                             "(smplh/male/model.npz, smplh/female/model.npz from the AMASS download page; no DMPL "
                             "files)") from exc
        if model.kind != "smplh" or model.gender != gender:
            raise BuildError(f"--body-model {body_model}: found {model.path} ({model.kind}, {model.gender}); "
                             f"HumanML3D needs the SMPL+H {gender} model (smplh/{gender}/model.npz)")
        models[gender] = model
    return models


def amass_files(amass_root: PathLike) -> dict:
    """sequence_key -> path of every SMPL+H motion file (*_poses.npz first) under the AMASS root, flat or nested."""
    from amass_fast.io.tree import iter_motion_files
    from amass_fast.labels.identity import sequence_key

    found: dict = {}
    for path in iter_motion_files(amass_root):
        key = sequence_key(path.relative_to(amass_root).as_posix())
        if key not in found or path.name.endswith("_poses.npz"):
            found[key] = path
    return found


def plan_rows(rows: list) -> list:
    """Rows grouped by source file in first-appearance order, the file of TARGET_CLIP first: [(source, [rows])]."""
    groups: dict = {}
    for row in rows:
        groups.setdefault(row.source_path, []).append(row)
    target = next((r.source_path for r in rows if r.name == TARGET_CLIP), None)
    order = sorted(groups, key=lambda s: s != target)
    return [(s, groups[s]) for s in order]


class _Writer:
    """Writes one clip's two files atomically; pending clips are featurised in batches."""

    def __init__(self, out: Path, lengths: np.ndarray, backend: str, report: Report, batch: int):
        self.out, self.lengths, self.backend, self.report, self.batch = out, lengths, backend, report, batch
        self.pending: list = []

    def add(self, name: str, clip: np.ndarray) -> None:
        self.pending.append((name, clip))
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        from amass_fast.io.atomic import replacing

        if not self.pending:
            return
        vecs = features_batch([c for _, c in self.pending], self.lengths, backend=self.backend)
        vecs32 = [v.astype(np.float32) for v in vecs]
        recovered = recover_batch(vecs32, backend=self.backend)  # new_joints from the float32 features
        for (name, _), v32, joints in zip(self.pending, vecs32, recovered):
            joints = joints.astype(np.float32)
            if len(joints) == 1:  # HumanML3D's .squeeze(): a 2-frame clip's new_joints is (22, 3)
                joints = joints[0]
            for folder, array in ((JOINTS_DIR, joints), (VECS_DIR, v32)):
                with replacing(self.out / folder / f"{name}.npy") as tmp:
                    with open(tmp, "wb") as handle:
                        np.save(handle, array)
            self.report.written += 1
            self.report.frames += len(v32)
        self.pending.clear()


def _done(out: Path, name: str) -> bool:
    return all((out / folder / f"{n}.npy").is_file() for folder in (JOINTS_DIR, VECS_DIR) for n in (name, "M" + name))


def _prepare_out(out: Path, settings: dict, resume: bool, overwrite: bool) -> None:
    from amass_fast.io.atomic import remove_all, write_bytes

    marker = out / SETTINGS_FILE
    if out.exists() and any(out.iterdir()):
        if resume:
            try:
                before = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                before = None
            if before != settings:
                raise BuildError(f"--resume: {out} was not written by `amass-fast humanml3d` with the same "
                                 f"settings ({marker} says {before}, this run {settings}); use the same flags, "
                                 "or --overwrite to start again")
        elif overwrite:
            for folder in (JOINTS_DIR, VECS_DIR):
                for path in (out / folder).glob("*.npy") if (out / folder).is_dir() else ():
                    path.unlink()
        else:
            raise BuildError(f"--out {out}: exists and is not empty; add --resume to finish an interrupted run or "
                             "--overwrite to replace what is there")
    for folder in (JOINTS_DIR, VECS_DIR):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for folder in (out, out / JOINTS_DIR, out / VECS_DIR, out / TEXTS_DIR):
        remove_all(folder)  # what a killed run left half-written (a stopped one removes its own)
    write_bytes(marker, json.dumps(settings).encode("utf-8"))


class MeanStd:
    """Streaming cal_mean_variance: add clips [T, 263] one at a time (float64 sums, Chan's merge); clips holding a
    NaN are skipped, as HumanML3D skips them. result() -> (Mean, Std) as reference.mean_std."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, np.zeros(NUM_FEATURES), np.zeros(NUM_FEATURES)

    def add(self, vecs: np.ndarray) -> bool:
        vecs = np.asarray(vecs, dtype=np.float64)
        if np.isnan(vecs).any():
            return False
        k = len(vecs)
        if k == 0:
            return True
        mean_b = vecs.mean(0)
        m2_b = ((vecs - mean_b) ** 2).sum(0)
        delta = mean_b - self.mean
        total = self.n + k
        self.mean = self.mean + delta * (k / total)
        self.m2 = self.m2 + m2_b + delta ** 2 * (self.n * k / total)
        self.n = total
        return True

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        if self.n == 0:
            raise BuildError("no clip without NaN was made: Mean and Std cannot be computed")
        std = np.sqrt(self.m2 / self.n)
        for a, b in FEATURE_GROUPS:
            std[a:b] = std[a:b].mean()
        return self.mean.copy(), std


def _copy_texts(texts: Path, out: Path) -> int:
    """The repository's captions into out/texts/ (from texts.zip or a texts/ folder), as they are."""
    from amass_fast.io.atomic import replacing

    folder = out / TEXTS_DIR
    folder.mkdir(exist_ok=True)
    count = 0
    if texts.is_dir():
        items = ((p.name, p.read_bytes) for p in sorted(texts.glob("*.txt")))
    else:
        archive = zipfile.ZipFile(texts)
        items = ((i.filename.rsplit("/", 1)[-1], (lambda i=i: archive.read(i)))
                 for i in archive.infolist() if not i.is_dir() and i.filename.endswith(".txt"))
    for name, read in items:
        if not name or name.startswith("."):
            continue
        with replacing(folder / name) as tmp:
            tmp.write_bytes(read())
        count += 1
    return count


def build(amass_root: PathLike, humanml3d: PathLike, body_model: PathLike, out: PathLike, *,
          resampling: str = "stride", backend: str = "auto", resume: bool = False, overwrite: bool = False,
          batch: int = 512, progress: Optional[Callable[[int], None]] = None,
          on_failure: Optional[Callable[[str, str], None]] = None) -> Report:
    """Make HumanML3D's folder at ``out`` (see the module docstring). ``progress(n)`` is called as index rows are
    done; ``on_failure(name, reason)`` for each row that fails (the build goes on). Raises BuildError for inputs
    that stop everything (no index.csv, missing models, the target clip 000021 not makeable, an output in use)."""
    from amass_fast.labels.humanml3d import humanml3d_index
    from amass_fast.labels.identity import sequence_key

    if resampling not in RESAMPLING:
        raise BuildError(f"--resampling must be one of {', '.join(RESAMPLING)}, got {resampling!r}")
    amass_root, repo, out = Path(amass_root), Path(humanml3d), Path(out)
    if not amass_root.is_dir():
        raise BuildError(f"--amass-root {amass_root}: no such folder; pass the extracted AMASS SMPL+H tree")
    try:
        index = humanml3d_index(str(repo))
        rows = read_index(index.index_csv)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise BuildError(f"--humanml3d: {exc}") from exc
    models = load_models(body_model)
    files = amass_files(amass_root)
    act12 = HumanAct12(index.index_csv.parent)
    settings = {"resampling": resampling, "index_rows": len(rows)}
    _prepare_out(out, settings, resume, overwrite)
    report = Report()

    def file_joints(source: str):
        if HUMANACT12 in source:
            return act12.load(source)
        path = files.get(sequence_key(source))
        if path is None:
            raise SourceError(f"{source}: no such motion under {amass_root} (looked for "
                              f"{source.replace('./pose_data/', '').rsplit('.', 1)[0]}.npz, flat or nested by "
                              "archive name); download and extract its AMASS dataset (SMPL+H)")
        return amass_joints(path, models, resampling)

    def clip_of(loaded, row: IndexRow) -> np.ndarray:
        if isinstance(loaded, np.ndarray):  # HumanAct12: the shipped joints as they are
            return np.asarray(loaded, dtype=np.float64)
        return loaded.clip(row)

    plan = plan_rows(rows)
    target_row = next((r for r in rows if r.name == TARGET_CLIP), None)
    if target_row is None:
        raise BuildError(f"{index.index_csv}: no row {TARGET_CLIP}; HumanML3D retargets every clip onto its "
                         "skeleton, so it is needed")
    try:
        target = clip_of(file_joints(target_row.source_path), target_row)
    except (SourceError, OSError, ValueError, MemoryError) as exc:
        raise BuildError(f"the target clip {TARGET_CLIP} cannot be made ({exc}); HumanML3D retargets every clip "
                         "onto its frame 0") from exc
    if len(target) < 1:
        raise BuildError(f"the target clip {TARGET_CLIP} has no frames in {target_row.source_path}")
    lengths = reference.skeleton_offsets(target[0, :NUM_JOINTS])
    writer = _Writer(out, lengths, backend, report, batch)

    def fail(name: str, reason: str) -> None:
        report.failed.append((name, reason))
        if on_failure is not None:
            on_failure(name, reason)

    for source, group in plan:
        todo = [r for r in group if not (resume and _done(out, r.name))]
        report.resumed += len(group) - len(todo)
        if progress is not None and len(todo) < len(group):
            progress(len(group) - len(todo))
        if not todo:
            continue
        try:
            loaded = file_joints(source)
        except (SourceError, OSError, ValueError, MemoryError) as exc:
            for row in todo:
                fail(row.name, str(exc))
            if progress is not None:
                progress(len(todo))
            continue
        for row in todo:
            try:
                clip = clip_of(loaded, row)[:, :NUM_JOINTS]
            except (ValueError, IndexError) as exc:
                fail(row.name, f"{source}: {exc}")
                continue
            if len(clip) < 2:
                report.too_short.append(row.name)
            else:
                writer.add(row.name, clip)
                writer.add("M" + row.name, reference.mirror(clip))
        if progress is not None:
            progress(len(todo))
    writer.flush()

    stats = MeanStd()
    names = [n for r in rows for n in (r.name, "M" + r.name)]
    for name in names:
        path = out / VECS_DIR / f"{name}.npy"
        if path.is_file():
            if stats.add(np.load(path, allow_pickle=False)):
                report.mean_std_clips += 1
            else:
                report.nan_clips.append(name)
    mean, std = stats.result()
    from amass_fast.io.atomic import replacing

    for fname, array in (("Mean.npy", mean), ("Std.npy", std)):
        with replacing(out / fname) as tmp:
            with open(tmp, "wb") as handle:
                np.save(handle, array.astype(np.float32))
    _copy_texts(index.texts, out)
    split_dir = index.index_csv.parent / "HumanML3D"
    for split in SPLIT_FILES:
        if (split_dir / split).is_file() and (split_dir / split).resolve() != (out / split).resolve():
            shutil.copyfile(split_dir / split, out / split)
    return report

