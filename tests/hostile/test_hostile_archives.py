"""Hostile archives (amass_fast.hostile, group "archives"): cut short, a corrupt bzip2 block (with every decoder
installed), an HTML page saved as .tar.bz2, members escaping the target (../, absolute, symlinks, hard links,
devices, fifos) and duplicate names, long member names (255 bytes, long paths, too long), a sparse member declaring
4 GiB, empty archives, fifos given as archives, and bad flags and paths. Each case states and checks what the tool
must do."""
import pytest

from amass_fast.harness.selftest import cases as hostile


@pytest.mark.parametrize("case", hostile.cases(["archives"]), ids=lambda c: c.name)
def test_hostile_archive(case, tmp_path):
    result = hostile.run_case(case, tmp_path)
    if result.skipped:
        pytest.skip(result.skipped)
    assert not result.problems, f"{case.expect}\nthe tool did: {result.did}\nnot met: {result.problems}"
