"""`amass-fast humanml3d` end to end on a synthetic setup (amass_fast.harness.humanml3d_synthetic), and the facts of
HumanML3D's own scripts (raw_pose_processing, motion_representation, cal_mean_variance at 9176e8f) that it follows.

Tolerances: Mean/Std against a float64 recomputation from the written files 1e-6 relative (float32 rounding of
the result); bone lengths of new_joints 1e-4 m (float32 recover_from_ric); everything else exact.
"""
from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from amass_fast import cli
from amass_fast.humanml3d import joints_from_features, pipeline, reference
from amass_fast.harness import humanml3d_synthetic as hs
from amass_fast.humanml3d.constants import FEATURE_GROUPS, HEAD_TRIMS, NUM_FEATURES, SPLIT_FILES, TARGET_CLIP
from amass_fast.humanml3d.source import head_trim, is_male, read_index, stride, time_span


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("hml")
    info = hs.write_setup(root / "in", num_vertices=400, seed=1)
    out = root / "out"
    report = pipeline.build(info["amass"], info["repo"], info["body_models"], out)
    return info, out, report


def _rows(info):
    return read_index(Path(info["repo"]) / "index.csv")


def _lengths(rows, info, n):
    """Names of AMASS rows whose clip has n frames (from the source files' strided frame counts)."""
    out = []
    for row in rows:
        if row.humanact12:
            continue
        m = next(m for m in hs.DEFAULT_MOTIONS if m.source_path == row.source_path)
        total = len(range(0, int(round(m.seconds * m.fps)), stride(m.fps)))
        span = range(total)[head_trim(row.source_path):][row.start:row.end]
        if len(span) == n:
            out.append(row.name)
    return out


# --- facts of HumanML3D's scripts --------------------------------------------------------------------------------


def test_stride_is_truncating_int_of_fps_over_20():
    # raw_pose_processing cell 8: down_sample = int(fps / ex_fps), ex_fps = 20; poses[::down_sample]
    assert [stride(f) for f in (20, 59.94, 59.9999885559082, 60, 100, 120, 120.00004578, 150, 250)] == \
        [1, 2, 2, 3, 5, 6, 6, 7, 12]


def test_head_trims_are_path_substrings_in_20_frame_units():
    # raw_pose_processing cell 18 (fps = 20 there whatever the file's rate)
    assert dict(HEAD_TRIMS) == {"Eyes_Japan_Dataset": 60, "MPI_HDM05": 60, "TotalCapture": 20, "MPI_Limits": 20,
                                "Transitions_mocap": 10}
    assert head_trim("./pose_data/MPI_HDM05/dg/x_poses.npy") == 60
    assert head_trim("./pose_data/KIT/3/x_poses.npy") == 0
    assert head_trim("./pose_data/humanact12/humanact12/Eyes_Japan_Dataset.npy") == 0  # humanact12 rows untouched


def test_gender_test_is_string_equality():
    # cell 8: `bdata['gender'] == 'male'`: a bytes array compares False, so b'male' gets the female model
    assert is_male(np.array("male")) and not is_male(np.array("female"))
    assert not is_male(np.array(b"male")) and not is_male(None)


def test_feature_groups_are_cal_mean_variances():
    # 4 + (22-1)*3 + (22-1)*6 + 22*3 + 4 = 263, groups as its Std assignments with joints_num = 22
    j = 22
    bounds = [0, 1, 3, 4, 4 + (j - 1) * 3, 4 + (j - 1) * 9, 4 + (j - 1) * 9 + j * 3, NUM_FEATURES]
    assert [g for g in FEATURE_GROUPS] == list(zip(bounds[:-1], bounds[1:]))
    assert 8 + (j - 1) * 9 + j * 3 == NUM_FEATURES


def test_skeleton_and_mirror_tables_are_humanml3ds():
    # paramUtil.py: t2m_kinematic_chain; raw_pose_processing cell 16: swap_left_right's chains (hands > 24 joints)
    from amass_fast.humanml3d import constants as c

    assert [list(x) for x in c.CHAINS] == [[0, 2, 5, 8, 11], [0, 1, 4, 7, 10], [0, 3, 6, 9, 12, 15],
                                           [9, 14, 17, 19, 21], [9, 13, 16, 18, 20]]
    assert list(c.RIGHT_CHAIN) == [2, 5, 8, 11, 14, 17, 19, 21] and list(c.LEFT_CHAIN) == [1, 4, 7, 10, 13, 16, 18, 20]
    assert list(c.LEFT_HAND) == [22, 23, 24, 34, 35, 36, 25, 26, 27, 31, 32, 33, 28, 29, 30]
    assert list(c.RIGHT_HAND) == [43, 44, 45, 46, 47, 48, 40, 41, 42, 37, 38, 39, 49, 50, 51]
    assert (c.FEET_L, c.FEET_R, c.LEG_BONES, c.FOOT_CONTACT_THRESHOLD) == ([7, 10], [8, 11], (5, 8), 0.002)
    assert c.SMOOTH_SIGMA == 20 and c.SMOOTH_RADIUS == 80  # gaussian_filter1d(sigma=20), truncate 4
    p22, p52 = c.mirror_permutation(22), c.mirror_permutation(52)
    assert p22[2] == 1 and p22[21] == 20 and list(p52[22:25]) == [43, 44, 45] and np.all(p52[p52] == np.arange(52))


