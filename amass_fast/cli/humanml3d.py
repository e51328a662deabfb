"""`amass-fast humanml3d`: HumanML3D's folder (new_joints, new_joint_vecs, mirrors, Mean/Std, texts, splits) from an
AMASS SMPL+H tree and HumanML3D's repository, as its own scripts make it (docs/HUMANML3D.md)."""
from __future__ import annotations

import argparse
import sys
import time

from amass_fast.cli.args import THREADS_FLAG
from amass_fast.io.tree import DEFAULT_AMASS_ROOT

_SHOWN_FAILURES = 20


#: Shown at the end of `amass-fast humanml3d --help`.
EXAMPLES = [
    "amass-fast humanml3d --amass-root data/amass --humanml3d HumanML3D --body-model body_models --out data/HumanML3D",
    "amass-fast humanml3d ... --resume          # finish an interrupted run",
    "amass-fast humanml3d ... --resampling time # exactly 20 fps (not HumanML3D's stride)",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amass-root", "--amass_root", default=DEFAULT_AMASS_ROOT, metavar="DIR",
                        help=f"the extracted AMASS SMPL+H tree, dataset folders inside (default {DEFAULT_AMASS_ROOT})")
    parser.add_argument("--humanml3d", required=True, metavar="REPO",
                        help="HumanML3D's repository as cloned (index.csv, HumanML3D/texts.zip, the splits, "
                             "pose_data/humanact12.zip)")
    parser.add_argument("--body-model", "--body_model", required=True, metavar="DIR",
                        help="folder with the SMPL+H models: smplh/{male,female}/model.npz as AMASS ships them (or "
                             "SMPLH_MALE.npz / SMPLH_FEMALE.npz); no DMPL files are needed")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="the HumanML3D folder to write (new_joints/, new_joint_vecs/, texts/, Mean.npy, ...)")
    parser.add_argument("--resampling", choices=("stride", "time"), default="stride",
                        help="stride (default): every int(fps/20)-th frame, exactly as HumanML3D (59.94 fps files "
                             "give 30 fps, 250 fps 20.83 fps); time: exactly 20 fps by time, same captioned spans")
    parser.add_argument("--backend", choices=("auto", "numba", "reference"), default="auto",
                        help="feature math: numba (auto) or the float64 NumPy reference (slow, for checks)")
    parser.add_argument("--threads", type=THREADS_FLAG, default=None, metavar="N",
                        help="CPU threads for the joint chain and the feature math (default: all cores)")
    parser.add_argument("--resume", action="store_true",
                        help="finish an interrupted run: keep the clips already written, make the rest")
    parser.add_argument("--overwrite", action="store_true", help="replace what an earlier run wrote in --out")


def run(args: argparse.Namespace) -> int:
    from amass_fast.io.progress import Progress
    from amass_fast.humanml3d.pipeline import BuildError, build

    if args.resume and args.overwrite:
        print("amass-fast humanml3d: --resume keeps what is there and --overwrite replaces it; pass one",
              file=sys.stderr)
        return 2
    if args.threads is not None:
        import numba

        from amass_fast import kernels

        kernels.set_num_threads(args.threads)
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    shown = [0]

    def on_failure(name: str, reason: str) -> None:
        shown[0] += 1
        if shown[0] <= _SHOWN_FAILURES:
            print(f"failed: {name}: {reason}", file=sys.stderr)

    started = time.monotonic()
    bar = None
    try:
        from amass_fast.humanml3d.source import read_index  # noqa: F401  (import errors surface before the bar)

        bar = Progress(None, "humanml3d", "row")
        report = build(args.amass_root, args.humanml3d, args.body_model, args.out, resampling=args.resampling,
                       backend=args.backend, resume=args.resume, overwrite=args.overwrite,
                       progress=bar.update, on_failure=on_failure)
    except BuildError as exc:
        if bar is not None:
            bar.close()
        print(f"amass-fast humanml3d: {exc}", file=sys.stderr)
        return 2
    bar.close()
    seconds = time.monotonic() - started
    print(f"wrote {report.written:,} clips ({report.frames:,} frames, mirrors included) to {args.out} in "
          f"{seconds:,.1f} s" + (f"; {report.resumed:,} rows were already there" if report.resumed else ""))
    print(f"Mean.npy / Std.npy over {report.mean_std_clips:,} clips"
          + (f" ({len(report.nan_clips)} with NaN left out: {', '.join(report.nan_clips[:5])})"
             if report.nan_clips else ""))
    if report.too_short:
        print(f"{len(report.too_short)} rows have fewer than 2 frames and give no files, as in HumanML3D: "
              f"{', '.join(report.too_short[:10])}" + (" ..." if len(report.too_short) > 10 else ""))
    if report.failed:
        more = len(report.failed) - _SHOWN_FAILURES
        print(f"{len(report.failed):,} rows failed" + (f" ({more:,} more than listed above)" if more > 0 else "")
              + "; fix their inputs and run again with --resume", file=sys.stderr)
        return 1
    return 0
