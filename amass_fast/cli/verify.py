"""`amass-fast verify`: check an extracted AMASS tree (files, formats, frames, hours, frame rates, unreadable files)."""
from __future__ import annotations

import argparse
from dataclasses import asdict
import json
from pathlib import Path
import sys

from amass_fast.cli.args import JOBS_FLAG
from amass_fast.io.tree import empty_tree_message, iter_npz_files, no_tree_message
from amass_fast.io.verify import (verify_tree, totals, format_table, DEFAULT_ROOT)


#: Shown at the end of `amass-fast verify --help`.
EXAMPLES = [
    "amass-fast verify data/amass",
    "amass-fast verify data/amass --json > verify.json",
    "amass-fast verify data/amass --headers-only   # fast: headers only",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", nargs="?", default=DEFAULT_ROOT, help=f"the AMASS root (default: {DEFAULT_ROOT})")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--headers-only", action="store_true",
                        help="read only the file headers (much faster; misses NaN values, values beyond float32 and "
                             "corrupt pose data that process refuses)")
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)  # the default since every file is loaded
    parser.add_argument("--jobs", type=JOBS_FLAG, default=None, metavar="N",
                        help="worker processes (default: all cores)")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root)
    if not root.is_dir():
        print(f"amass-fast verify: {no_tree_message(root)}", file=sys.stderr)
        return 2
    if next(iter_npz_files(root, on_skip=lambda p, why: None), None) is None:  # before any progress bar
        print(f"amass-fast verify: {empty_tree_message(root)}", file=sys.stderr)
        return 1
    summaries = verify_tree(root, headers_only=args.headers_only, jobs=args.jobs,
                            show_progress=False if args.json else None)
    t = totals(summaries)
    if args.json:
        print(json.dumps({"root": str(root), "full": not args.headers_only, "totals": t,
                          "datasets": {k: asdict(v) for k, v in summaries.items()}}, indent=1))
    else:
        print(format_table(summaries))
    if t["unreadable"]:
        if not args.json:
            print(f"\n{t['unreadable']} file(s) unreadable: re-extract their archives (amass-fast extract --force) "
                  f"or download them again", file=sys.stderr)
        return 1
    return 0
