"""Processing faults (group "processing"): SIGKILL then --resume, broken files among good ones, existing and
impossible outputs (a file where a folder is wanted and the reverse, an output inside the input tree, demo over the
user's data), --resume of a finished output made with other flags, inputs with nothing to convert, damaged outputs
and records (named, with what to do), bad numeric flags, a read-only folder, a full disk, a huge sequence and a
non-UTF-8 file name."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from amass_fast.harness.selftest.files import BAD_FILES, _good_sequence, _savez
from amass_fast.harness.selftest.cases import (Check, _amass_fast, _env, _files_under, _last_line, _refused, _short,
                                               case)
from amass_fast.harness.selftest.download import _limit_file_size

# --- processing faults -------------------------------------------------------------------------------------------

def _process_tree(root: Path, files: int = 12) -> Path:
    from amass_fast.harness import synthetic

    synthetic.make_tree(root, ["CMU", "KIT", "ACCAD"], files_per_dataset=files // 3, seconds=(2.0, 12.0))
    return root


def _load_pt(path: Path) -> list:
    import torch

    return torch.load(path, weights_only=True)


def _same_samples(a: list, b: list) -> bool:
    import torch

    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x["meta"] != y["meta"] or x["action"] != y["action"] or x["description"] != y["description"]:
            return False
        if not (torch.equal(x["motion"], y["motion"]) and torch.equal(x["actions"], y["actions"])):
            return False
    return True


_PROCESS_FLAGS = ["--jobs", "1", "--batch-files", "2", "--backend", "reference"]


@case("processing", "sigkill_then_resume", "SIGKILL at 3 seeded random points, --resume each time: the output "
      "equals an uninterrupted run; no clip duplicated or missing; no partial file under a final name")
def _sigkill(c: Check) -> None:
    from amass_fast.outputs import writers

    tree = _process_tree(c.dir / "amass")
    reference_pt = c.dir / "reference.pt"
    proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(reference_pt), *_PROCESS_FLAGS])
    if not c.expect(proc.returncode == 0, f"the uninterrupted run succeeds ({_short(proc.stderr, 200)})"):
        return
    output = c.dir / "out.pt"
    parts = Path(f"{output}.parts")
    tasks = 6  # 12 files, --batch-files 2
    rng = random.Random(6)
    # Kill points: once k shards exist (k seeded, increasing), plus a seeded delay of up to one task's time.
    points = sorted(rng.sample(range(tasks), 3))
    kills, runs, shards_seen = 0, 0, []
    while not output.exists() and runs < 10:
        args = ["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS]
        args += ["--resume"] if parts.exists() else []
        runs += 1
        child = subprocess.Popen([sys.executable, "-m", "amass_fast", *args], env=_env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace")
        if kills < len(points):
            target = points[kills]
            while child.poll() is None and len(list(parts.glob(writers.SHARD_GLOB))) <= target:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.1))
            if child.poll() is None:
                child.kill()
                kills += 1
        _, err = child.communicate(timeout=120)
        shards = sorted(parts.glob(writers.SHARD_GLOB)) if parts.exists() else []
        shards_seen.append(len(shards))
        c.expect(child.returncode in (0, -signal.SIGKILL), f"run {runs} ends by the kill or succeeds "
                                                           f"({child.returncode}: {_short(err, 200)})")
        c.expect(all(writers.shard_is_complete(s) for s in shards), "every shard under its final name is complete")
    c.did = f"{kills} kills (shards after each run: {shards_seen}); {runs} runs in all"
    c.expect(kills == 3, "three runs were killed mid-way")
    c.expect(output.exists() and _same_samples(_load_pt(output), _load_pt(reference_pt)),
             "the same samples as an uninterrupted run, in the same order")
    c.expect(not parts.exists(), "the work folder is gone after the final run")


@case("processing", "bad_files_among_good", "a tree with every broken file beside good ones: the run goes on, "
      "exit 1, each broken file listed with its reason, the good ones converted")
def _bad_among_good(c: Check) -> None:
    tree = c.dir / "amass"
    _good_sequence(tree / "CMU" / "01" / "01_01_poses.npz")
    _good_sequence(tree / "CMU" / "01" / "01_02_poses.npz")
    sentinel = c.dir / "UNPICKLED"
    for name, (build, _, _) in BAD_FILES.items():
        build(tree / "CMU" / "02" / f"{name}_poses.npz", sentinel)
    output = c.dir / "out.pt"
    proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS])
    errors_path = Path(f"{output}.errors.jsonl")
    errors = [json.loads(line) for line in errors_path.read_text().splitlines()] if errors_path.exists() else []
    failed = {e["file"].rsplit("/", 1)[-1].removesuffix("_poses.npz") for e in errors}
    c.did = f"exit {proc.returncode}; {len(errors)} files listed in {errors_path.name}"
    c.expect(proc.returncode == 1, "exit status 1")
    c.expect(failed == set(BAD_FILES), f"every broken file listed, no good one ({sorted(failed ^ set(BAD_FILES))})")
    c.expect(all(e["file"] in e["reason"] or "failed" in e["reason"] for e in errors), "each reason names its file")
    samples = _load_pt(output) if output.exists() else []
    files = {os.fsencode(s["meta"]["file"]) for s in samples}
    c.expect(files == {b"CMU/01/01_01_poses.npz", b"CMU/01/01_02_poses.npz"}, "both good files converted")
    c.expect(not sentinel.exists(), "no pickle was run")


@case("processing", "non_utf8_name_processed", "a file named with non-UTF-8 bytes is converted; its sample names "
      "it (the same bytes back with os.fsencode)")
def _non_utf8_processed(c: Check) -> None:
    tree = c.dir / "amass"
    name = b"CMU/01/01_02_caf\xe9_poses.npz"
    try:
        _good_sequence(tree / os.fsdecode(name))
    except (OSError, UnicodeError):
        c.skip("this file system does not accept non-UTF-8 file names")
    output = c.dir / "out.pt"
    proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS])
    samples = _load_pt(output) if output.exists() else []
    last = _last_line(proc.stderr)
    c.did = f"exit {proc.returncode}; {len(samples)} clip(s); {_short(last, 120)}"
    c.expect(proc.returncode == 0, "exit status 0")
    c.expect([os.fsencode(s["meta"]["file"]) for s in samples] == [name], "one clip naming the file")


@case("processing", "output_already_exists", "an existing output is refused (exit 2, names it, says --overwrite); "
      "--overwrite replaces it")
def _output_exists(c: Check) -> None:
    tree = c.dir / "amass"
    _good_sequence(tree / "CMU" / "01" / "01_01_poses.npz")
    output = c.dir / "out.pt"
    output.write_bytes(b"the user's precious file")
    proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS])
    c.expect(proc.returncode == 2, "exit status 2")
    c.expect(str(output) in proc.stderr and "--overwrite" in proc.stderr, "names the output and --overwrite")
    c.expect(output.read_bytes() == b"the user's precious file", "the existing file is untouched")
    again = _amass_fast(["process", "--amass-root", str(tree), "--output", str(output), "--overwrite",
                         *_PROCESS_FLAGS])
    c.did = f"exit {proc.returncode}: {_short(_last_line(proc.stderr), 110)}; --overwrite: exit " \
            f"{again.returncode}"
    c.expect(again.returncode == 0 and len(_load_pt(output)) == 1, "--overwrite replaces it with the new output")


@case("processing", "read_only_output_folder", "a read-only output folder: exit non-zero with a clear message "
      "naming it; nothing half-written")
def _read_only(c: Check) -> None:
    tree = c.dir / "amass"
    _good_sequence(tree / "CMU" / "01" / "01_01_poses.npz")
    folder = c.dir / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            c.skip("this user can write to read-only folders (root): the case cannot be staged")
        output = folder / "out.pt"
        proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS])
        c.did = f"exit {proc.returncode}: {_short(_last_line(proc.stderr), 140)}"
        c.expect(proc.returncode != 0, "a non-zero exit status")
        c.expect(str(folder) in proc.stderr and "Traceback" not in proc.stderr, "a clear message naming the folder")
        c.expect(_files_under(folder) == set(), "nothing written")
    finally:
        folder.chmod(0o755)


@case("processing", "output_parent_is_a_file", "an --output whose folder is a file (as unwritable as a read-only "
      "folder, and stageable as root): exit 2 with a message naming the path, no traceback")
def _parent_is_a_file(c: Check) -> None:
    tree = c.dir / "amass"
    _good_sequence(tree / "CMU" / "01" / "01_01_poses.npz")
    (c.dir / "a_file").write_text("not a folder")
    proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(c.dir / "a_file" / "out.pt"),
                        *_PROCESS_FLAGS])
    last = _last_line(proc.stderr)
    c.did = f"exit {proc.returncode}: {_short(last, 140)}"
    c.expect(proc.returncode == 2, "exit status 2")
    c.expect("Traceback" not in proc.stderr and "a_file" in last, "a one-line message naming the path")


@case("processing", "disk_full_then_resume", "the file system refuses writes mid-run (RLIMIT_FSIZE): exit non-zero "
      "with a message, no traceback, no partial file under a final name; --resume then completes")
def _process_disk_full(c: Check) -> None:
    from amass_fast.outputs import writers

    tree = _process_tree(c.dir / "amass")
    output = c.dir / "out.pt"
    parts = Path(f"{output}.parts")
    args = ["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS]
    proc = _amass_fast(args, preexec_fn=_limit_file_size(48_000))
    shards = sorted(parts.glob(writers.SHARD_GLOB)) if parts.exists() else []
    c.expect(proc.returncode != 0 and not output.exists(), "a non-zero exit status and no output")
    c.expect(all(writers.shard_is_complete(s) for s in shards), "every shard under its final name is complete")
    again = _amass_fast([*args, "--resume"])
    last = _last_line(proc.stderr)
    c.did = f"exit {proc.returncode} with {len(shards)} shards kept: {_short(last, 100)}; --resume: exit " \
            f"{again.returncode}"
    c.expect("Traceback" not in proc.stderr and ("File too large" in last or "space" in last),
             "a one-line message saying the disk refused the write")
    c.expect(again.returncode == 0 and output.exists(), "--resume completes the run")


@case("processing", "huge_valid_sequence", "a 40 min sequence (~180 MB of poses in memory): converted, with the "
      "peak memory of the run bounded by a few times the sequence")
def _huge(c: Check) -> None:
    if not Path("/proc/self/status").exists():
        c.skip("needs /proc (Linux) to read the peak memory of a run")
    frames, fps = 144_000, 60.0  # 40 minutes
    tree = c.dir / "amass"
    path = tree / "CMU" / "01" / "01_01_poses.npz"
    path.parent.mkdir(parents=True)
    t = np.arange(frames) / fps
    poses = np.zeros((frames, 156))
    poses[:, 0] = np.pi / 2
    poses[:, 3:66] = 0.3 * np.sin(2 * np.pi * t[:, None] * (1 + np.arange(63) / 63))
    trans = np.stack([0.5 * t, np.zeros(frames), np.full(frames, 0.93)], axis=1)
    _savez(path, poses=poses, trans=trans, betas=np.zeros(16), gender=np.array("male"),
           mocap_framerate=np.array(fps))
    del poses, trans, t
    sequence_mb = path.stat().st_size / 2**20
    output = c.dir / "shards"
    flags = ["--format", "shards", "--jobs", "1", "--batch-files", "1"]
    status, err, peak_mb = _run_measured(["process", "--amass-root", str(tree), "--output", str(output), *flags],
                                         c.dir)
    with tempfile.TemporaryDirectory() as tmp:  # the same command on a small file: the cost of the imports
        small = Path(tmp, "amass")
        _good_sequence(small / "CMU" / "01" / "01_01_poses.npz")
        _, _, baseline = _run_measured(["process", "--amass-root", str(small), "--output", str(Path(tmp, "s")),
                                        *flags], Path(tmp))
    manifest = output / "manifest.json"
    clips = json.loads(manifest.read_text())["counts"]["clips"] if manifest.exists() else 0
    c.did = f"exit {status}; {clips} clips; peak RSS {peak_mb:.0f} MB for a {sequence_mb:.0f} MB file " \
            f"(the same run on a small file: {baseline:.0f} MB)"
    c.expect(status == 0, f"converted ({_short(err, 200)})")
    c.expect(clips == int(frames / fps * 25) // 250, "every 10 s window became a clip")
    c.expect(peak_mb < baseline + 3 * sequence_mb, f"peak memory below a small run + 3x the sequence "
                                                   f"({baseline + 3 * sequence_mb:.0f} MB)")


# Runs `python -m amass_fast` and, at exit, writes its own peak RSS (VmHWM, KiB) to the file named first. VmHWM
# starts afresh at exec; getrusage's ru_maxrss would also count the parent's memory inherited across fork + exec.
_PEAK_RSS_WRAPPER = """
import atexit, runpy, sys
report = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as status, open(report, "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM")).split()[1])
atexit.register(peak)
sys.argv[0] = "amass-fast"
runpy.run_module("amass_fast", run_name="__main__", alter_sys=True)
"""


def _run_measured(args: list[str], folder: Path) -> tuple[int, str, float]:
    """Run `python -m amass_fast ARGS`; (exit status, stderr, peak RSS of that process in MB)."""
    report = folder / "peak_rss_kib.txt"
    proc = subprocess.run([sys.executable, "-c", _PEAK_RSS_WRAPPER, str(report), *args], capture_output=True,
                          text=True, errors="replace", env=_env(), timeout=300)
    peak = int(report.read_text()) / 1024 if report.exists() else float("nan")
    return proc.returncode, proc.stderr, peak



# --- what a new user runs into: outputs, resume, empty inputs, damaged outputs, bad numbers -----------------------
# These run the command line in this process (fast); an uncaught exception fails the case as a crash.

def _cli(argv: list[str]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `amass-fast ARGV`, run in this process (argparse's exit included)."""
    import contextlib
    import io

    from amass_fast.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as stop:  # argparse refusing a flag
            status = stop.code if isinstance(stop.code, int) else 2
    return status, out.getvalue(), err.getvalue()


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: equal snapshots before and after mean nothing was replaced."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


