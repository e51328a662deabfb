"""`amass-fast labels`: where each clip's label and description would come from, with the coverage report of every
annotation folder, without converting (reads only file headers)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from amass_fast.cli.process import add_label_flags, add_window_flags
from amass_fast.io.progress import progress_iter
from amass_fast.io.tree import DEFAULT_AMASS_ROOT
from amass_fast.labels.identity import dataset_folder
from amass_fast.labels.labeler import Labeler
from amass_fast.labels.report import coverage_report

#: Shown at the end of `amass-fast labels --help`.
EXAMPLES = [
    "amass-fast labels                       # data/amass, built-in label sources only",
    "amass-fast labels --amass-root data/amass --babel babel_v1.0_release --humanml3d HumanML3D",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amass-root", "--amass_root", default=DEFAULT_AMASS_ROOT, metavar="DIR",
                        help=f"the extracted AMASS folder, dataset folders inside (default {DEFAULT_AMASS_ROOT})")
    add_label_flags(parser)
    add_window_flags(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON (for scripts)")


def run(args: argparse.Namespace) -> int:
    """Count where each clip's label and description would come from; reads only file headers."""
    from amass_fast.process.clips import min_tail_frames, plan_windows
    from amass_fast.io.formats import FormatError, NoMotion, probe_sequence
    from amass_fast.io.tree import empty_tree_message, iter_motion_files, no_tree_message

    root = Path(args.amass_root)
    if not root.is_dir():
        print(f"amass-fast labels: {no_tree_message(root)} or pass --amass-root DIR", file=sys.stderr)
        return 2
    labeler = Labeler(args.babel, args.humanml3d, args.seed)
    try:
        labeler.check()
    except (FileNotFoundError, ValueError) as exc:
        print(f"amass-fast labels: {exc}", file=sys.stderr)
        return 2
    files = list(iter_motion_files(root))
    if not files:
        print(f"amass-fast labels: {empty_tree_message(root)}", file=sys.stderr)
        return 1
    clips, tree, unreadable = [], [], 0
    for path in progress_iter(files, len(files), "labels", "file"):
        rel = path.relative_to(root).as_posix()  # as process and verify: linked folders keep their place
        try:
            info = probe_sequence(path)
        except FormatError as exc:
            unreadable += 1
            print(f"skipped: {exc}", file=sys.stderr)
            continue
        if isinstance(info, NoMotion):
            continue
        dataset = dataset_folder(rel) or rel.split("/")[0]
        try:  # one file's failure (its windows, its labels) is one line; the others go on
            rows = []
            for window in plan_windows(info.num_frames, info.fps, dst_fps=args.fps, window=args.window,
                                       stride=args.stride, short=args.short,
                                       min_length=min_tail_frames(args.min_seconds, args.fps)):
                lab = labeler.label(rel, window.start / args.fps, window.length, args.window, args.fps,
                                    source_fps=info.fps, source_frames=info.num_frames)
                rows.append((rel, dataset, lab.source, lab.action, lab.description_source))
        except (ValueError, OSError) as exc:
            unreadable += 1
            print(f"skipped: {rel}: {exc}", file=sys.stderr)
            continue
        tree.append(rel)
        clips += rows
    text, data = coverage_report(clips, tree, labeler, motion_available=False)
    data["unreadable_files"] = unreadable
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(text)
        if unreadable:
            print(f"\n{unreadable} unreadable file(s) skipped (listed above)")
    if args.json:  # warnings also reach a person watching a scripted run
        for warning in data["warnings"]:
            print(warning, file=sys.stderr)
    return 0
