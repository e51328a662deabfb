"""Download faults against amass_fast.harness.testserver (group "download"): dropped connections, HTTP 500, a server
ignoring Range, a file changing between attempts, a slow trickle, giving up then resuming, wrong credentials (no
secret printed or stored), a full disk (RLIMIT_FSIZE in a subprocess), Ctrl-C then rerun, a server that never
answers, bad numeric flags, --out naming a file, unknown dataset names and fifos in --from-dir."""
import sys

import pytest

from amass_fast.harness.selftest import cases as hostile

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals and resource limits")


@pytest.mark.parametrize("case", hostile.cases(["download"]), ids=lambda c: c.name)
def test_hostile_download(case, tmp_path):
    result = hostile.run_case(case, tmp_path)
    if result.skipped:
        pytest.skip(result.skipped)
    assert not result.problems, f"{case.expect}\nthe tool did: {result.did}\nnot met: {result.problems}"