_FAST = ["--window", "25", *_PROCESS_FLAGS]


def _small_tree(root: Path) -> Path:
    from amass_fast.harness import synthetic

    synthetic.make_tree(root, ["CMU", "KIT"], files_per_dataset=2, seconds=(1.5, 2.5), seed=3)
    return root


@case("processing", "demo_over_existing_data", "`demo --out data` where data/amass and data/amass_stick_data.pt "
      "are the user's: exit 2 naming them, nothing replaced, with or without --overwrite")
def _demo_over_data(c: Check) -> None:
    data = c.dir / "data"
    _good_sequence(data / "amass" / "CMU" / "01" / "01_01_poses.npz")
    (data / "amass_stick_data.pt").write_bytes(b"the user's clips")
    before = _snapshot(data)
    for extra in ([], ["--overwrite"]):
        _refused(c, f"demo {' '.join(extra)}".strip(), _cli(["demo", "--out", str(data), "--backend", "reference",
                                                             *extra]), [str(data)])
        c.expect(_snapshot(data) == before, f"demo {' '.join(extra)}: nothing under data/ replaced or added")


@case("processing", "resume_finished_pt_other_flags", "--resume on a finished .pt with other flags (--views 2, "
      "--stride, --max-samples): exit 2 naming the output and the flags; the .pt untouched; same flags: nothing to do")