# --- the build ---------------------------------------------------------------------------------------------------


def test_every_file_present_and_nothing_extra(setup):
    info, out, report = setup
    rows = _rows(info)
    short = set(_lengths(rows, info, 1)) | set(_lengths(rows, info, 0))
    assert short, "the synthetic set has a 1-frame row"
    expected = hs.expected_names(info["rows"], short)
    for folder in ("new_joints", "new_joint_vecs"):
        assert set(os.listdir(out / folder)) == expected
    assert sorted(report.too_short) == sorted(short) and not report.failed
    assert report.written == len(expected)  # clips, mirrors included
    names = {p.name for p in (out / "texts").iterdir()}
    assert names == {f"{p}{r[3][:-4]}.txt" for r in info["rows"] for p in ("", "M")}
    for split in SPLIT_FILES:
        assert (out / split).read_bytes() == (Path(info["repo"]) / "HumanML3D" / split).read_bytes()


def test_shapes_dtypes_and_the_two_frame_squeeze(setup):
    info, out, _ = setup
    rows = _rows(info)
    two = _lengths(rows, info, 2)
    assert two, "the synthetic set has a 2-frame row"
    for name in os.listdir(out / "new_joint_vecs"):
        vecs = np.load(out / "new_joint_vecs" / name)
        joints = np.load(out / "new_joints" / name)
        assert vecs.dtype == np.float32 and joints.dtype == np.float32 and vecs.shape[1] == NUM_FEATURES
        if name[:-4].lstrip("M") in two:
            assert vecs.shape == (1, NUM_FEATURES) and joints.shape == (22, 3)  # recover_from_ric(...).squeeze()
        else:
            assert joints.shape == (len(vecs), 22, 3)


def test_new_joints_are_recover_from_ric_of_the_vectors(setup):
    _, out, _ = setup
    for name in sorted(os.listdir(out / "new_joint_vecs"))[:10]:
        vecs = np.load(out / "new_joint_vecs" / name)
        assert np.array_equal(joints_from_features(vecs).reshape(-1, 22, 3),
                              np.load(out / "new_joints" / name).reshape(-1, 22, 3))


def test_every_clip_has_the_target_clips_bone_lengths(setup):
    _, out, _ = setup
    target = reference.skeleton_offsets(np.load(out / "new_joints" / f"{TARGET_CLIP}.npy")[0])
    for name in os.listdir(out / "new_joints"):
        joints = np.load(out / "new_joints" / name).reshape(-1, 22, 3)
        assert np.abs(reference.skeleton_offsets(joints[0].astype(np.float64)) - target).max() < 1e-4, name


def test_mean_std_as_cal_mean_variance(setup):
    _, out, report = setup
    data = np.concatenate([np.load(out / "new_joint_vecs" / n) for n in os.listdir(out / "new_joint_vecs")])
    data = data.astype(np.float64)  # the notebook sums float32 rows in listdir order; ours are float64 sums
    mean, std = data.mean(axis=0), data.std(axis=0)  # ddof 0
    for a, b in FEATURE_GROUPS:
        std[a:b] = std[a:b].mean()
    ours_mean, ours_std = np.load(out / "Mean.npy"), np.load(out / "Std.npy")
    assert ours_mean.dtype == ours_std.dtype == np.float32 and ours_mean.shape == (NUM_FEATURES,)
    assert np.all(np.abs(ours_mean - mean) <= 1e-6 * np.maximum(np.abs(mean), std))
    assert np.abs(ours_std / std - 1).max() < 1e-6
    assert report.mean_std_clips == len(os.listdir(out / "new_joint_vecs"))


