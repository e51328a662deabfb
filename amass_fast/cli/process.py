"""`amass-fast process` on the command line: the flags (validated where they are parsed), the checks made before
any work (inputs, --datasets names, the output path, an existing output), then plan -> map -> reduce."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from amass_fast import __version__
from amass_fast.io import atomic
from amass_fast.outputs import writers
from amass_fast.cli.args import FPS_FLAG, JOBS_FLAG, WINDOW_FLAG, float_range, int_range, output_problem, seed_type
from amass_fast.io.progress import Progress
from amass_fast.process.clips import SHORT_MODES, plan_views, plan_windows
from amass_fast.io.tree import DEFAULT_AMASS_ROOT, no_tree_message
from amass_fast.process.mapping import MapOptions, _labeler
from amass_fast.process.plan import list_archives, plan_tasks, source_items, unknown_datasets
from amass_fast.process.reducing import errors_path, record_path, reduce, summary_table
from amass_fast.process.schedule import BACKENDS, execute, resolve_backend
from amass_fast.schemas.cameras import KINDS
from amass_fast.schemas.joints import UPS
from amass_fast.schemas.layouts import PHYSICS_METHODS, SCHEMAS, SCREEN_X
from amass_fast.schemas.stickgen import PRESET, PRESETS

DEFAULT_ROOT = DEFAULT_AMASS_ROOT
DEFAULT_OUTPUT = {"pt": "data/amass_stick_data.pt", "shards": "data/amass_stick_shards"}
RUN_FILE = "run.json"  # in the work folder: the flags that decide shard contents, checked by --resume
MAX_VIEWS = 360        # one camera per degree of yaw
MAX_BATCH_FILES = 100_000
AGAIN = "use --resume to finish an interrupted run with the same flags, or --overwrite to replace it"


def add_window_flags(parser: argparse.ArgumentParser, default: Callable[[Any], Any] = lambda value: value) -> None:
    """The clip windows: --fps --window --stride --short --min-seconds, the same for process and labels.
    ``default`` wraps the defaults a preset may change (process passes Unset)."""
    parser.add_argument("--fps", type=FPS_FLAG, default=25.0, help="output frame rate (default 25)")
    parser.add_argument("--window", type=WINDOW_FLAG, default=250, help="frames per clip (default 250 = 10 s)")
    parser.add_argument("--stride", type=WINDOW_FLAG, help="frames between clip starts (default: the window)")
    parser.add_argument("--short", choices=SHORT_MODES, default=default("pad"),
                        help="the frames after the last full window: pad a tail window by holding its last frame "
                             "(default), drop them, or end: one more full window ending at the sequence's last "
                             "frame (overlapping the one before; only sequences shorter than a window are padded)")
    parser.add_argument("--min-seconds", type=float_range(0.0), default=default(0.0), metavar="S",
                        help="drop a padded window with fewer than S seconds of motion (default 0: keep every "
                             "tail; e.g. 2 keeps tails of at least 2 s)")


def add_label_flags(parser: argparse.ArgumentParser) -> None:
    """The label sources and the description seed: --babel --humanml3d --seed, the same for process and labels."""
    parser.add_argument("--babel", metavar="DIR",
                        help="BABEL release folder (train.json, val.json, extra_*.json): per-frame action labels")
    parser.add_argument("--humanml3d", metavar="DIR",
                        help="HumanML3D repository folder (index.csv, HumanML3D/texts.zip) or its HumanML3D/ folder: "
                             "captions as descriptions")
    parser.add_argument("--seed", type=seed_type(), default=0, help="seed of the description choice (default 0)")


#: Shown at the end of `amass-fast process --help`.
EXAMPLES = [
    "amass-fast process                      # data/amass -> data/amass_stick_data.pt",
    "amass-fast process --archives data/downloads --max-samples 1000 --output small.pt",
    "amass-fast process --format shards --views 4 --babel babel_v1.0_release --jobs 8",
    "amass-fast process --preset stick-gen --output canonical.pt   # stick-gen's v3 sample (docs/STICKGEN.md)",
    "amass-fast process --resume             # finish an interrupted run with the same flags",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`amass-fast process` flags (the old converter's spellings --amass_root, --output, --max_samples, --batch_size work too)."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--amass-root", "--amass_root", dest="amass_root", metavar="DIR",
                     help=f"extracted AMASS tree (default {DEFAULT_ROOT})")
    src.add_argument("--archives", metavar="DIR",
                     help="read .tar.bz2 archives (a folder of them, or one) directly, without extracting")
    parser.add_argument("--output", "--out", dest="output", metavar="PATH",
                        help=f"output .pt file, or shards folder (default {DEFAULT_OUTPUT['pt']} / "
                             f"{DEFAULT_OUTPUT['shards']}); a finished .pt gets PATH.run.json beside it (its flags)")
    parser.add_argument("--format", choices=("pt", "shards"), default="pt",
                        help="pt: one list of samples (stick-gen's format); shards: memory-mappable shards + manifest")
    parser.add_argument("--datasets", nargs="+", metavar="NAME", help="only these datasets (catalog or folder names)")
    parser.add_argument("--max-samples", "--max_samples", dest="max_samples", type=int_range(1), metavar="N",
                        help="stop at N clips (the first N in file order, the same from a tree or from archives)")
    add_window_flags(parser, Unset)
    parser.add_argument("--view", default="front", help="front | side | top | yaw:DEG (default front)")
    parser.add_argument("--views", type=int_range(1, MAX_VIEWS), default=1, metavar="N",
                        help="N camera yaws per clip, evenly spaced from --view (augmentation; default 1)")
    parser.add_argument("--schema", choices=SCHEMAS, default=Unset("stick5"),
                        help="motion per frame (docs/SCHEMAS.md): stick5 [20] (default), stick12 [48] (stick-gen's "
                             "v3 sample, with physics), joints2d [22, 2], joints3d [22, 3] (canonical frame)")
    parser.add_argument("--up", choices=UPS, default="z",
                        help="joints3d's up axis: z (AMASS's, default) or y (the body-model frame, HumanML3D's)")
    parser.add_argument("--scale-height", action="store_true", default=Unset(False),
                        help="scale each skeleton to a head-to-ankle height of 1.8 m (stick-gen's; one factor per "
                             "sequence, never a rotation)")
    parser.add_argument("--mirror", action="store_true",
                        help="add the left-right mirrored copy of every clip (mirrored in parameter space; labels "
                             "kept, left/right swapped in descriptions, meta.mirrored true)")
    parser.add_argument("--screen-x", choices=SCREEN_X, default=Unset("right"),
                        help="right: screen x is the camera's right (default; a body facing the camera has its "
                             "left at +x); left: x negated, stick-gen's lateral convention (the body's left at -x)")
    parser.add_argument("--physics", choices=PHYSICS_METHODS, default=Unset("backward"),
                        help="stick12's physics: backward differences (default, stick-gen's compute_basic_physics) "
                             "or central differences (numpy.gradient)")
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="stick-gen: its canonical v3 sample, ready for its training scripts: "
                             + ", ".join(_preset_flags(PRESET)) + " (flags given beside it win; docs/STICKGEN.md)")
    parser.add_argument("--camera", choices=KINDS, default="orthographic",
                        help="orthographic (default) or perspective: a pinhole 4 m from a target 1 m above the "
                             "pelvis, 35 mm focal length (docs/SCHEMAS.md, Cameras)")
    parser.add_argument("--random-views", type=int_range(1, MAX_VIEWS), metavar="N",
                        help="N random cameras per clip (yaw, elevation, distance, focal length from documented "
                             "ranges), drawn from --seed and the clip: the same seed gives the same cameras")
    parser.add_argument("--body-model", metavar="DIR",
                        help="folder with SMPL+H / SMPL-X model files (default: the built-in skeleton)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto", help="kernel backend (default auto)")
    parser.add_argument("--jobs", type=JOBS_FLAG, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes (default: CPUs)")
    add_label_flags(parser)
    parser.add_argument("--batch-files", type=int_range(1, MAX_BATCH_FILES), default=32, metavar="N",
                        help="files per task: one shard and one convert_batch call each (default 32)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run with the same flags")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--batch_size", type=int, metavar="N",
                        help="the old converter's flag, accepted and ignored: batching is automatic (see --batch-files)")


class Unset:
    """The default of a flag that --preset may set: marked, so that a value given on the command line wins."""

    def __init__(self, value):
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def _preset_flags(preset: dict) -> list[str]:
    """A preset as the flags it stands for, e.g. ['--schema stick12', '--scale-height']."""
    flags = []
    for key, value in preset.items():
        flag = "--" + key.replace("_", "-")
        flags.append(flag if value is True else f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}")
    return flags


def apply_preset(args: argparse.Namespace) -> None:
    """Resolve the flags --preset may set: the value given on the command line, else the preset's, else the
    default."""
    preset = PRESETS[args.preset] if getattr(args, "preset", None) else {}
    for key, value in vars(args).items():
        if isinstance(value, Unset):
            setattr(args, key, preset.get(key, value.value))


def schema_problem(args: argparse.Namespace) -> Optional[str]:
    """Why the schema, camera and view flags do not go together, or None."""
    top = str(args.view).strip().lower() == "top"
    if args.random_views and args.views > 1:
        return "--random-views N replaces --views N (evenly spaced yaws): pass one of them"
    if args.schema == "joints3d" and (args.camera != "orthographic" or args.random_views or args.views > 1
                                      or not (args.view in ("front", None))):
        return ("--schema joints3d stores the canonical 3D joints, without a camera: --camera, --view, --views and "
                "--random-views apply to the 2D schemas (a StickClips transform can add cameras later)")
    if top and (args.schema != "stick5" or args.camera != "orthographic" or args.random_views or args.scale_height):
        return ("--view top is stick5's ground-plane view; for the other schemas, cameras and --scale-height use a "
                "camera (--random-views, or --view yaw:DEG)")
    if args.up != "z" and args.schema != "joints3d":
        return f"--up {args.up} sets joints3d's up axis; the 2D schemas are on screen (use --schema joints3d)"
    if args.screen_x != "right" and (args.schema == "joints3d" or top):
        return (f"--screen-x {args.screen_x}{_by_preset(args, 'screen_x')} negates screen x of a camera view; "
                f"--schema joints3d has no screen and --view top is stick5's ground plane")
    if args.physics != "backward" and args.schema != "stick12":
        return f"--physics {args.physics} sets stick12's physics; pass --schema stick12 with it"
    return None


def _by_preset(args: argparse.Namespace, key: str) -> str:
    return f" (set by --preset {args.preset})" if args.preset and key in PRESETS[args.preset] else ""


def _fail(message: str) -> int:
    print(f"amass-fast process: {message}", file=sys.stderr)
    return 2


def _nothing_found(root: Path, datasets: Optional[list[str]]) -> str:
    """Why a tree gave no files to process, and what is there instead."""
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    there = f"folders there: {', '.join(folders)}" if folders else "the folder is empty"
    if datasets:
        return f"{root}: no .npz files of --datasets {' '.join(datasets)} ({there}); check the names (amass-fast datasets)"
    return f"{root}: no .npz files ({there}); extract AMASS there first (amass-fast extract --out {root})"


def _nothing_in_archives(archives: str, datasets: Optional[list[str]]) -> str:
    which = f" of --datasets {' '.join(datasets)}" if datasets else ""
    return (f"{archives}: the archives hold no .npz files{which}; nothing written. Check that these are AMASS "
            f"archives (amass-fast datasets lists them) or pass --amass-root DIR")


def check_inputs(args: argparse.Namespace, amass_root: Optional[str]) -> Optional[str]:
    """Why the inputs cannot be read (a missing tree or archive, a folder without archives, an unknown
    --datasets name, a --body-model folder without model files), or None."""
    if amass_root is not None and not Path(amass_root).is_dir():
        return f"{no_tree_message(amass_root)} or pass --amass-root DIR / --archives DIR"
    if args.archives is not None:
        if not Path(args.archives).exists():
            return (f"{args.archives}: no such archive or folder; download archives there (amass-fast download "
                    f"--out {args.archives}) or pass --amass-root DIR")
        if not list_archives(args.archives):
            return (f"--archives {args.archives}: no .tar.bz2 archives in this folder; download them there "
                    f"(amass-fast download --out {args.archives}) or pass one archive")
    unknown, valid = unknown_datasets(args.datasets, amass_root, args.archives)
    if unknown:
        return (f"--datasets: unknown name(s) {', '.join(unknown)}; valid names: {', '.join(valid)} "
                f"(AMASS datasets, and the folders or archives present)")
    if args.body_model is not None:
        from amass_fast.io.body_models import model_dir_problem

        return model_dir_problem(args.body_model)
    return None


def _is_our_folder(folder: Path) -> bool:
    names = [p.name for p in folder.iterdir()]
    return all(n in (RUN_FILE, writers.MANIFEST_NAME) or n.startswith(("shard-", atomic.PREFIX)) for n in names)


def _differ(previous: dict, now: dict) -> str:
    return ", ".join(sorted(k for k in set(previous) | set(now) if previous.get(k) != now.get(k)))


def finished_pt(output: Path, flags: dict) -> Optional[str]:
    """For --resume on a finished .pt: None when its record shows the same flags (nothing to do), else why it
    must not be replaced."""
    record = record_path(output)
    if not record.is_file():
        return (f"--resume: {output} is finished but has no {record.name} beside it recording its flags; "
                f"use --overwrite to replace it, or choose another --output")
    try:
        previous = writers.read_json(record, "use --overwrite to make the output again")
    except (ValueError, OSError) as exc:
        return f"--resume: {exc}"
    previous = previous.get("flags") if isinstance(previous, dict) else None
    if previous != flags:
        changed = _differ(previous, flags) if isinstance(previous, dict) else f"{record.name} holds no flags"
        return (f"--resume: {output} is finished and was made with other flags ({changed}); rerun with the "
                f"same flags, or --overwrite to replace it")
    return None


def shards_made_otherwise(work_dir: Path, run_flags: dict) -> Optional[str]:
    """For --resume without run.json: why the shards in ``work_dir`` must not be mixed with this run's (made with
    other options, or by a version that did not record them), or None. Each shard records what made it
    (mapping.made_by); damaged shards are remade anyway."""
    for shard in sorted(work_dir.glob(writers.SHARD_GLOB)):
        info = writers.shard_summary(shard)
        if info is None:
            continue
        made = info.get("made_by")
        if not isinstance(made, dict):
            return (f"--resume: {shard} does not record the flags that made it and {work_dir / RUN_FILE} is gone; "
                    f"refusing to mix it with this run's clips: use --overwrite to start again")
        wanted = {k: run_flags.get(k) for k in made}
        if made != wanted:
            return (f"--resume: {shard} was made with other flags ({_differ(made, wanted)} differ) and "
                    f"{work_dir / RUN_FILE} is gone; rerun with the same flags, or --overwrite to start again")
    return None


def prepare(output: Path, work_dir: Path, run_flags: dict, resume: bool, overwrite: bool) -> Optional[str]:
    """Make the work folder ready; returns an error message instead when the output must not be touched."""
    if output.exists() and not (resume or overwrite):
        return f"{output} already exists; {AGAIN}"
    if work_dir.exists() and not work_dir.is_dir():
        return f"{work_dir} exists and is not a folder; move it away or choose another --output"
    if work_dir.is_dir() and not _is_our_folder(work_dir):
        return f"{work_dir} holds files amass-fast did not write; refusing to use it: choose another --output"
    if work_dir.is_dir() and overwrite:
        shutil.rmtree(work_dir)
    elif work_dir.is_dir():
        if not resume:
            return f"{work_dir} holds an interrupted run; {AGAIN}"
        run_file = work_dir / RUN_FILE
        try:
            previous = writers.read_json(run_file, "use --overwrite to start again") if run_file.exists() else None
        except (ValueError, OSError) as exc:
            return f"--resume: {exc}"
        if previous is not None and previous != run_flags:
            changed = _differ(previous, run_flags) if isinstance(previous, dict) else "unreadable"
            return (f"--resume: {work_dir} was started with other flags ({changed} differ); "
                    f"rerun with the same flags, or --overwrite to start again")
        problem = None if previous is not None else shards_made_otherwise(work_dir, run_flags)
        if problem:
            return problem
        writers.remove_temporaries(work_dir)
        (work_dir / writers.MANIFEST_NAME).unlink(missing_ok=True)
    try:
        for final in (output, errors_path(output), record_path(output)):  # what a killed reduce left beside it
            atomic.remove_leftovers(final)
        work_dir.mkdir(parents=True, exist_ok=True)
        writers.write_json(work_dir / RUN_FILE, run_flags)
    except OSError as exc:  # read-only folder, a file in the way, no space
        return f"cannot write to {exc.filename or work_dir}: {exc.strerror or exc}; choose a writable --output"
    return None


def run(args: argparse.Namespace) -> int:
    """`amass-fast process`; exit status 0 when every file converted or was skipped without motion, 1 when some
    failed (listed in <output>.errors.jsonl), 2 when nothing could start or there was nothing to convert."""
    apply_preset(args)
    fmt = args.format
    output = Path(args.output or DEFAULT_OUTPUT[fmt])
    work_dir = output if fmt == "shards" else Path(f"{output}.parts")
    amass_root = None if args.archives else (args.amass_root or DEFAULT_ROOT)
    if args.batch_size is not None:
        print(f"note: --batch_size {args.batch_size} is accepted for the old tool's scripts and ignored: "
              f"batching is automatic (many sequences per convert_batch call; --batch-files sets files per task)",
              file=sys.stderr)
    problem = check_inputs(args, amass_root) or output_problem(
        output, kind="folder" if fmt == "shards" else "file", flag="--output", inputs=[amass_root],
        beside=[str(p)[len(str(output)):] for p in {errors_path(output), record_path(output), work_dir} - {output}])
    if problem:
        return _fail(problem)
    problem = schema_problem(args)
    if problem:
        return _fail(problem)
    try:
        plan_views(args.view, args.views)
        plan_windows(1, 25.0, window=args.window, stride=args.stride or args.window, short=args.short)
        backend = resolve_backend(args.backend)
        _labeler(args.babel, args.humanml3d, args.seed).check()  # a wrong annotation folder, before any work
    except (ValueError, OSError) as exc:
        return _fail(str(exc))
    opts = MapOptions(dst_fps=args.fps, window=args.window, stride=args.stride or args.window, short=args.short,
                      min_seconds=args.min_seconds, view=args.view, views=args.views, body_model=args.body_model,
                      backend=backend, babel=args.babel, humanml3d=args.humanml3d, seed=args.seed,
                      schema=args.schema, up=args.up, scale_height=args.scale_height, mirror=args.mirror,
                      camera=args.camera, random_views=args.random_views or 0, screen_x=args.screen_x,
                      physics=args.physics)
    # Paths as normalised strings, so that data/amass/ and data/amass resume the same run.
    run_flags = {"amass_root": amass_root and os.path.normpath(amass_root),
                 "archives": args.archives and os.path.normpath(args.archives), "datasets": args.datasets,
                 "batch_files": args.batch_files, "format": fmt,
                 **{k: v for k, v in asdict(opts).items() if k != "backend"}}
    flags = {**run_flags, "max_samples": args.max_samples}
    if fmt == "pt" and args.resume and not args.overwrite and output.is_file() and not work_dir.exists():
        problem = finished_pt(output, flags)
        if problem:
            return _fail(problem)
        print(f"{output} is already finished with these flags; nothing to do (--overwrite makes it again)")
        return 0
    items = source_items(amass_root, args.archives, args.datasets, spool_dir=output.parent)
    if amass_root is not None:
        items = list(items)
        if not items:
            return _fail(_nothing_found(Path(amass_root), args.datasets))
    problem = prepare(output, work_dir, run_flags, args.resume, args.overwrite)
    if problem:
        return _fail(problem)
    if not args.body_model:
        print("note: no --body-model given: using the built-in skeleton (SMPL joint topology, anthropometric "
              "segment lengths); pass --body-model DIR for each subject's own body shape", file=sys.stderr)
    manifest = {"amass_fast": __version__, "numpy": np.__version__, "backend": opts.backend, "flags": flags,
                "window": opts.window, "fps": opts.dst_fps}
    started = time.perf_counter()
    try:
        infos = _map_all(items, opts, work_dir, args, amass_root is not None)
        if sum(info["counts"]["files"] for info in infos) == 0:  # archives that held no .npz (of --datasets)
            if not any(work_dir.glob(writers.SHARD_GLOB)):
                shutil.rmtree(work_dir, ignore_errors=True)
            return _fail(_nothing_in_archives(args.archives, args.datasets))
        totals, clips = reduce(infos, work_dir, output, fmt, args.max_samples, manifest)
    except OSError as exc:  # disk full, quota, a folder gone read-only: finished shards stay whole
        return _fail(f"cannot write {exc.filename or output}: {exc.strerror or exc}; free some space or fix the "
                     f"folder, then rerun the same command with --resume")
    print(summary_table(totals, time.perf_counter() - started, opts.backend, output, opts.dst_fps))
    from amass_fast.labels import coverage_report

    converted = list(dict.fromkeys(rel for rel, *_ in clips))  # the files that gave clips, in output order
    report, data = coverage_report(clips, converted, _labeler(args.babel, args.humanml3d, args.seed))
    print("\n" + report)
    for warning in data["warnings"]:  # also on stderr, for a person watching a scripted run
        print(warning, file=sys.stderr)
    if totals["failed"]:
        print(f"{totals['failed']} file(s) failed: see {errors_path(output)} (file, reason); the other files are "
              f"in the output. Exit status 1.", file=sys.stderr)
        return 1
    return 0


def _map_all(items, opts: MapOptions, work_dir: Path, args: argparse.Namespace, counted: bool) -> list[dict]:
    """Run the map over the planned tasks with progress reporting; returns the task infos in order."""
    total, jobs = (len(items), min(args.jobs, -(-len(items) // args.batch_files))) if counted else (None, args.jobs)
    started = time.perf_counter()
    seen = {"clips": 0, "frames": 0}
    with Progress(total, "process", "file") as progress:
        def on_done(info: dict) -> None:
            seen["clips"] += info["clips"]
            seen["frames"] += info["counts"]["frames"]
            rate = seen["frames"] / max(time.perf_counter() - started, 1e-9)
            clips = seen["clips"] if args.max_samples is None else min(seen["clips"], args.max_samples)
            progress.update(info["counts"]["files"], clips=clips, frames_s=f"{rate:,.0f}")

        return execute(plan_tasks(iter(items), args.batch_files), opts, work_dir, jobs=jobs, resume=args.resume,
                       max_samples=args.max_samples, on_done=on_done)
