"""Benchmark of `amass-fast humanml3d` on a synthetic HumanML3D setup, checked against the float64 reference first.

    python benches/bench_humanml3d.py [--copies 4] [--vertices 6890] [--repeat 3] [--root DIR] [--json]

Setup (amass_fast.harness.humanml3d_synthetic, written once into --root and reused when it matches): SMPL+H model files in
AMASS's layout (--vertices each) and --copies times the synthetic motion list (datasets with head trims, 59.94, 60,
100, 120, 150 and 250 fps, genders stored as bytes, a 1-frame and a 2-frame row, the target clip 000021 once) at
index.csv paths, plus two HumanAct12 rows.

Steps:
    check      the whole build with the default backend and with backend="reference" (float64 NumPy, one clip at a
               time): same files, new_joints within 1e-4 m, new_joint_vecs within 1e-3 per feature (contacts equal
               except where a foot speed lies within 1e-6 of the threshold), Mean/Std within 1e-4 relative
    build      the whole build (stage 1, features, new_joints, Mean/Std, texts, splits) with --overwrite, best of
               --repeat: clips (mirrors included) and frames (new_joint_vecs rows) per second
    features   the feature math alone (kernels.features_batch over every clip at once), best of --repeat

and the projection to HumanML3D's full size, 29,232 clips (14,616 and their mirrors) with 4,117,392 frames of
new_joint_vecs (the totals its motion_representation notebook prints), at the measured per-frame rate.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from amass_fast.harness import humanml3d_synthetic as synthetic  # noqa: E402
from amass_fast.humanml3d.constants import FEATURE_GROUPS  # noqa: E402

HUMANML3D_CLIPS = 29_232  # 14,616 index rows and their mirrors
HUMANML3D_FRAMES = 4_117_392  # new_joint_vecs rows, as motion_representation.ipynb prints for the real data
EXTRA_MOTIONS = (
    synthetic.Motion("./pose_data/DFaust_67/50002/50002_chicken_wings_poses.npy", 59.94, 6.0, "male", True,
                     ((0, 90), (30, 60)), "wave"),
    synthetic.Motion("./pose_data/HumanEva/S2/Walking_1_poses.npy", 60.0, 5.0, "female", False, ((2, 95),), "walk"),
)
TARGET_FILE = "WalkInCounterClockwiseCircle02"


def motions(copies: int) -> list:
    """The synthetic motion list --copies times; copies after the first get their own subject folders (and the
    target walk another name, so that 000021 stays one row)."""
    base = list(synthetic.DEFAULT_MOTIONS[:3]) + list(EXTRA_MOTIONS) + list(synthetic.DEFAULT_MOTIONS[3:])
    out = []
    for k in range(copies):
        for m in base:
            if k == 0:
                out.append(m)
                continue
            head, name = m.source_path.rsplit("/", 1)
            name = name.replace(TARGET_FILE, f"WalkInCircle{k:02d}")
            out.append(synthetic.Motion(f"{head}_{k}/{name}", m.fps, m.seconds, m.gender, m.gender_as_bytes,
                                        m.rows, m.motion))
    return out


def make_setup(root: Path, copies: int, vertices: int) -> dict:
    marker = root / "setup.json"
    spec = {"copies": copies, "vertices": vertices, "format": 1}
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return {"amass": root / "amass", "repo": root / "repo", "body_models": root / "body_models"}
    shutil.rmtree(root, ignore_errors=True)
    info = synthetic.write_setup(root, motions(copies), num_vertices=vertices, seed=3)
    marker.write_text(json.dumps(spec))
    return info


def compare(ours: Path, ref: Path) -> dict:
    """Largest differences between two builds (raises SystemExit when the file lists or tolerances differ)."""
    worst = {"new_joints": 0.0, **{f"vecs[{a}:{b}]": 0.0 for a, b in FEATURE_GROUPS}}
    names = sorted(os.listdir(ref / "new_joints"))
    for folder in ("new_joints", "new_joint_vecs"):
        if sorted(os.listdir(ours / folder)) != names:
            raise SystemExit(f"check failed: {folder} file lists differ between the backends")
    flips = 0
    for name in names:
        a, b = np.load(ours / "new_joints" / name), np.load(ref / "new_joints" / name)
        worst["new_joints"] = max(worst["new_joints"], float(np.abs(a - b.astype(np.float64)).max()))
        a, b = np.load(ours / "new_joint_vecs" / name), np.load(ref / "new_joint_vecs" / name)
        for s, e in FEATURE_GROUPS:
            d = np.abs(a[:, s:e].astype(np.float64) - b[:, s:e])
            if s == 259:
                flips += int((d > 0).sum())
            else:
                worst[f"vecs[{s}:{e}]"] = max(worst[f"vecs[{s}:{e}]"], float(d.max()))
    for fname in ("Mean.npy", "Std.npy"):
        a, b = np.load(ours / fname).astype(np.float64), np.load(ref / fname).astype(np.float64)
        std = np.load(ref / "Std.npy").astype(np.float64)
        worst[fname + " |diff|/Std"] = float((np.abs(a - b) / std).max())
    worst["contact flips"] = flips
    bad = [k for k, v in worst.items()
           if (k == "new_joints" and v > 1e-4) or (k.startswith("vecs") and v > 1e-3) or (".npy" in k and v > 1e-4)]
    if bad or flips:
        raise SystemExit(f"check failed: {bad or 'contacts'} beyond tolerance: {worst}")
    return worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--vertices", type=int, default=6890, help="model vertices (AMASS's SMPL+H: 6890)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "amass-fast-bench-humanml3d")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    import numba

    from amass_fast import kernels as fk_kernels
    from amass_fast.humanml3d import kernels, pipeline

    info = make_setup(args.root, args.copies, args.vertices)
    out, ref = args.root / "out", args.root / "out-reference"

    def build(folder: Path, backend: str = "auto"):
        return pipeline.build(info["amass"], info["repo"], info["body_models"], folder, backend=backend,
                              overwrite=True)

    build(out)  # warm-up (numba compiles or loads its cache)
    build(ref, backend="reference")
    check = compare(out, ref)

    best_build, report = float("inf"), None
    for _ in range(args.repeat):
        t = time.perf_counter()
        report = build(out)
        best_build = min(best_build, time.perf_counter() - t)

    # the feature math alone: every clip's stage-1 joints, featurised in one batch
    models = pipeline.load_models(info["body_models"])
    rows = pipeline.read_index(Path(info["repo"]) / "index.csv")
    files = pipeline.amass_files(info["amass"])
    from amass_fast.labels.identity import sequence_key
    from amass_fast.humanml3d import reference

    clips, target = [], None
    for source, group in pipeline.plan_rows(rows):
        if "humanact12" in source:
            continue
        loaded = pipeline.amass_joints(files[sequence_key(source)], models)
        for row in group:
            clip = loaded.clip(row)[:, :22]
            if row.name == "000021":
                target = reference.skeleton_offsets(clip[0])
            if len(clip) >= 2:
                clips += [clip, reference.mirror(clip)]
    best_feat = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        vecs = kernels.features_batch(clips, target)
        best_feat = min(best_feat, time.perf_counter() - t)
    feat_frames = sum(len(v) for v in vecs)

    fig = {
        "threads": {"numba": numba.get_num_threads(), "kernels": fk_kernels.get_num_threads(),
                    "cpus": os.cpu_count()},
        "check (max differences to the float64 reference)": check,
        "build": {"clips": report.written, "frames": report.frames, "seconds": best_build,
                  "clips/s": report.written / best_build, "frames/s": report.frames / best_build},
        "features": {"clips": len(clips), "frames": feat_frames, "seconds": best_feat,
                     "frames/s": feat_frames / best_feat},
        "projected (29,232 clips, 4,117,392 frames)": {
            "build s": HUMANML3D_FRAMES / (report.frames / best_build),
            "features s": HUMANML3D_FRAMES / (feat_frames / best_feat)},
    }
    if args.json:
        print(json.dumps(fig, indent=1))
    else:
        for key, value in fig.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