def _cli(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = cli.main(["humanml3d", *map(str, args)])
        except SystemExit as exc:
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def _args(info, out):
    return ("--amass-root", info["amass"], "--humanml3d", info["repo"], "--body-model", info["body_models"],
            "--out", out)


def test_nothing_replaced_without_overwrite_then_resume_and_overwrite(setup, tmp_path):
    info, first, _ = setup
    out = tmp_path / "out"
    rc, stdout, err = _cli(*_args(info, out))
    assert rc == 0 and "rows" in err and f"to {out}" in stdout  # the progress line, then the summary
    files = sorted((out / "new_joint_vecs").iterdir())
    before = {p: p.stat().st_mtime_ns for p in files}

    rc, _, err = _cli(*_args(info, out))  # again, no flag: refused, nothing touched
    assert rc == 2 and "--resume" in err and "--overwrite" in err and "Traceback" not in err
    assert {p: p.stat().st_mtime_ns for p in files} == before

    gone = [p for p in files if p.name in ("000003.npy", "M000003.npy")]
    for p in gone:
        p.unlink()
        (out / "new_joints" / p.name).unlink()
    rc, stdout, _ = _cli(*_args(info, out), "--resume")
    assert rc == 0 and "already there" in stdout
    assert {p: p.stat().st_mtime_ns for p in files if p not in gone} == {p: before[p] for p in files if p not in gone}
    for p in gone:
        assert np.array_equal(np.load(p), np.load(first / "new_joint_vecs" / p.name))

    rc, _, err = _cli(*_args(info, out), "--resume", "--overwrite")
    assert rc == 2 and "pass one" in err
    assert _cli(*_args(info, out), "--overwrite")[0] == 0
    assert all(p.stat().st_mtime_ns != before[p] for p in files if p not in gone)


def test_a_failing_clip_is_listed_and_the_run_goes_on(tmp_path):
    info = hs.write_setup(tmp_path / "in", num_vertices=400, seed=2)
    victim = next(Path(info["amass"]).rglob("HDM_dg_05-02_02_120_poses.npz"))
    victim.write_bytes(b"not a zip")
    out = tmp_path / "out"
    rc, stdout, err = _cli(*_args(info, out))
    failed = [r[3][:-4] for r in info["rows"] if "HDM_dg" in r[0]]
    assert rc == 1 and all(f"failed: {n}:" in err for n in failed) and "--resume" in err
    assert "HDM_dg_05-02_02_120_poses.npz" in err and "Traceback" not in err
    written = set(os.listdir(out / "new_joint_vecs"))
    assert not any(n[:-4].lstrip("M") in failed for n in written)
    assert f"{TARGET_CLIP}.npy" in written and len(written) > 10 and (out / "Mean.npy").is_file()


def test_time_resampling_gives_exactly_20_fps_over_the_same_seconds(tmp_path):
    motion = hs.Motion("./pose_data/Eyes_Japan_Dataset/hamada/turn-01-call-hamada_poses.npy", 250.0, 7.0,
                       "female", True, ((5, 70),), "idle")
    kit = next(m for m in hs.DEFAULT_MOTIONS if "WalkInCounterClockwiseCircle02" in m.source_path)
    info = hs.write_setup(tmp_path / "in", (motion, kit), num_vertices=400, humanact12=0)
    counts = {}
    for mode in ("stride", "time"):
        out = tmp_path / mode
        pipeline.build(info["amass"], info["repo"], info["body_models"], out, resampling=mode)
        counts[mode] = len(np.load(out / "new_joint_vecs" / "000000.npy")) + 1
    row = read_index(Path(info["repo"]) / "index.csv")[0]
    t0, t1 = time_span(row, 250.0, int(7.0 * 250))
    assert (t0, t1) == ((60 + 5) * 12 / 250, (60 + 70) * 12 / 250)  # strided frames are 12 / 250 s apart
    assert counts["stride"] == 65  # 65 strided frames = 3.12 s at 20.83 fps
    assert counts["time"] == sum(1 for k in range(200) if t0 - 1e-9 <= k / 20 < t1 - 1e-9)  # 20 fps by time
    assert counts["time"] == 62  # frames 63..124 of 20 fps: 3.12 s .. 6.24 s


def test_cli_errors_name_the_flag(tmp_path):
    rc, _, err = _cli("--amass-root", tmp_path / "none", "--humanml3d", tmp_path, "--body-model", tmp_path,
                      "--out", tmp_path / "o")
    assert rc == 2 and "--amass-root" in err and "Traceback" not in err
    (tmp_path / "amass").mkdir()
    rc, _, err = _cli("--amass-root", tmp_path / "amass", "--humanml3d", tmp_path, "--body-model", tmp_path,
                      "--out", tmp_path / "o")
    assert rc == 2 and "--humanml3d" in err and "Traceback" not in err
