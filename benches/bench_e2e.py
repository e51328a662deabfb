"""End-to-end benchmark: `amass-fast process --format shards` on a synthetic corpus with real sizes.

    python benches/bench_e2e.py [--files 200] [--backend auto] [--jobs 1] [--archives] [--json]

Corpus: SMPL+H files at 120 fps, 10-60 s each (as AMASS's SMPL+H release), written once into --corpus (reused when
it matches), stored as np.savez writes them (as AMASS ships them). Figures, measured in one run on the same files
(each the best of --repeat runs, taken in turns so that a busy spell of a shared machine hits them alike):

    floor         np.load of poses and trans of every file, nothing else: what the simplest reader costs
    read bytes    only the bytes the kernels need, without any check: each file's poses (body columns) and trans
                  copied as float32 straight from the page cache: no reader does less
    load          formats.load_sequence of every file: one pass per member, with every check (zip CRC-32, headers,
                  sizes, frame rate, NaN/inf, float32 range, pose magnitude)
    pipeline      `amass-fast process --format shards` (load, resample, FK, projection, labels, shards)
    old           the old converter's method on a small slice: smplx forward (full mesh, real vertex count) in
                  batches of 64 frames, a per-frame Python loop for the sticks, whole-sequence interpolation

and the ratios with their targets: pipeline >= 300x the old method; pipeline time <= 1.3x the np.load floor.
Wall and CPU seconds (all threads of this process) are both reported: on a shared machine CPU time moves less.

With --archives the corpus is also packed into one .tar.bz2 (CMU.tar.bz2, written once) and three more figures
are measured: "decompress" (the archive's members decoded and parsed from the tar, nothing else), "members in
order" (what `process --archives` feeds its tasks: decoded, loaded with every check, the kernels' part spooled and
read back sorted) and "pipeline (archives)"; target: pipeline (archives) <= 1.2x decompress.
--decoder-threads 1 gives the decoder's per-core rate (the pipeline still decodes on every core).
Run with --jobs 1 for single-process figures.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from amass_fast import process
from amass_fast.cli import process as process_command
from amass_fast.harness import synthetic  # noqa: E402

OLD_WINDOW = 250
OLD_BATCH = 64
BODY_COLUMNS = 66  # the 22 body joints' axis-angles: all the kernels read of poses


def make_corpus(root: Path, files: int, seconds: tuple[float, float], seed: int = 0) -> list[Path]:
    """SMPL+H, 120 fps files of uniformly drawn lengths, in a CMU-like tree; reused if already written."""
    marker = root / "corpus.json"
    spec = {"files": files, "seconds": list(seconds), "seed": seed, "format": 1}
    paths = [root / "CMU" / f"{i // 20 + 1:02d}" / f"{i // 20 + 1:02d}_{i % 20 + 1:02d}_poses.npz"
             for i in range(files)]
    if marker.exists() and json.loads(marker.read_text()) == spec and all(p.exists() for p in paths):
        return paths
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(seed)
    for i, path in enumerate(paths):
        synthetic.write_sequence(path, "smplh", synthetic.MOTIONS[i % len(synthetic.MOTIONS)],
                                 seconds=float(rng.uniform(*seconds)), fps=120.0, seed=seed + i)
    marker.write_text(json.dumps(spec))
    return paths


def make_archive(corpus: Path, out: Path) -> Path:
    """The corpus's CMU folder as CMU.tar.bz2 (as AMASS ships it: members CMU/...); reused if newer than the corpus."""
    archive = out / "CMU.tar.bz2"
    if archive.exists() and archive.stat().st_mtime > (corpus / "corpus.json").stat().st_mtime:
        return archive
    out.mkdir(parents=True, exist_ok=True)
    partial = out / "CMU.tar.bz2.partial"
    if shutil.which("lbzip2"):  # parallel compression: minutes less for a GB of corpus
        with open(partial, "wb") as f:
            tar = subprocess.Popen(["tar", "-C", str(corpus), "-cf", "-", "CMU"], stdout=subprocess.PIPE)
            subprocess.run(["lbzip2", "-9"], stdin=tar.stdout, stdout=f, check=True)
            if tar.wait() != 0:
                raise SystemExit("tar failed while packing the corpus")
    else:
        with tarfile.open(partial, "w:bz2") as tar:
            tar.add(corpus / "CMU", arcname="CMU")
    partial.replace(archive)
    return archive


