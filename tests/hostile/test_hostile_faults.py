"""Faults by class through several entry points (group "faults"): special files read back, unbounded memory,
messages instead of tracebacks, one file sinking a run, silent NaN, user files replaced, resume and signals,
default collate, manifests naming files outside their folder, arguments named. Each run is bounded in time and
address space (amass_fast.harness.selftest.faults)."""
import sys

import pytest

from amass_fast.harness.selftest import cases as hostile

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses FIFOs, POSIX signals and resource limits")


@pytest.mark.parametrize("case", hostile.cases(["faults"]), ids=lambda case: case.name)
def test_hostile_faults(case, tmp_path):
    result = hostile.run_case(case, tmp_path)
    if result.skipped:
        pytest.skip(result.skipped)
    assert not result.problems, f"{case.expect}\nthe tool did: {result.did}\nnot met: {result.problems}"