def _resume_other_flags(c: Check) -> None:
    tree = _small_tree(c.dir / "amass")
    out = c.dir / "out.pt"
    status, _, err = _cli(["process", "--amass-root", str(tree), "--output", str(out), *_FAST])
    if not c.expect(status == 0, f"the first run succeeds ({_short(err, 200)})"):
        return
    finished = out.read_bytes()
    for flag, value, name in (("--views", "2", "views"), ("--stride", "10", "stride"),
                              ("--max-samples", "1", "max_samples")):
        result = _cli(["process", "--amass-root", str(tree), "--output", str(out), *_FAST, "--resume", flag, value])
        _refused(c, f"--resume {flag} {value}", result, [str(out), name, "--overwrite"])
        c.expect(out.read_bytes() == finished, f"--resume {flag} {value}: the .pt untouched")
    status, stdout, _ = _cli(["process", "--amass-root", str(tree), "--output", str(out), *_FAST, "--resume"])
    c.expect(status == 0 and "nothing to do" in stdout and out.read_bytes() == finished,
             "--resume with the same flags: exit 0, nothing to do, the .pt untouched")


@case("processing", "output_inside_input_tree", "an --output inside the AMASS tree (it would be read back as input): "
      "exit 2 naming --output and the tree, before any work; nothing written in the tree")