def _timed(fn: Callable[[], dict]) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return {**result, "seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}


def measure_floor(paths: list[Path]) -> dict:
    """Read poses and trans of every file with np.load (the simplest reader; it checks the zip CRC-32)."""
    frames = 0
    for path in paths:
        with np.load(path, allow_pickle=False) as z:
            poses, _trans = z["poses"], z["trans"]
        frames += len(poses)
    return {"sequences": len(paths), "frames": frames}


def _stored_array(f, z: zipfile.ZipFile, key: str) -> np.ndarray:
    """A stored member's array mapped from the file (no copy yet): its local header and .npy header skipped."""
    info = z.getinfo(key + ".npy")
    f.seek(info.header_offset + 26)
    name_len, extra_len = np.frombuffer(f.read(4), "<u2")
    start = info.header_offset + 30 + int(name_len) + int(extra_len)
    f.seek(start)
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(f)
    return np.memmap(f, dtype=dtype, mode="r", offset=f.tell(), shape=shape, order="F" if fortran else "C")


def measure_read_bytes(paths: list[Path]) -> dict:
    """The least any converter must do: each file's body-pose columns and trans copied from the page cache into
    float32 arrays (the kernels' input), nothing checked, no CRC."""
    frames = 0
    for path in paths:
        with open(path, "rb") as f, zipfile.ZipFile(f) as z:
            poses = np.array(_stored_array(f, z, "poses")[:, :BODY_COLUMNS], dtype=np.float32)
            _trans = np.array(_stored_array(f, z, "trans"), dtype=np.float32)
        frames += len(poses)
    return {"sequences": len(paths), "frames": frames}


def measure_load(paths: list[Path]) -> dict:
    """formats.load_sequence of every file: the pipeline's reader with all of its checks."""
    from amass_fast.io.formats import load_sequence

    frames = sum(load_sequence(path).num_frames for path in paths)
    return {"sequences": len(paths), "frames": frames}


def measure_pipeline(source: list[str], out: Path, backend: str, jobs: int) -> dict:
    """`amass-fast process --format shards` on `source` (["--amass-root", DIR] or ["--archives", DIR])."""
    parser = argparse.ArgumentParser()
    process_command.add_arguments(parser)
    args = parser.parse_args([*source, "--output", str(out), "--format", "shards", "--overwrite",
                              "--backend", backend, "--jobs", str(jobs)])
    with contextlib.redirect_stdout(sys.stderr):  # its summary table; stdout is for this script's figures
        status = process_command.run(args)
    if status != 0:
        raise SystemExit(f"process failed with exit status {status}")
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    return {"sequences": counts["converted"], "frames": counts["frames"], "clips": counts["clips"],
            "backend": manifest["backend"]}


def measure_decompress(archive: Path, threads: int) -> dict:
    """Decode the archive and parse its tar, keeping each .npz member's bytes for a moment: nothing else."""
    from amass_fast.io.archive import iter_archive_members

    members = size = 0
    for _name, data in iter_archive_members(archive, threads=threads):
        members, size = members + 1, size + len(data)
    return {"sequences": members, "bytes": size}


def measure_members_in_order(archives: Path, spool_dir: Path) -> dict:
    """What `process --archives` feeds its tasks: every member decoded, loaded (all checks), its body poses and
    trans spooled, and read back in the tree's order."""
    from amass_fast.io.formats import Sequence
    from amass_fast.process.plan import source_items

    sequences = frames = 0
    for _name, source in source_items(archives=str(archives), spool_dir=spool_dir):
        if isinstance(source, Sequence):
            sequences, frames = sequences + 1, frames + source.num_frames
    return {"sequences": sequences, "frames": frames}


def _stick5(joints: np.ndarray) -> np.ndarray:
    """The old converter's per-frame stick lines: ground-plane (x, y) drop of head/neck/wrists/pelvis/ankles."""
    head, neck = joints[15, :2], 0.5 * (joints[16, :2] + joints[17, :2])
    pelvis = 0.5 * (joints[1, :2] + joints[2, :2])
    lines = [(head, neck), (neck, joints[20, :2]), (neck, joints[21, :2]), (pelvis, joints[7, :2]),
             (pelvis, joints[8, :2])]
    return np.array([v for a, b in lines for v in (*a, *b)])


def measure_old(paths: list[Path], max_frames: int) -> dict:
    """The old converter's method on a slice: smplx forward on every source frame in batches of 64, sticks per frame in
    Python, then the whole sequence stretched to 250 frames by interpolation."""
    import smplx
    import torch

    from amass_fast.harness.synthetic_models import write_model

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(sys.stderr):  # smplx prints notes
        model_path = write_model(Path(tmp) / "SMPLH_MALE.npz", "smplh")  # real vertex count (6890)
        model = smplx.SMPLH(str(model_path), ext="npz", use_pca=False, flat_hand_mean=True, num_betas=10,
                            batch_size=OLD_BATCH)
    frames = 0
    started, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        with np.load(path, allow_pickle=False) as z:
            poses = torch.as_tensor(z["poses"][:max_frames], dtype=torch.float32)
            trans = torch.as_tensor(z["trans"][:max_frames], dtype=torch.float32)
            betas = torch.as_tensor(z["betas"][:10], dtype=torch.float32)
        sticks = []
        for a in range(0, len(poses), OLD_BATCH):
            p, t = poses[a:a + OLD_BATCH], trans[a:a + OLD_BATCH]
            n = len(p)
            if n < OLD_BATCH:  # the model's batch size is fixed: pad the last batch
                p = torch.cat([p, p[-1:].expand(OLD_BATCH - n, -1)])
                t = torch.cat([t, t[-1:].expand(OLD_BATCH - n, -1)])
            with torch.no_grad():
                out = model(betas=betas.expand(OLD_BATCH, -1), global_orient=p[:, :3], body_pose=p[:, 3:66],
                            left_hand_pose=p[:, 66:111], right_hand_pose=p[:, 111:156], transl=t)
            joints = out.joints[:n].numpy()
            sticks += [_stick5(j) for j in joints]
        sticks = np.array(sticks)
        grid = np.linspace(0, len(sticks) - 1, OLD_WINDOW)
        _ = np.stack([np.interp(grid, np.arange(len(sticks)), sticks[:, c]) for c in range(sticks.shape[1])], 1)
        frames += len(poses)
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu,
            "sequences": len(paths), "frames": frames}


