"""`amass-fast extract`: unpack downloaded .tar.bz2 archives into the AMASS tree, safely, in parallel, idempotently."""
from __future__ import annotations

import argparse
import sys

from amass_fast.cli.args import JOBS_FLAG, output_problem
from amass_fast.io.archive import (ArchiveError, available_decoders, measure_decoders, find_archives, extract_all,
                                   DECODERS)
from amass_fast.io.download.checks import NotRegularFileError
from amass_fast.io.tree import DEFAULT_AMASS_ROOT


#: Shown at the end of `amass-fast extract --help`.
EXAMPLES = [
    "amass-fast extract                      # data/downloads/*.tar.bz2 -> data/amass",
    "amass-fast extract --archives data/downloads/CMU.tar.bz2 --out data/amass",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archives", nargs="+", default=["data/downloads"], metavar="PATH",
                        help="archives, or folders holding *.tar.bz2 (default: data/downloads)")
    parser.add_argument("--out", default=DEFAULT_AMASS_ROOT, metavar="DIR",
                        help="the AMASS root to extract into (default: data/amass)")
    parser.add_argument("--jobs", type=JOBS_FLAG, default=2, metavar="N",
                        help="archives extracted at once (default: 2)")
    parser.add_argument("--decoder", choices=DECODERS, default=None,
                        help="bzip2 decoder (default: the fastest available: %s)" % ", ".join(available_decoders()))
    parser.add_argument("--force", action="store_true", help="extract again even when already extracted")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace files in --out whose bytes differ from the archive's (default: kept, listed)")
    parser.add_argument("--measure", metavar="ARCHIVE", default=None,
                        help="only measure each available decoder's throughput on ARCHIVE and print it")


def _fail(message: str) -> int:
    print(f"amass-fast extract: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """`amass-fast extract`: exit 0 when every archive was extracted, 1 when one failed, held unsafe members or
    a member that could not be written, 2 on bad flags or paths, or when no archive holds any .npz file."""
    if args.measure:
        try:
            rates = measure_decoders(args.measure)
        except ArchiveError as exc:
            return _fail(str(exc))
        for decoder, rate in rates.items():
            print(f"{decoder:14s} {rate:8.1f} MB/s")
        return 0
    problem = output_problem(args.out, kind="folder", flag="--out")
    if problem:
        return _fail(problem)
    try:
        archives = find_archives(args.archives, on_skipped=lambda path, what: print(
            f"amass-fast extract: skipped {path}: is {what}, not a regular file", file=sys.stderr))
    except (FileNotFoundError, NotRegularFileError) as exc:
        return _fail(str(exc))
    if not archives:
        return _fail(f"no .tar.bz2 archives in {' '.join(args.archives)}; download them first "
                     f"(amass-fast download) or pass --archives")
    reports = extract_all(archives, args.out, jobs=args.jobs, decoder=args.decoder, force=args.force,
                          overwrite=args.overwrite)
    head = f"{'archive':32s} {'status':9s} {'files':>6s} {'MB':>9s} {'ignored':>7s} {'refused':>7s} {'s':>7s}  decoder"
    print(f"{head}\n{'-' * len(head)}")
    for r in reports:
        print(f"{r.archive:32s} {r.status:9s} {r.files:6d} {r.bytes / 1e6:9.1f} {r.ignored:7d} {len(r.refused):7d} "
              f"{r.seconds:7.1f}  {r.decoder}")
    for r in reports:
        for member, reason in r.refused:
            print(f"refused: {r.archive}: {member!r}: {reason}", file=sys.stderr)
        for member, reason in r.unwritten:
            print(f"not written: {r.archive}: {member!r}: {reason}", file=sys.stderr)
        for member, reason in r.kept:
            print(f"kept: {r.archive}: {reason}", file=sys.stderr)
        if r.error:
            print(f"{r.status}: {r.error}", file=sys.stderr)
    if all(r.status == "empty" for r in reports):
        return _fail("no archive given holds any .npz motion file (see above); nothing to extract")
    bad = [r for r in reports if r.status in ("failed", "empty") or r.refused or r.unwritten or r.kept]
    if bad:
        print(f"{len(bad)} archive(s) failed, were empty, held unsafe members, members that could not be written or "
              f"files of yours that differ (see above); genuine AMASS archives extract whole", file=sys.stderr)
        return 1
    print(f"done: AMASS tree in {args.out}; next: amass-fast verify {args.out}")
    return 0
