"""amass-fast bench: an alternative that gives a wrong result is reported as FAILED, apart from one that is only not
installed (skipped), and is never timed."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from amass_fast.harness import bench  # noqa: E402


def _wrong_fk(p, t):
    return torch.zeros(p.shape[0], p.shape[1] // 3, 3, dtype=p.dtype) + t[:, None, :]


def test_a_wrong_alternative_is_failed_not_skipped(monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "_fk_alternatives", lambda J, rest, path, quick, skipped: [("wrong FK", _wrong_fk,
                                                                                          False)])
    skipped: list = []
    rest52 = np.random.default_rng(0).normal(0, 0.3, (52, 3))
    cases = bench.build_fk_cases(64, True, tmp_path / "none.npz", rest52, skipped)
    assert not any("wrong FK" in c.name for c in cases)
    assert {s["name"] for s in skipped} == {f"wrong FK (FK {J} joints)" for J in bench.FK_JOINTS}
    assert all(s.get("failed") for s in skipped)
    report = dict(frames=1, threads=1, quick=True, processor="test", results=[], skipped=skipped + [
        dict(name="smplx", reason="smplx is not installed")])
    text = bench.format_table(report)
    assert "FAILED wrong FK (FK 22 joints): " in text and "skipped smplx: smplx is not installed" in text
