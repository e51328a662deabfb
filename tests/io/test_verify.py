"""`amass-fast verify`: per-dataset table and --json on a synthetic tree with broken files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from amass_fast.harness import synthetic
from amass_fast.io import verify
from amass_fast.cli import main


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """The demo tree plus a truncated file, a NaN file and a folder AMASS does not ship."""
    root = tmp_path_factory.mktemp("amass")
    synthetic.make_demo_tree(root)
    good = (root / "CMU/01/01_01_poses.npz").read_bytes()
    (root / "CMU/01/99_99_poses.npz").write_bytes(good[: len(good) // 3])
    p = synthetic.write_sequence(root / "KIT/9/nan_medium01_poses.npz", seconds=0.5, fps=100.0)
    with np.load(p) as f:
        keys = dict(f)
    keys["poses"][3, 5] = np.nan
    np.savez(p, **keys)
    synthetic.write_sequence(root / "MyCapture/take1_poses.npz", "smpl", "walk", seconds=1.0, fps=30.0)
    return root


def expected_counts(root):
    """Ground truth per dataset folder, read with plain NumPy (files that NumPy cannot open are left out)."""
    from amass_fast.io.tree import dataset_of, iter_npz_files
    counts = {}
    for p in iter_npz_files(root):
        c = counts.setdefault(dataset_of(p.relative_to(root).as_posix()), {"none": 0, "frames": 0, "seconds": 0.0})
        try:
            with np.load(p, allow_pickle=False) as f:
                if "poses" not in f.files:
                    c["none"] += 1
                    continue
                fps = float(f["mocap_frame_rate" if "mocap_frame_rate" in f.files else "mocap_framerate"])
                c["frames"] += len(f["poses"])
                c["seconds"] += len(f["poses"]) / fps
        except Exception:
            continue
    return counts


@pytest.mark.parametrize("jobs", [1, 2])
def test_summaries_match_the_files(tree, jobs, monkeypatch):
    monkeypatch.setattr(verify, "POOL_THRESHOLD", 1)  # exercise the process pool on a small tree
    summaries = verify.verify_tree(tree, headers_only=True, jobs=jobs)
    truth = expected_counts(tree)
    for folder, s in summaries.items():
        assert s.no_motion_files == truth[folder]["none"]
        assert s.frames == truth[folder]["frames"]
        assert s.hours == pytest.approx(truth[folder]["seconds"] / 3600, rel=1e-12)
    cmu, kit = summaries["CMU"], summaries["KIT"]
    # Header-only checks catch the truncated file but not the NaN inside the poses...
    assert [rel for rel, _ in cmu.unreadable] == ["CMU/01/99_99_poses.npz"]
    assert "truncated or corrupt" in cmu.unreadable[0][1] and not cmu.unreadable[0][1].startswith("CMU/")
    assert cmu.formats["unknown"] == 1 and cmu.motion_files == 3
    assert kit.unreadable == [] and kit.motion_files == 4
    assert summaries["DFaust_67"].formats == {"SMPL+H": 0, "SMPL-X": 1, "SMPL": 0, "unknown": 0}
    assert summaries["DFaust_67"].no_motion_files == 1 and summaries["BMLmovi"].no_motion_files == 2
    assert summaries["SSM_synced"].fps_seen == {"59.99999": 1}
    assert summaries["MyCapture"].formats["SMPL"] == 1 and summaries["MyCapture"].catalog_name is None


def test_default_loads_every_file_and_finds_nan(tree):
    kit = verify.verify_tree(tree, jobs=1)["KIT"]
    assert [rel for rel, _ in kit.unreadable] == ["KIT/9/nan_medium01_poses.npz"]
    assert "NaN" in kit.unreadable[0][1] and kit.motion_files == 3


def test_catalog_expected_counts(tree):
    catalog = pytest.importorskip("amass_fast.io.catalog")
    summaries = verify.verify_tree(tree, jobs=1)
    for folder in ("CMU", "MPI_HDM05", "SSM_synced"):
        dataset = catalog.by_folder(folder)
        assert summaries[folder].catalog_name == dataset.name
        assert summaries[folder].expected_motion_files == dataset.motion_files


def test_table_output_and_exit_status(tree, capsys):
    assert main(["verify", str(tree)]) == 1
    out, err = capsys.readouterr()
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line and not line.startswith("-")}
    assert rows["CMU"][1] == "3" and rows["CMU"][7] == "1"          # found, unknown
    assert rows["SSM_synced"][-2] == "59.99999"                       # fps seen
    assert "CMU/01/99_99_poses.npz: not a readable .npz archive" in out
    assert "not AMASS dataset folders (no catalog entry): MyCapture" in out
    assert "unreadable" in err


def test_json_output(tree, capsys):
    assert main(["verify", str(tree), "--json", "--full"]) == 1  # --full: the default, still accepted
    report = json.loads(capsys.readouterr().out)
    assert report["full"] is True and report["totals"]["unreadable"] == 2
    assert report["totals"]["formats"] == {"SMPL+H": 16, "SMPL-X": 1, "SMPL": 1, "unknown": 2}
    assert report["datasets"]["KIT"]["unreadable"][0][0] == "KIT/9/nan_medium01_poses.npz"
    assert main(["verify", str(tree), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["totals"]["unreadable"] == 2
    assert main(["verify", str(tree), "--json", "--headers-only"]) == 1  # the NaN file passes a headers-only check
    report = json.loads(capsys.readouterr().out)
    assert report["full"] is False and report["totals"]["unreadable"] == 1


def test_clean_tree_exits_zero_and_missing_root_two(tmp_path, capsys):
    synthetic.make_tree(tmp_path / "ok", ["TotalCapture"], files_per_dataset=2, seconds=(0.3, 0.4))
    assert main(["verify", str(tmp_path / "ok")]) == 0
    assert main(["verify", str(tmp_path / "missing")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["verify", str(tmp_path / "empty")]) == 1
    assert "no .npz files" in capsys.readouterr().err


def test_a_folder_of_archives_is_pointed_to_extract(tmp_path, capsys):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    (downloads / "CMU.tar.bz2").write_bytes(b"BZh9")
    assert main(["verify", str(downloads)]) == 1
    err = capsys.readouterr().err
    assert f"amass-fast extract --archives {downloads}" in err and "verify:" in err
    assert "file/s" not in err  # the error comes before any progress bar


def test_listed_below_only_when_something_is_listed(tmp_path, capsys):
    synthetic.make_tree(tmp_path / "ok", ["TotalCapture"], files_per_dataset=1, seconds=(0.3, 0.4))
    assert main(["verify", str(tmp_path / "ok")]) == 0
    assert "listed below" not in capsys.readouterr().out


def test_special_files_are_listed_not_opened(tmp_path, capsys):
    """A FIFO named .npz would block a reader forever: verify lists it as skipped and checks the rest."""
    import os

    root = tmp_path / "amass"
    synthetic.make_tree(root, ["TotalCapture"], files_per_dataset=1, seconds=(0.3, 0.4))
    fifo = root / "TotalCapture" / "s1" / "acting1_poses.npz"
    fifo.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(fifo)
    (root / "TotalCapture" / "gone_poses.npz").symlink_to(tmp_path / "nowhere.npz")
    summaries = verify.verify_tree(root, jobs=1)
    assert summaries["TotalCapture"].motion_files == 1 and summaries["TotalCapture"].unreadable == []
    skipped = dict(summaries["TotalCapture"].skipped)
    assert set(skipped) == {"TotalCapture/s1/acting1_poses.npz", "TotalCapture/gone_poses.npz"}
    assert "not a regular file but a FIFO" in skipped["TotalCapture/s1/acting1_poses.npz"]
    assert "a link to nothing" in skipped["TotalCapture/gone_poses.npz"]
    assert main(["verify", str(root)]) == 0
    out = capsys.readouterr().out
    assert "2 skipped, not regular files" in out and "TotalCapture/s1/acting1_poses.npz: not a regular" in out


@pytest.mark.parametrize("value", ["0", "-3", "abc", "999999"])
def test_bad_jobs_exit_two_naming_the_flag(tmp_path, value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["verify", str(tmp_path), "--jobs", value])
    assert exc.value.code == 2 and "--jobs" in capsys.readouterr().err
