"""Digest every output of the demo tree and the kernels, and compare it with a recorded digest.

A refactoring must not change a single output bit. This script builds the demo's synthetic AMASS tree, runs
`amass-fast process` on it in several configurations (.pt and shards; every schema; --mirror; --views;
--random-views with a perspective camera; --up y and --scale-height), renders a preview, and calls every public
kernel on the tree's sequences with every CPU backend in float32 and float64. Each output is digested from its
loaded values (tensors, arrays, JSON), not its file bytes (torch.save's bytes need not repeat); run-dependent
values (timings, the temporary folder) are left out.

    python tools/demo_digest.py                 # compare with tests/data/demo_digest.json (exit 1 on a change)
    python tools/demo_digest.py --record        # record the current behaviour (on the commit to compare with)

The digest is exact (SHA-256 of the values) on the machine, CPU and library versions it was recorded with, since
floating-point results can differ in the last bit between CPUs (SIMD paths) and library versions. Elsewhere the
comparison falls back to per-output summaries (value count, sum, sum of |x|, within rtol 1e-4 / atol 1e-4 scaled
by the count), so a real change in behaviour is still caught.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "tests" / "data" / "demo_digest.json"
VOLATILE_KEYS = {"seconds"}  # wall-clock timings in run records
SUMMARY_RTOL, SUMMARY_ATOL = 1e-4, 1e-4

# `amass-fast process` configurations run on the demo tree: name -> extra flags.
PROCESS_RUNS = {
    "pt": [],
    "shards": ["--format", "shards"],
    "stick12": ["--schema", "stick12"],
    "joints2d": ["--schema", "joints2d"],
    "joints3d": ["--schema", "joints3d"],
    "joints3d-up-y": ["--schema", "joints3d", "--up", "y", "--scale-height"],
    "mirror": ["--mirror"],
    "views": ["--views", "3"],
    "shards-stick12-mirror-views": ["--format", "shards", "--schema", "stick12", "--mirror", "--views", "2"],
    "random-perspective": ["--schema", "joints2d", "--camera", "perspective", "--random-views", "2"],
    "side-stride": ["--view", "side", "--window", "100", "--stride", "60", "--short", "drop"],
    "top-fps": ["--view", "top", "--fps", "30"],
}


# --- canonical values --------------------------------------------------------------------------------------------

def _canonical(value: Any, root: str) -> Any:
    """A JSON-able canonical form of a loaded output: arrays as (dtype, shape, sha256, summary)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.dtype == np.uint8 and value.ndim == 1:  # JSON stored as bytes (shard clips, info)
            with contextlib.suppress(UnicodeDecodeError, ValueError):
                return {"json": _canonical(json.loads(value.tobytes().decode("utf-8")), root)}
        a = np.ascontiguousarray(value)
        return {"dtype": str(a.dtype), "shape": list(a.shape), "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
                "summary": _summary(a)}
    if isinstance(value, dict):
        return {str(k): _canonical(v, root) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                if k not in VOLATILE_KEYS}
    if isinstance(value, (list, tuple)):
        return [_canonical(v, root) for v in value]
    if isinstance(value, str):
        return value.replace(root, "<tmp>")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, np.generic):
        return _canonical(value.item(), root)
    return value


def _summary(a: np.ndarray) -> list:
    if a.dtype.kind in "fiub":
        x = a.astype(np.float64)
        return [int(x.size), float(x.sum()), float(np.abs(x).sum())]
    return [int(a.size)]


