"""`amass-fast selftest --hostile`: the table, --json, and a non-zero exit when a case fails."""
import io
import json
import os
import pickle
import subprocess
import sys

import pytest

from amass_fast.harness.selftest import cases as hostile
from amass_fast.cli import main


def test_selftest_prints_a_table_and_exits_zero(capsys):
    assert main(["selftest", "--hostile", "--groups", "models"]) == 0
    out = capsys.readouterr().out
    for c in hostile.cases(["models"]):
        assert c.name in out
    assert f"{len(hostile.cases(['models']))} passed, 0 failed" in out


def test_selftest_json(capsys):
    assert main(["selftest", "--hostile", "--groups", "models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [c.name for c in hostile.cases(["models"])]
    assert all(r["status"] == "pass" and r["did"] for r in rows)


def test_selftest_fails_when_a_case_fails(monkeypatch, capsys):
    def broken(check):
        check.did = "accepted a broken file"
        check.expect(False, "a FormatError")

    monkeypatch.setattr(hostile, "CASES", [hostile.Case("models", "always_fails", "an error", broken)])
    assert main(["selftest", "--hostile", "--groups", "models"]) == 1
    captured = capsys.readouterr()
    assert "always_fails" in captured.out and "FAILED: a FormatError" in captured.out
    assert "always_fails" in captured.err


def test_selftest_needs_a_check(capsys):
    assert main(["selftest"]) == 2
    assert "--hostile" in capsys.readouterr().err


def test_a_crashing_case_is_a_failure(tmp_path):
    def crashes(check):
        raise RuntimeError("boom")

    result = hostile.run_case(hostile.Case("files", "crash", "no crash", crashes), tmp_path)
    assert result.status == "fail" and "RuntimeError: boom" in result.problems[0]


def test_corpus_runs_without_scipy(tmp_path):
    """A plain install has no scipy: the corpus (model pickles included) must not need it. A sitecustomize on
    PYTHONPATH makes `import scipy` fail in the subprocess and in every process it starts."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text("import sys\nsys.modules['scipy'] = None   # import scipy -> ImportError\n")
    # processing and download run the pipeline and the stdlib downloader (no scipy), and take the longest
    groups = ["files", "archives", "models"]
    env = {"PYTHONPATH": f"{shim}{os.pathsep}{hostile._env()['PYTHONPATH']}"}
    check = subprocess.run([sys.executable, "-c", "import scipy"], capture_output=True, text=True, env={**os.environ,
                           **env}, timeout=60)
    assert check.returncode != 0 and "scipy" in check.stderr   # the shim works
    done = hostile._amass_fast(["selftest", "--hostile", "--json", "--groups", *groups], env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(done.stdout)
    assert {r["group"] for r in rows} == set(groups)
    assert "model_pkl_truncated" in [r["name"] for r in rows]   # the case that writes a model pickle
    assert all(r["status"] in ("pass", "skip") for r in rows), rows


def test_model_pickle_is_what_scipy_writes():
    """The scipy stand-in pickles byte for byte as scipy's own csc_matrix, so the loader is tested on the real
    layout (skips where scipy is not installed)."""
    scipy_sparse = pytest.importorskip("scipy.sparse")
    import numpy as np
    from amass_fast.harness.synthetic_models import _FakeCsc, _StandInPickler

    dense = np.random.default_rng(1).random((6, 40))
    dense[dense < 0.7] = 0.0
    buf = io.BytesIO()
    _StandInPickler(buf, protocol=2).dump(_FakeCsc(dense))
    assert buf.getvalue() == pickle.dumps(scipy_sparse.csc_matrix(dense), protocol=2)
    assert np.array_equal(pickle.loads(buf.getvalue()).toarray(), dense)