def _inside_tree(c: Check) -> None:
    tree = _small_tree(c.dir / "amass")
    before = _snapshot(tree)
    for fmt, target in (("shards", tree / "CMU" / "shards"), ("pt", tree / "clips.pt")):
        result = _cli(["process", "--amass-root", str(tree), "--output", str(target), "--format", fmt, *_FAST])
        _refused(c, f"--format {fmt}", result, [f"--output {target}", "inside the input folder"])
    c.expect(_snapshot(tree) == before and not (tree / "CMU" / "shards").exists(), "nothing written in the tree")


@case("processing", "file_vs_folder_outputs", "a file where a folder is wanted and the reverse, for process, demo "
      "and preview (with --overwrite too): exit 2 naming the flag and the path, before any work; nothing replaced")
def _file_vs_folder(c: Check) -> None:
    tree = _small_tree(c.dir / "amass")
    a_file, a_folder = c.dir / "a_file", c.dir / "a_folder"
    a_file.write_text("the user's file")
    (a_folder / "inside").mkdir(parents=True)
    clips = c.dir / "clips.pt"
    import torch

    torch.save([], clips)
    runs = [
        ("process .pt onto a folder", ["process", "--amass-root", str(tree), "--output", str(a_folder),
                                       "--overwrite", *_FAST], f"--output {a_folder}"),
        ("process shards onto a file", ["process", "--amass-root", str(tree), "--output", str(a_file),
                                        "--format", "shards", "--overwrite", *_FAST], f"--output {a_file}"),
        ("process under a file", ["process", "--amass-root", str(tree), "--output", str(a_file / "out.pt"), *_FAST],
         f"--output {a_file / 'out.pt'}"),
        ("demo onto a file", ["demo", "--out", str(a_file), "--backend", "reference"], f"--out {a_file}"),
        ("preview under a file", ["preview", str(clips), "--out", str(a_file / "clip.gif")],
         f"--out {a_file / 'clip.gif'}"),
        ("preview onto a folder", ["preview", str(clips), "--grid", "2", "--out", str(c.dir / "sheet.png"),
                                   "--overwrite"], "sheet.png"),
    ]
    (c.dir / "sheet.png").mkdir()
    before = _snapshot(c.dir)
    for what, argv, name in runs:
        _refused(c, what, _cli(argv), [name])
    c.expect(_snapshot(c.dir) == before and not Path(f"{a_folder}.parts").exists(), "nothing written or replaced")


