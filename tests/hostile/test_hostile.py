"""The hostile corpus (amass_fast.harness.selftest), one parametrised test over every group; each case states and
checks what the tool must do. The groups:

- files: hostile .npz files: truncated, not a zip, missing or malformed keys, NaN/inf, frame rates outside 1-1000
  fps, sequences over 24 hours, values beyond float32, integer and float16 arrays, pickles that would write a file,
  members declaring 2 GB or 2^40 frames, a forged header, a flipped bit, 1 frame, non-UTF-8 names, a FIFO named .npz
  in a tree (verify and process must not block), and verify agreeing with process on every broken file.
- archives: cut short, a corrupt bzip2 block (with every decoder installed), an HTML page saved as .tar.bz2, members
  escaping the target (../, absolute, symlinks, hard links, devices, fifos) and duplicate names, long member names
  (255 bytes, long paths, too long), a sparse member declaring 4 GiB, empty archives, fifos given as archives, and
  bad flags and paths.
- models: body-model files with missing keys, wrong shapes, NaN values, a .pkl that calls os.system / open
  (refused, nothing executed), a truncated .pkl.
- download: faults against amass_fast.harness.testserver: dropped connections, HTTP 500, a server ignoring Range, a
  file changing between attempts, a slow trickle, giving up then resuming, wrong credentials (no secret printed or
  stored), a full disk (RLIMIT_FSIZE in a subprocess), SIGINT, SIGTERM or SIGHUP then rerun, a server that never
  answers, bad numeric flags, --out naming a file, unknown dataset names and fifos in --from-dir.
- processing: SIGKILL at seeded points then --resume (output equal to an uninterrupted run), broken files among good
  ones (the run goes on, exit 1), an existing output (refused unless --overwrite), a read-only output folder
  (skipped as root), a huge valid sequence (peak memory bounded), and a non-UTF-8 file name through the whole
  pipeline.
- faults: faults by class through several entry points: special files read back, unbounded memory, messages instead
  of tracebacks, one file sinking a run, silent NaN, user files replaced, resume and signals, default collate,
  manifests naming files outside their folder, arguments named. Each run is bounded in time and address space
  (amass_fast.harness.selftest.faults)."""
import sys

import pytest

from amass_fast.harness.selftest import cases as hostile
from amass_fast.harness.selftest.files import BAD_FILES

# groups that use POSIX signals, FIFOs or resource limits
POSIX_ONLY = {"download", "processing", "faults"}


def _params():
    for case in hostile.cases():
        marks = [pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals, FIFOs and resource limits")
                 ] if case.group in POSIX_ONLY else []
        yield pytest.param(case, id=f"{case.group}-{case.name}", marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_hostile_case(case, tmp_path):
    result = hostile.run_case(case, tmp_path)
    if result.skipped:
        pytest.skip(result.skipped)
    assert not result.problems, f"{case.expect}\nthe tool did: {result.did}\nnot met: {result.problems}"


def test_every_group_has_cases():
    assert {c.group for c in hostile.cases()} == set(hostile.GROUPS)


def test_every_bad_file_is_a_case():
    names = {c.name for c in hostile.cases(["files"])}
    assert set(BAD_FILES) <= names and {"one_frame", "float16_poses", "non_utf8_name"} <= names
    assert {"fifo_in_tree_verify", "fifo_in_tree_process", "verify_agrees_with_process"} <= names
