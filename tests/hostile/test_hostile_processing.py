"""Processing faults (group "processing"): SIGKILL at seeded points then --resume (output equal to an
uninterrupted run), broken files among good ones (the run goes on, exit 1), an existing output (refused unless
--overwrite), a read-only output folder (skipped as root), a huge valid sequence (peak memory bounded), and a
non-UTF-8 file name through the whole pipeline."""
import sys

import pytest

from amass_fast.harness.selftest import cases as hostile

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals")

@pytest.mark.parametrize("case", hostile.cases(["processing"]), ids=lambda case: case.name)
def test_hostile_processing(case, tmp_path):
    result = hostile.run_case(case, tmp_path)
    if result.skipped:
        pytest.skip(result.skipped)
    assert not result.problems, f"{case.expect}\nthe tool did: {result.did}\nnot met: {result.problems}"
