"""benches/bench_humanml3d.py: its setup keeps one target clip, its check catches a difference (timings not checked)."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from amass_fast.humanml3d.source import read_index

_SPEC = importlib.util.spec_from_file_location("bench_humanml3d", Path(__file__).resolve().parents[2] / "benches" /
                                               "bench_humanml3d.py")
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


def test_copies_get_their_own_files_and_one_target_clip(tmp_path):
    info = bench.make_setup(tmp_path / "s", 2, 400)
    rows = read_index(Path(info["repo"]) / "index.csv")
    names = [r.name for r in rows]
    assert names.count("000021") == 1 and len(set(names)) == len(names)
    per_copy = len(bench.motions(1))
    assert len({r.source_path for r in rows if not r.humanact12}) == 2 * per_copy
    assert {m.fps for m in bench.motions(1)} >= {59.94, 60.0, 100.0, 120.0, 250.0}


def test_the_check_passes_equal_builds_and_stops_on_a_difference(tmp_path, capsys):
    assert bench.main(["--copies", "1", "--vertices", "400", "--repeat", "1", "--root", str(tmp_path / "b"),
                       "--json"]) == 0
    fig = json.loads(capsys.readouterr().out)
    assert fig["build"]["clips"] > 20 and fig["check (max differences to the float64 reference)"]["new_joints"] < 1e-4
    out, ref = tmp_path / "b" / "out", tmp_path / "b" / "out-reference"
    assert bench.compare(out, ref)["contact flips"] == 0
    victim = out / "new_joint_vecs" / "000021.npy"
    vecs = np.load(victim)
    vecs[:, 70] += 0.01  # a rot6d column, beyond 1e-3
    np.save(victim, vecs)
    with pytest.raises(SystemExit, match="beyond tolerance"):
        bench.compare(out, ref)
    shutil.copy(ref / "new_joint_vecs" / "000021.npy", victim)
    (out / "new_joints" / "000000.npy").unlink()
    with pytest.raises(SystemExit, match="file lists differ"):
        bench.compare(out, ref)
