"""`amass-fast demo` (amass_fast.demo)."""
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