@case("processing", "empty_archive_inputs", "--archives with nothing to convert (an empty folder, an empty archive, "
      "an archive of README files only): exit 2 with a message naming the input; no output written")
def _empty_archives(c: Check) -> None:
    import io
    import tarfile

    empty_folder = c.dir / "no_archives"
    empty_folder.mkdir()
    (empty_folder / "notes.txt").write_text("not an archive")
    empty = c.dir / "empty" / "CMU.tar.bz2"
    readme = c.dir / "readme" / "KIT.tar.bz2"
    for path in (empty, readme):
        path.parent.mkdir()
        with tarfile.open(path, "w:bz2") as tar:
            if path is readme:
                data = b"KIT motion capture\n"
                info = tarfile.TarInfo("KIT/README.txt")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    out = c.dir / "out"
    for what, source in (("an empty folder", empty_folder), ("an empty archive", empty),
                         ("README files only", readme.parent)):
        for fmt in ("pt", "shards"):
            target = out / f"clips.{fmt}"
            result = _cli(["process", "--archives", str(source), "--output", str(target), "--format", fmt, *_FAST])
            _refused(c, f"{what} ({fmt})", result, [str(source)])
    c.expect(_files_under(out) == set(), "no output, work folder or temporary file written")


@case("processing", "damaged_outputs_named", "a truncated .pt, a truncated shard, a damaged run.json and a damaged "
      ".pt record: preview and process --resume stop with a message naming the file and saying what to do; "
      "no traceback, nothing replaced")
