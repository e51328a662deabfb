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

from amass_fast.selftest.files import BAD_FILES, _good_sequence, _savez
from amass_fast.selftest.cases import Check, _amass_fast, _env, _files_under, _short, case
from amass_fast.selftest.download import _limit_file_size

# --- processing faults -------------------------------------------------------------------------------------------

def _process_tree(root: Path, files: int = 12) -> Path:
    from amass_fast import synthetic

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
    from amass_fast import writers

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
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
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
    c.did = f"exit {proc.returncode}: {_short(proc.stderr.strip().splitlines()[-1], 110)}; --overwrite: exit " \
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
        c.did = f"exit {proc.returncode}: {_short(proc.stderr.strip().splitlines()[-1], 140)}"
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
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    c.did = f"exit {proc.returncode}: {_short(last, 140)}"
    c.expect(proc.returncode == 2, "exit status 2")
    c.expect("Traceback" not in proc.stderr and "a_file" in last, "a one-line message naming the path")


@case("processing", "disk_full_then_resume", "the file system refuses writes mid-run (RLIMIT_FSIZE): exit non-zero "
      "with a message, no traceback, no partial file under a final name; --resume then completes")
def _process_disk_full(c: Check) -> None:
    from amass_fast import writers

    tree = _process_tree(c.dir / "amass")
    output = c.dir / "out.pt"
    parts = Path(f"{output}.parts")
    args = ["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS]
    proc = _amass_fast(args, preexec_fn=_limit_file_size(48_000))
    shards = sorted(parts.glob(writers.SHARD_GLOB)) if parts.exists() else []
    c.expect(proc.returncode != 0 and not output.exists(), "a non-zero exit status and no output")
    c.expect(all(writers.shard_is_complete(s) for s in shards), "every shard under its final name is complete")
    again = _amass_fast([*args, "--resume"])
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
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

