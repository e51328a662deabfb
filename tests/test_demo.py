"""`amass-fast demo` (amass_fast.harness.demo)."""
import time

import pytest
import torch

from amass_fast.cli import main


def test_demo_processes_the_synthetic_tree(tmp_path, capsys):
    started = time.perf_counter()
    assert main(["demo", "--out", str(tmp_path / "demo"), "--backend", "reference"]) == 0
    assert time.perf_counter() - started < 60
    out = capsys.readouterr().out
    samples = torch.load(tmp_path / "demo" / "amass_stick_data.pt", weights_only=True)
    datasets = {s["meta"]["dataset"] for s in samples}
    assert {"CMU", "ACCAD", "BMLmovi", "KIT", "SSM_synced", "DFaust_67"} <= datasets  # SMPL-X file included
    assert {s["meta"]["source_fps"] for s in samples} >= {60.0, 100.0, 120.0, 250.0, 59.99999}
    assert "skipped (no motion)" in out and f"{len(samples)} clips in" in out
    assert samples[0]["description"] in out and "where everything is" in out
    assert all(tuple(s["motion"].shape) == (250, 20) for s in samples)


def test_demo_refuses_an_unknown_backend_before_writing_anything(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["demo", "--out", str(tmp_path / "demo"), "--backend", "bogus"])
    assert stop.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_demo_never_writes_over_data_it_did_not_write(tmp_path, capsys):
    data = tmp_path / "data"  # a user's real layout: data/amass and data/amass_stick_data.pt
    (data / "amass" / "CMU" / "01").mkdir(parents=True)
    (data / "amass" / "CMU" / "01" / "01_01_poses.npz").write_bytes(b"real motion")
    (data / "amass_stick_data.pt").write_bytes(b"real clips")
    before = _snapshot(data)
    for extra in ([], ["--overwrite"]):
        assert main(["demo", "--out", str(data), "--backend", "reference", *extra]) == 2
        err = capsys.readouterr().err
        assert str(data) in err and "nothing replaced" in err
        assert _snapshot(data) == before
    (data / "amass").rename(tmp_path / "moved")  # only the clips file left: still not the demo's
    assert main(["demo", "--out", str(data), "--backend", "reference", "--overwrite"]) == 2
    assert "amass_stick_data.pt was not made from demo's synthetic tree" in capsys.readouterr().err
    assert (data / "amass_stick_data.pt").read_bytes() == b"real clips"


def test_demo_overwrite_replaces_only_its_own_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--backend", "reference"]) == 0
    (out / "notes.txt").write_text("mine")
    first = _snapshot(out)
    assert main(["demo", "--out", str(out), "--backend", "reference"]) == 2
    assert "--overwrite" in capsys.readouterr().err and _snapshot(out) == first
    assert main(["demo", "--out", str(out), "--backend", "reference", "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert len(torch.load(out / "amass_stick_data.pt", weights_only=True)) > 10


def test_demo_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "a_file").write_text("mine")
    assert main(["demo", "--out", str(tmp_path / "a_file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert (tmp_path / "a_file").read_text() == "mine"
