"""Behaviour unchanged: every output of the demo tree and of the kernels against the recorded digest
(tools/demo_digest.py; bit for bit where the record's machine and library versions are these)."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("demo_digest", ROOT / "tools" / "demo_digest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool():
    return _tool()


@pytest.mark.slow
def test_demo_and_kernel_outputs_match_the_recorded_digest(tool):
    recorded = json.loads(tool.RECORD.read_text(encoding="utf-8"))
    current = tool.digest()
    exact, problems = tool.compare(recorded, current)
    assert not problems, ("outputs differ from tests/data/demo_digest.json "
                          f"({'bit for bit' if exact else 'by summaries'}):\n" + "\n".join(problems))
    assert len(current["outputs"]) >= 200 and "process/shards" in current["outputs"]


def test_the_comparison_sees_a_changed_bit_a_missing_and_a_new_output(tool):
    import numpy as np

    a = np.linspace(0.0, 1.0, 50, dtype=np.float32)
    b = a.copy()
    b.view(np.uint32)[7] ^= 1  # one bit
    env = {"machine": "x"}
    rec = {"environment": env, "backends": ["cpp"],
           "outputs": {"k": tool._entry({"m": a}, "/t"), "gone": tool._entry([1], "/t")}}
    cur = {"environment": env, "backends": ["cpp"], "outputs": {"k": tool._entry({"m": b}, "/t"),
                                                                "new": tool._entry("x", "/t")}}
    exact, problems = tool.compare(rec, cur)
    assert exact and [p.split(":")[0] for p in problems] == ["gone", "k", "new"]
    # Elsewhere (another environment) one bit is within the summaries' tolerance, a real change is not.
    cur["environment"] = {"machine": "y"}
    del cur["outputs"]["new"]
    cur["outputs"]["gone"] = rec["outputs"]["gone"]
    assert tool.compare(rec, cur) == (False, [])
    cur["outputs"]["k"] = tool._entry({"m": a * 1.01}, "/t")
    assert tool.compare(rec, cur)[1] == ["k: summaries differ (/m)"]


def test_run_dependent_values_are_left_out(tool):
    one = tool._entry({"seconds": 1.5, "amass_root": "/tmp/abc/amass", "clips": 3}, "/tmp/abc")
    two = tool._entry({"seconds": 9.0, "amass_root": "/tmp/xyz/amass", "clips": 3}, "/tmp/xyz")
    assert one == two
    assert one != tool._entry({"seconds": 9.0, "amass_root": "/tmp/xyz/amass", "clips": 4}, "/tmp/xyz")