def _sha(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _summaries(value: Any, path: str = "") -> Iterator[tuple[str, list]]:
    if isinstance(value, dict):
        if "summary" in value and "sha256" in value:
            yield path, value["summary"]
            return
        for k, v in value.items():
            yield from _summaries(v, f"{path}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _summaries(v, f"{path}[{i}]")


def _entry(value: Any, root: str) -> dict:
    canon = _canonical(value, root)
    return {"sha256": _sha(canon), "summaries": dict(_summaries(canon))}


# --- outputs -------------------------------------------------------------------------------------------------------

def _load_output(path: Path) -> Any:
    """A process output, loaded as a user would: the .pt with torch.load, a shards folder file by file."""
    import torch

    if path.is_file():
        return torch.load(path, weights_only=True)
    files = {}
    for f in sorted(path.iterdir()):
        if f.suffix == ".npz":
            with np.load(f, allow_pickle=False) as z:
                files[f.name] = {k: z[k] for k in z.files}
        elif f.suffix == ".json":
            files[f.name] = json.loads(f.read_text(encoding="utf-8"))
    return files


def _quiet(fn: Callable[[], int]) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn()


def process_outputs(tmp: Path, backend: str) -> dict:
    """Runs `amass-fast process` on the demo tree per PROCESS_RUNS -> name -> loaded output (and its run record)."""
    from amass_fast.harness import synthetic
    from amass_fast.cli import main

    tree = tmp / "amass"
    synthetic.make_demo_tree(tree)
    outputs = {}
    for name, flags in PROCESS_RUNS.items():
        out = tmp / (name if "--format" in flags else f"{name}.pt")
        argv = ["process", "--amass-root", str(tree), "--output", str(out), "--jobs", "1", "--backend", backend,
                *flags]
        status = _quiet(lambda: main(argv))
        if status != 0:
            raise RuntimeError(f"amass-fast {' '.join(argv)} exited with {status}")
        outputs[f"process/{name}"] = _load_output(out)
        if out.is_file():
            outputs[f"process/{name}/run.json"] = json.loads(out.with_name(out.name + ".run.json").read_text())
    sheet = tmp / "sheet.png"
    if _quiet(lambda: main(["preview", str(tmp / "views.pt"), "--grid", "6", "--out", str(sheet)])) == 0:
        from PIL import Image

        with Image.open(sheet) as image:
            outputs["preview/sheet.png"] = np.asarray(image)
    return outputs


def kernel_outputs(tree: Path, backends: list[str]) -> dict:
    """Every public kernel on the demo tree's first sequences, per backend and float dtype."""
    import amass_fast as af
    from amass_fast.io import formats
    from amass_fast.io.tree import iter_npz_files
    from amass_fast import kernels
    from amass_fast.schemas import Camera

    bm = af.default_body_model(warn=False)
    seqs = []
    for path in sorted(iter_npz_files(tree)):
        with contextlib.suppress(formats.FormatError, formats.NoMotion):
            seqs.append(formats.load_sequence(path))
        if len(seqs) == 3:
            break
    outputs = {}
    for backend in backends:
        for dtype in (np.float32, np.float64):
            def put(name: str, value: Any) -> None:
                outputs[f"kernels/{backend}/{np.dtype(dtype).name}/{name}"] = value

            rests, frames = [], []
            for i, seq in enumerate(seqs):
                poses, trans = seq.poses.astype(dtype), seq.trans.astype(dtype)
                rest = bm.rest_joints(seq.betas)[:22].astype(dtype)
                parents = bm.parents[:22]
                rests.append(rest)
                frames.append((poses[:, :66], trans))
                joints = kernels.fk(poses, trans, rest, parents, backend=backend)
                put(f"{i}/fk", joints)
                put(f"{i}/resample", kernels.resample_poses(poses, trans, seq.fps, 25.0, backend=backend))
                for view in ("front", "side", "top", 37.5):
                    put(f"{i}/project/{view}", kernels.project(joints, view=view, backend=backend))
                for schema in kernels.SCHEMAS:
                    put(f"{i}/convert/{schema}", kernels.convert(poses, trans, rest, parents, seq.fps,
                                                                 schema=schema, backend=backend))
                put(f"{i}/convert/mirror", kernels.convert(poses, trans, rest, parents, seq.fps, mirror=True,
                                                           backend=backend))
                put(f"{i}/convert/joints2d-perspective",
                    kernels.convert(poses, trans, rest, parents, seq.fps, schema="joints2d", backend=backend,
                                    camera=Camera("perspective", yaw_deg=30.0)))
                put(f"{i}/convert/joints3d-y", kernels.convert(poses, trans, rest, parents, seq.fps,
                                                               schema="joints3d", up="y", scale=0.9,
                                                               backend=backend))
            offsets = np.cumsum([0] + [len(p) for p, _ in frames])
            fps = np.array([s.fps for s in seqs])
            lengths = [kernels.resampled_length(len(p), f, 25.0) for (p, _), f in zip(frames, fps)]
            clip_seq = np.array([s for s, n in enumerate(lengths) for _ in range(0, n, 60)])
            clip_start = np.array([k for n in lengths for k in range(0, n, 60)])
            clip_len = np.array([min(80, lengths[s] - k) for s, k in zip(clip_seq, clip_start)])
            clip_yaw = np.linspace(-90.0, 90.0, len(clip_seq))
            args = (np.concatenate([p for p, _ in frames]), np.concatenate([t for _, t in frames]), offsets, fps,
                    np.stack(rests), bm.parents[:22], clip_seq, clip_start, clip_len, clip_yaw)
            for schema in kernels.SCHEMAS:
                put(f"batch/{schema}", kernels.convert_batch(*args, window=80, schema=schema, backend=backend))
            put("batch/top", kernels.convert_batch(*args, window=80, top=True, backend=backend))
    return outputs


# --- record and compare -------------------------------------------------------------------------------------------

def environment() -> dict:
    """What decides the last bits of the results: machine, CPU vector units, library versions."""
    import numba
    import torch

    flags, model = set(), ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
    return {"machine": platform.machine(), "cpu": model,
            "vector_units": sorted(flags & {"avx", "avx2", "fma", "avx512f", "avx512dq", "avx512vl", "neon"}),
            "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "torch": torch.__version__.split("+")[0]}


def digest(backends: list[str] | None = None) -> dict:
    """The digest of this install's outputs: {"environment": ..., "outputs": {name: {"sha256", "summaries"}}}."""
    import torch  # noqa: F401  (tensors are canonicalised through it)

    from amass_fast import kernels

    names = [b for b in ("reference", "numba", "cpp") if b in (backends or kernels.available_backends())]
    with tempfile.TemporaryDirectory(prefix="amass_fast_digest_") as tmp:
        outputs = process_outputs(Path(tmp), "cpp" if "cpp" in names else names[-1])
        outputs.update(kernel_outputs(Path(tmp) / "amass", names))
        entries = {name: _entry(value, tmp) for name, value in outputs.items()}
    return {"environment": environment(), "backends": names, "outputs": entries}


def _close(a: list, b: list) -> bool:
    if len(a) != len(b) or a[0] != b[0]:
        return False
    return all(math.isclose(x, y, rel_tol=SUMMARY_RTOL, abs_tol=SUMMARY_ATOL * max(1, a[0]))
               for x, y in zip(a[1:], b[1:]))


def compare(recorded: dict, current: dict) -> tuple[bool, list[str]]:
    """(exact, problems): exact is whether SHA-256 digests were compared (same environment), problems lists every
    output that differs, is missing or is new."""
    exact = recorded["environment"] == current["environment"]
    problems = []
    old, new = recorded["outputs"], current["outputs"]
    shared_backends = set(recorded["backends"]) & set(current["backends"])

    def relevant(name: str) -> bool:
        parts = name.split("/")
        return parts[0] != "kernels" or parts[1] in shared_backends

    for name in sorted(n for n in set(old) | set(new) if relevant(n)):
        if name not in new:
            problems.append(f"{name}: missing (it was recorded)")
        elif name not in old:
            problems.append(f"{name}: new (not in the record; record again if intended)")
        elif exact:
            if old[name]["sha256"] != new[name]["sha256"]:
                changed = [k for k in old[name]["summaries"]
                           if old[name]["summaries"][k] != new[name]["summaries"].get(k)]
                problems.append(f"{name}: values changed" + (f" ({', '.join(changed[:4])})" if changed else ""))
        else:
            a, b = old[name]["summaries"], new[name]["summaries"]
            bad = [k for k in set(a) | set(b) if k not in a or k not in b or not _close(a[k], b[k])]
            if bad:
                problems.append(f"{name}: summaries differ ({', '.join(sorted(bad)[:4])})")
    return exact, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true", help="write the digest instead of comparing with it")
    parser.add_argument("--file", type=Path, default=RECORD, help=f"the recorded digest (default {RECORD})")
    args = parser.parse_args(argv)
    current = digest()
    if args.record:
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"recorded {len(current['outputs'])} outputs ({', '.join(current['backends'])}) in {args.file}")
        return 0
    if not args.file.is_file():
        print(f"{args.file}: no recorded digest; run with --record first", file=sys.stderr)
        return 2
    exact, problems = compare(json.loads(args.file.read_text(encoding="utf-8")), current)
    how = "bit for bit" if exact else "by summaries (recorded on another machine or library versions)"
    for p in problems:
        print(p)
    print(f"{len(current['outputs'])} outputs compared {how}: "
          + (f"{len(problems)} differ" if problems else "all equal"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
