"""Hostile .npz files (amass_fast.hostile, group "files"): truncated, not a zip, missing or malformed keys, NaN/inf,
broken frame rates, integer and float16 arrays, pickles that would write a file, a member declaring 2 GB, a
forged header, a flipped bit, 1 frame, non-UTF-8 names. Each case states and checks what the tool must do."""
import pytest

from amass_fast.selftest import cases as hostile
from amass_fast.selftest.files import BAD_FILES


@pytest.mark.parametrize("case", hostile.cases(["files"]), ids=lambda c: c.name)
def test_hostile_file(case, tmp_path):
    result = hostile.run_case(case, tmp_path)
    if result.skipped:
        pytest.skip(result.skipped)
    assert not result.problems, f"{case.expect}\nthe tool did: {result.did}\nnot met: {result.problems}"


def test_every_bad_file_is_a_case():
    names = {c.name for c in hostile.cases(["files"])}
    assert set(BAD_FILES) <= names and {"one_frame", "float16_poses", "non_utf8_name"} <= names