def _damaged_outputs(c: Check) -> None:
    tree = _small_tree(c.dir / "amass")
    pt, shards = c.dir / "clips.pt", c.dir / "shards"
    for fmt, target in (("pt", pt), ("shards", shards)):
        status, _, err = _cli(["process", "--amass-root", str(tree), "--output", str(target), "--format", fmt,
                               "--batch-files", "2", *_FAST])
        if not c.expect(status == 0, f"the {fmt} run succeeds ({_short(err, 200)})"):
            return
    data = pt.read_bytes()
    pt.write_bytes(data[: len(data) // 2])
    _refused(c, "preview of a cut .pt", _cli(["preview", str(pt), "--out", str(c.dir / "a.gif")]),
             [str(pt), "damaged"], status=1)
    last_shard = sorted(shards.glob("shard-*.npz"))[-1]
    last_shard.write_bytes(last_shard.read_bytes()[:200])
    _refused(c, "preview of a cut shard", _cli(["preview", str(shards), "--index", "-1", "--out",
                                                str(c.dir / "b.gif")]), [str(last_shard), "--resume"], status=1)
    (shards / "run.json").write_text('{"fps": ')
    before = _snapshot(shards)
    _refused(c, "--resume with a damaged run.json", _cli(["process", "--amass-root", str(tree), "--output",
                                                          str(shards), "--format", "shards", "--batch-files", "2",
                                                          *_FAST, "--resume"]),
             [str(shards / "run.json"), "--overwrite"])
    c.expect(_snapshot(shards) == before, "the shards folder untouched")
    record = Path(f"{pt}.run.json")
    record.write_text("{")
    _refused(c, "--resume with a damaged .pt record", _cli(["process", "--amass-root", str(tree), "--output",
                                                            str(pt), *_FAST, "--resume"]),
             [str(record), "--overwrite"])
    c.expect(pt.read_bytes() == data[: len(data) // 2], "the .pt untouched")
    c.expect(not (c.dir / "a.gif").exists() and not (c.dir / "b.gif").exists(), "no image written")


# (command, flag, a bad value): each must be refused where it is parsed, naming the flag.
_BAD_NUMBERS = [
    ("process", "--fps", "0"), ("process", "--fps", "-1"), ("process", "--stride", "0"),
    ("process", "--window", "0"), ("process", "--window", "-250"), ("process", "--views", "0"),
    ("process", "--jobs", "100000000"), ("process", "--batch-files", "0"), ("process", "--max-samples", "0"),
    ("process", "--min-seconds", "-2"), ("process", "--min-seconds", "nan"), ("process", "--fps", "inf"),
    ("preview", "--fps", "0"), ("preview", "--grid", "0"), ("preview", "--fps", "x"),
]


@case("processing", "bad_numeric_flags", "a zero, negative, huge or non-finite number for process and preview "
      "flags: exit 2 naming the flag, before anything is read or written")
def _bad_numbers(c: Check) -> None:
    tree = _small_tree(c.dir / "amass")
    clips = c.dir / "clips.pt"
    clips.write_bytes(b"never read")
    before = _snapshot(c.dir)
    for command, flag, value in _BAD_NUMBERS:
        source = ["--amass-root", str(tree), "--output", str(c.dir / "out.pt")] if command == "process" else \
                 [str(clips), "--out", str(c.dir / "x.gif" if flag != "--grid" else c.dir / "x.png")]
        _refused(c, f"{command} {flag} {value}", _cli([command, *source, flag, value]), [f"argument {flag}"])
    c.expect(_snapshot(c.dir) == before, "nothing written")
