"""Hostile body-model files (amass_fast.harness.selftest, group "models"): missing keys, wrong shapes, NaN values, a .pkl
that calls os.system / open (refused, nothing executed), a truncated .pkl."""
import pytest

from amass_fast.harness.selftest import cases as hostile


@pytest.mark.parametrize("case", hostile.cases(["models"]), ids=lambda c: c.name)
def test_hostile_model(case, tmp_path):
    result = hostile.run_case(case, tmp_path)
    if result.skipped:
        pytest.skip(result.skipped)
    assert not result.problems, f"{case.expect}\nthe tool did: {result.did}\nnot met: {result.problems}"
