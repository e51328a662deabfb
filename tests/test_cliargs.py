"""The shared command-line edge (amass_fast.cli.args): flag ranges, the one output path check, progress that
prints plain lines off a terminal."""
import argparse
import io
import subprocess
import sys

import pytest

from amass_fast.cli import args as cliargs
from amass_fast.harness import synthetic
from amass_fast.io import progress


def test_flag_types_name_the_range_and_the_value():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fps", type=cliargs.FPS_FLAG)
    parser.add_argument("--jobs", type=cliargs.JOBS_FLAG)
    assert parser.parse_args(["--fps", "25", "--jobs", "3"]) == argparse.Namespace(fps=25.0, jobs=3)
    for argv, words in ((["--fps", "0"], "--fps: must be between 1 and 1000 (got 0)"),
                        (["--fps", "nan"], "--fps: must be"), (["--jobs", "99999"], "--jobs: must be between"),
                        (["--jobs", "two"], "--jobs: expected a whole number")):
        err = io.StringIO()
        with pytest.raises(SystemExit) as exc, pytest.MonkeyPatch.context() as mp:
            mp.setattr(sys, "stderr", err)
            parser.parse_args(argv)
        assert exc.value.code == 2 and words in err.getvalue()


def test_output_problem_file_folder_parent_and_inside_input(tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "tree").mkdir()
    check = cliargs.output_problem
    assert "is a file, not a folder" in check(tmp_path / "a_file", kind="folder", flag="--out")
    assert "is a folder" in check(tmp_path / "tree", kind="file", flag="--output")
    assert "a_file is a file" in check(tmp_path / "a_file" / "x.gif", kind="file", flag="--out")
    assert "inside the input folder" in check(tmp_path / "tree" / "o.pt", kind="file", flag="--output",
                                              inputs=[tmp_path / "tree"])
    assert check(tmp_path / "new" / "deeper" / "o.pt", kind="file", flag="--output", inputs=[tmp_path / "tree"]) \
        is None


def test_progress_prints_plain_lines_off_a_terminal():
    out = io.StringIO()
    with progress.Progress(3, "work", "file", stream=out, every=0.0) as bar:
        for _ in range(3):
            bar.update()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("work: 1/3 files, ") and lines[-1].startswith("work: 3/3 files, ")
    quiet = io.StringIO()
    with progress.Progress(None, "bytes", "B", stream=quiet) as bar:  # every 30 s: only the final line
        bar.update(3 * 1024 * 1024)
    assert quiet.getvalue().splitlines() == [quiet.getvalue().splitlines()[0]]
    assert "3.0 MB" in quiet.getvalue()


def test_verify_says_how_far_it_got_when_stderr_is_a_pipe(tmp_path):
    synthetic.write_sequence(tmp_path / "amass" / "CMU" / "01" / "01_01_poses.npz", seconds=1.0, fps=60.0)
    proc = subprocess.run([sys.executable, "-m", "amass_fast", "verify", str(tmp_path / "amass")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "verify: 1/1 files, " in proc.stderr