def _best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["seconds"])


def _rates(r: dict) -> dict:
    if "frames" in r:
        r["sequences_per_s"] = r["sequences"] / r["seconds"]
        r["frames_per_s"] = r["frames"] / r["seconds"]
    if "bytes" in r:
        r["mb_per_s"] = r["bytes"] / 1e6 / r["seconds"]
    return r


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200, help="files in the corpus (default 200)")
    parser.add_argument("--seconds", type=float, nargs=2, default=(10.0, 60.0), help="file lengths (default 10 60)")
    parser.add_argument("--corpus", default=str(Path(tempfile.gettempdir()) / "amass_fast_bench_corpus"),
                        help="where the corpus is written once and reused")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for the pipeline (default 1)")
    parser.add_argument("--baseline-files", type=int, default=2, help="files in the old-method slice")
    parser.add_argument("--baseline-frames", type=int, default=1200, help="source frames per slice file")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each figure; best kept")
    parser.add_argument("--archives", action="store_true",
                        help="also measure process --archives against decompression alone")
    parser.add_argument("--decoder-threads", type=int, default=None,
                        help="bzip2 decoder threads for the decompress figure (default: all cores)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    corpus = Path(args.corpus)
    paths = make_corpus(corpus, args.files, tuple(args.seconds))
    archive = make_archive(corpus, corpus.parent / (corpus.name + "_archives")) if args.archives else None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "shards"
        tree = ["--amass-root", str(corpus)]
        cases: dict[str, Callable[[], dict]] = {
            "floor": lambda: measure_floor(paths),
            "read bytes": lambda: measure_read_bytes(paths),
            "load": lambda: measure_load(paths),
            "pipeline": lambda: measure_pipeline(tree, out, args.backend, args.jobs),
        }
        if archive is not None:
            cases["decompress"] = lambda: measure_decompress(archive, args.decoder_threads)
            cases["members in order"] = lambda: measure_members_in_order(archive.parent, Path(tmp))
            cases["pipeline (archives)"] = lambda: measure_pipeline(["--archives", str(archive.parent)], out,
                                                                    args.backend, args.jobs)
        # A first pass warms the page cache (every figure reads from memory) and pays the pipeline's one-time start
        # (imports, thread pools), reported apart. Then the cases run in turns, best of --repeat kept for each.
        first = {name: _timed(fn) for name, fn in cases.items()}
        runs: dict[str, list] = {name: [] for name in cases}
        for _ in range(args.repeat):
            for name, fn in cases.items():
                runs[name].append(_timed(fn))
        results = {name: _rates(_best(r)) for name, r in runs.items()}
        results["pipeline"]["startup_seconds"] = max(first["pipeline"]["seconds"] - results["pipeline"]["seconds"],
                                                     0.0)
    results["old"] = _rates(measure_old(paths[:args.baseline_files], args.baseline_frames))
    floor, pipeline, old = results["floor"], results["pipeline"], results["old"]
    # Per source frame: the old method's rate on its slice holds for the whole corpus (it is linear in frames).
    ratios = {"pipeline_vs_old": pipeline["frames_per_s"] / old["frames_per_s"],
              "pipeline_time_vs_floor": pipeline["seconds"] / floor["seconds"],
              "pipeline_time_vs_read_bytes": pipeline["seconds"] / results["read bytes"]["seconds"],
              "load_time_vs_floor": results["load"]["seconds"] / floor["seconds"],
              "pipeline_cpu_vs_floor_cpu": pipeline["cpu_seconds"] / floor["cpu_seconds"]}
    targets = {"pipeline_vs_old": ">= 300", "pipeline_time_vs_floor": "<= 1.3"}
    if archive is not None:
        decompress, in_order = results["decompress"], results["members in order"]
        ratios["pipeline_archives_vs_members_in_order"] = (results["pipeline (archives)"]["seconds"]
                                                           / in_order["seconds"])
        if args.decoder_threads is None:  # the same decoder threads as the pipeline's: the target's comparison
            ratios["archives_pipeline_vs_decompress"] = (results["pipeline (archives)"]["seconds"]
                                                         / decompress["seconds"])
            ratios["members_in_order_vs_decompress"] = in_order["seconds"] / decompress["seconds"]
            targets["archives_pipeline_vs_decompress"] = "<= 1.2"
    hours = floor["frames"] / 120.0 / 3600.0
    corpus_info = {"files": len(paths), "hours": hours, "fps": 120.0,
                   "bytes": sum(p.stat().st_size for p in paths)}
    if archive is not None:
        corpus_info["archive_bytes"] = archive.stat().st_size
    result = {"corpus": corpus_info, **{k.replace(" ", "_").replace("(", "").replace(")", ""): v
                                        for k, v in results.items()},
              "ratios": ratios, "targets": targets, "jobs": args.jobs}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"\ncorpus: {len(paths)} SMPL+H files, 120 fps, {hours:.2f} h of motion, {floor['frames']:,} frames, "
          f"{corpus_info['bytes'] / 1e9:.2f} GB" + (f"; archive {corpus_info['archive_bytes'] / 1e9:.2f} GB"
                                                    if archive is not None else ""))
    print(f"{'':20} {'seconds':>8} {'cpu s':>8} {'sequences/s':>12} {'frames/s':>12} {'MB/s':>8}")
    for name, r in results.items():
        print(f"{name:20} {r['seconds']:8.2f} {r['cpu_seconds']:8.2f} {r['sequences'] / r['seconds']:12.1f} "
              f"{r.get('frames_per_s', 0):12,.0f} {r.get('mb_per_s', 0):8.0f}")
    print(f"pipeline backend: {pipeline['backend']}, jobs {args.jobs}, one-time start "
          f"{pipeline['startup_seconds']:.1f} s (not counted); old-method slice: {old['sequences']} files, "
          f"{old['frames']:,} frames")
    print(f"pipeline / old (frames/s):        {ratios['pipeline_vs_old']:,.0f}x   (target >= 300x)")
    print(f"pipeline / floor (time):          {ratios['pipeline_time_vs_floor']:.2f}x   (target <= 1.3x)")
    print(f"pipeline / read bytes (time):     {ratios['pipeline_time_vs_read_bytes']:.2f}x")
    print(f"load / floor (time):              {ratios['load_time_vs_floor']:.2f}x")
    print(f"pipeline / floor (CPU time):      {ratios['pipeline_cpu_vs_floor_cpu']:.2f}x")
    if archive is not None and args.decoder_threads is None:
        print(f"members in order / decompress:    {ratios['members_in_order_vs_decompress']:.2f}x")
        print(f"pipeline (archives) / decompress: {ratios['archives_pipeline_vs_decompress']:.2f}x   "
              f"(target <= 1.2x)")
    elif archive is not None:  # decompress ran on fewer threads than the pipeline's decoder: a per-core rate
        print(f"decompress with {args.decoder_threads} decoder thread(s): "
              f"{results['decompress']['mb_per_s']:.0f} MB/s of .npz out, "
              f"{corpus_info['archive_bytes'] / 1e6 / results['decompress']['seconds']:.1f} MB/s of archive in")
    if archive is not None:
        print(f"pipeline (archives) / members in order: {ratios['pipeline_archives_vs_members_in_order']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
