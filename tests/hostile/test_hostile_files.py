"""Hostile .npz files (amass_fast.harness.selftest, group "files"): truncated, not a zip, missing or malformed keys, NaN/inf,
frame rates outside 1-1000 fps, sequences over 24 hours, values beyond float32, integer and float16 arrays, pickles
that would write a file, members declaring 2 GB or 2^40 frames, a forged header, a flipped bit, 1 frame, non-UTF-8
names, a FIFO named .npz in a tree (verify and process must not block), and verify agreeing with process on every
broken file. Each case states and checks what the tool must do."""
import pytest

from amass_fast.harness.selftest import cases as hostile
from amass_fast.harness.selftest.files import BAD_FILES


@pytest.mark.parametrize("case", hostile.cases(["files"]), ids=lambda c: c.name)
def test_hostile_file(case, tmp_path):
    result = hostile.run_case(case, tmp_path)
    if result.skipped:
        pytest.skip(result.skipped)
    assert not result.problems, f"{case.expect}\nthe tool did: {result.did}\nnot met: {result.problems}"


def test_every_bad_file_is_a_case():
    names = {c.name for c in hostile.cases(["files"])}
    assert set(BAD_FILES) <= names and {"one_frame", "float16_poses", "non_utf8_name"} <= names
    assert {"fifo_in_tree_verify", "fifo_in_tree_process", "verify_agrees_with_process"} <= names
