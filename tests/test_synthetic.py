"""Synthetic AMASS: exact key layouts, Z-up upright bodies, plausible motions, deterministic trees and archives."""
from __future__ import annotations

import math
import tarfile
import zipfile

import numpy as np
import pytest

from amass_fast.kernels import reference
from amass_fast.harness import synthetic

# Approximate SMPL neutral rest joints (Y-up, metres), enough to check posture and direction of motion.
SMPL_REST = np.array([
    [-0.002, -0.241, 0.029], [0.059, -0.327, 0.022], [-0.060, -0.331, 0.021], [0.004, -0.114, 0.001],
    [0.104, -0.709, 0.027], [-0.106, -0.710, 0.026], [0.008, 0.019, 0.025], [0.085, -1.128, -0.014],
    [-0.086, -1.130, -0.016], [0.001, 0.078, 0.027], [0.119, -1.190, 0.121], [-0.118, -1.188, 0.120],
    [-0.002, 0.291, -0.012], [0.076, 0.200, 0.002], [-0.075, 0.199, -0.005], [0.005, 0.360, 0.049],
    [0.199, 0.237, -0.014], [-0.192, 0.237, -0.018], [0.454, 0.220, -0.042], [-0.452, 0.221, -0.043],
    [0.715, 0.236, -0.042], [-0.720, 0.239, -0.047]])

SMPLH_KEYS = {"trans", "gender", "mocap_framerate", "betas", "dmpls", "poses"}
SMPLX_KEYS = {"gender", "surface_model_type", "mocap_frame_rate", "mocap_time_length", "markers_latent",
              "latent_labels", "markers_latent_vids", "trans", "poses", "betas", "num_betas", "root_orient",
              "pose_body", "pose_hand", "pose_jaw", "pose_eye"}


def joints_of(path, stride=10):
    with np.load(path, allow_pickle=False) as f:
        poses, trans = f["poses"][::stride], f["trans"][::stride]
    return reference.fk(poses[:, :66], trans, SMPL_REST, reference.BODY_PARENTS)


def test_smplh_layout_exact(tmp_path):
    p = synthetic.write_sequence(tmp_path / "a_poses.npz", "smplh", "walk", seconds=2.0, fps=120.0,
                                 gender="female", gender_as_bytes=True)
    with np.load(p, allow_pickle=False) as f:
        assert set(f.files) == SMPLH_KEYS
        assert f["poses"].shape == (240, 156) and f["poses"].dtype == np.float64
        assert f["trans"].shape == (240, 3) and f["dmpls"].shape == (240, 8) and f["betas"].shape == (16,)
        assert f["mocap_framerate"].shape == () and f["mocap_framerate"].dtype == np.float64
        assert f["gender"].dtype.kind == "S" and f["gender"].item() == b"female"
        assert all(f[k].dtype == np.float64 for k in ("trans", "dmpls", "betas"))


def test_smplx_layout_needs_pickle_for_markers(tmp_path):
    p = synthetic.write_sequence(tmp_path / "a_stageii.npz", "smplx", "run", seconds=1.0, fps=60.0)
    with np.load(p, allow_pickle=False) as f:
        assert set(f.files) == SMPLX_KEYS
        poses = f["poses"]
        assert poses.shape == (60, 165)
        assert str(f["surface_model_type"]) == "smplx" and float(f["mocap_frame_rate"]) == 60.0
        # The split keys are views of the full vector, as in the real release.
        np.testing.assert_array_equal(f["root_orient"], poses[:, :3])
        np.testing.assert_array_equal(f["pose_body"], poses[:, 3:66])
        np.testing.assert_array_equal(f["pose_jaw"], poses[:, 66:69])
        np.testing.assert_array_equal(f["pose_eye"], poses[:, 69:75])
        np.testing.assert_array_equal(f["pose_hand"], poses[:, 75:165])
        assert f["mocap_time_length"] == pytest.approx(1.0)
        with pytest.raises(ValueError, match="pickle"):
            f["markers_latent_vids"]


def test_smpl_layout(tmp_path):
    p = synthetic.write_sequence(tmp_path / "s_poses.npz", "smpl", "idle", seconds=1.0, fps=30.0)
    with np.load(p, allow_pickle=False) as f:
        assert f["poses"].shape == (30, 72) and f["betas"].shape == (10,)


@pytest.mark.parametrize("motion", synthetic.MOTIONS)
def test_bodies_stand_upright_in_z_up_world(tmp_path, motion):
    p = synthetic.write_sequence(tmp_path / f"{motion}_poses.npz", "smplh", motion, seconds=3.0, fps=60.0, seed=3)
    j = joints_of(p)
    head, pelvis = j[:, reference.HEAD, 2], j[:, reference.PELVIS, 2]
    ankles = j[:, [reference.L_ANKLE, reference.R_ANKLE], 2]
    assert np.all(head > pelvis + 0.4), "head well above pelvis: the Z-up root rotation is applied"
    assert np.all(pelvis > ankles.max(axis=1) + 0.3)
    # Feet near the ground (ankles ~0.05-0.15 m in SMPL) except while jumping.
    low = ankles.min(axis=1)
    assert -0.05 < np.median(low) < 0.2


@pytest.mark.parametrize("motion, lo, hi", [("walk", 1.0, 1.6), ("run", 2.6, 3.8)])
def test_walk_and_run_move_forward_the_way_the_body_faces(tmp_path, motion, lo, hi):
    p = synthetic.write_sequence(tmp_path / "m_poses.npz", "smplh", motion, seconds=2.0, fps=100.0, seed=5,
                                 heading=0.7)
    with np.load(p, allow_pickle=False) as f:
        trans = f["trans"]
    speed = np.linalg.norm(trans[-1, :2] - trans[0, :2]) / (len(trans) / 100.0)
    assert lo < speed < hi
    j = joints_of(p, stride=1)
    left = j[0, reference.L_HIP] - j[0, reference.R_HIP]
    forward = np.cross(left, [0.0, 0.0, 1.0])  # facing = (body's left) x up
    step = trans[20, :2] - trans[0, :2]
    cos = forward[:2] @ step / (np.linalg.norm(forward[:2]) * np.linalg.norm(step))
    assert cos > 0.95, "translation goes where the pelvis faces"
    assert np.allclose(step / np.linalg.norm(step), [math.sin(0.7), -math.cos(0.7)], atol=0.05)


def test_jump_leaves_the_ground(tmp_path):
    p = synthetic.write_sequence(tmp_path / "j_poses.npz", "smplh", "jump", seconds=3.0, fps=60.0, seed=1)
    with np.load(p, allow_pickle=False) as f:
        trans = f["trans"]
    assert trans[:, 2].max() - synthetic.STANDING_TRANS_Z > 0.2
    assert np.ptp(trans[:, :2], axis=0).max() < 1e-9  # straight up, no forward travel


def test_wave_raises_the_right_wrist_above_the_head(tmp_path):
    p = synthetic.write_sequence(tmp_path / "w_poses.npz", "smplh", "wave", seconds=2.0, fps=30.0)
    j = joints_of(p, stride=1)
    assert np.all(j[:, reference.R_WRIST, 2] > j[:, reference.R_SHOULDER, 2] + 0.2)
    assert np.all(j[:, reference.L_WRIST, 2] < j[:, reference.L_SHOULDER, 2] - 0.3)


def test_headings_vary_between_files(tmp_path):
    headings = []
    for seed in range(6):
        p = synthetic.write_sequence(tmp_path / f"{seed}_poses.npz", "smplh", "idle", seconds=0.5, fps=30.0,
                                     seed=seed)
        j = joints_of(p)
        left = j[0, reference.L_HIP] - j[0, reference.R_HIP]
        headings.append(math.atan2(left[1], left[0]))
    assert np.ptp(headings) > 1.0


def test_same_seed_same_bytes_and_frame_count(tmp_path):
    a = synthetic.write_sequence(tmp_path / "a_poses.npz", seed=9, seconds=1.5, fps=59.99999)
    b = synthetic.write_sequence(tmp_path / "b_poses.npz", seed=9, seconds=1.5, fps=59.99999)
    assert a.read_bytes() == b.read_bytes()
    with np.load(a) as f:
        assert f["poses"].shape[0] == 90 and float(f["mocap_framerate"]) == 59.99999


def test_tree_names_and_determinism(tmp_path):
    a = synthetic.make_tree(tmp_path / "a", ["CMU", "ACCAD", "BMLmovi"], files_per_dataset=3, seconds=(0.5, 1.0))
    b = synthetic.make_tree(tmp_path / "b", ["CMU", "ACCAD", "BMLmovi"], files_per_dataset=3, seconds=(0.5, 1.0))
    rel_a = [p.relative_to(tmp_path / "a").as_posix() for p in a]
    assert rel_a == [p.relative_to(tmp_path / "b").as_posix() for p in b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))
    assert "CMU/01/01_01_poses.npz" in rel_a
    assert any(r.startswith("ACCAD/Male1") and " - " in r for r in rel_a)  # names with spaces
    assert "BMLmovi/Subject_1_F_MoSh/shape.npz" in rel_a
    assert "BMLmovi/Subject_1_F_MoSh/Subject_1_F_1_poses.npz" in rel_a
    with np.load(tmp_path / "a/BMLmovi/Subject_1_F_MoSh/shape.npz") as f:
        assert set(f.files) == {"betas", "gender"}


def test_smplx_tree_has_stagei_per_subject(tmp_path):
    paths = synthetic.make_tree(tmp_path, ["CMU"], files_per_dataset=2, seconds=(0.5, 0.6), kind="smplx")
    names = sorted(p.name for p in paths)
    assert sum(n.endswith("_stageii.npz") for n in names) == 2
    assert sum(n.endswith("_stagei.npz") for n in names) == 2  # two subjects


def test_demo_tree_is_mixed_and_quick(tmp_path):
    import time
    t0 = time.perf_counter()
    paths = synthetic.make_demo_tree(tmp_path)
    assert time.perf_counter() - t0 < 2.0
    assert 18 <= len(paths) <= 24
    rates = set()
    for p in paths:
        with np.load(p, allow_pickle=False) as f:
            for key in ("mocap_framerate", "mocap_frame_rate"):
                if key in f.files:
                    rates.add(float(f[key]))
    assert {60.0, 100.0, 120.0, 250.0, 59.99999} <= rates
    names = {p.name for p in paths}
    assert "shape.npz" in names and "male_stagei.npz" in names
    assert any(n.endswith("_stageii.npz") for n in names)


def test_archive_top_folder_is_the_dataset(tmp_path):
    synthetic.make_tree(tmp_path / "tree", ["KIT"], files_per_dataset=2, seconds=(0.3, 0.4))
    out = synthetic.make_archive(tmp_path / "tree", "KIT", tmp_path / "KIT.tar.bz2")
    assert out.read_bytes()[:3] == b"BZh"
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert names[0] == "KIT" and all(n == "KIT" or n.startswith("KIT/") for n in names)
    assert sum(n.endswith(".npz") for n in names) == 2
    again = synthetic.make_archive(tmp_path / "tree", "KIT", tmp_path / "again.tar.bz2")
    assert again.read_bytes() == out.read_bytes()
    with tarfile.open(out) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".npz"))
        assert zipfile.is_zipfile(tar.extractfile(member))


def test_unknown_motion_and_kind_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown motion"):
        synthetic.write_sequence(tmp_path / "x.npz", motion="moonwalk")
    with pytest.raises(ValueError, match="unknown kind"):
        synthetic.write_sequence(tmp_path / "x.npz", kind="mano")
