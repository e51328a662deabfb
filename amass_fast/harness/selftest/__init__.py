"""`amass-fast selftest --hostile [--json] [--groups ...]`: run the hostile corpus on this machine.

The same cases as the test suite (tests/hostile/): broken and malicious files, damaged and malicious archives, bad
body-model files, download faults against a local test server, and killed or refused `process` runs. The corpus
lives in this subpackage (amass_fast.harness.selftest.cases, one module per group) and is imported only by this command
and the tests, never by the pipeline. Everything happens in a temporary folder that is removed afterwards (--keep
keeps it). Prints one line per case: what the tool did and whether that is what it must do. Exit status 1 if any
case failed.

    from amass_fast.harness.selftest import cases
    results = cases.run_cases(groups=["files", "archives"])   # -> [CaseResult]; print(cases.format_table(results))
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from amass_fast.harness.selftest.cases import GROUPS


#: Shown at the end of `amass-fast selftest --help`.
EXAMPLES = [
    "amass-fast selftest --hostile",
    "amass-fast selftest --hostile --groups archives download --json",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hostile", action="store_true",
                        help="run the hostile-input corpus (broken files, malicious archives, network faults, kills)")
    parser.add_argument("--groups", nargs="+", choices=GROUPS, metavar="GROUP",
                        help=f"only these groups ({', '.join(GROUPS)}; default all)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--keep", metavar="DIR", help="build the corpus in DIR and keep it (default: a temporary "
                                                      "folder, removed)")


def run(args: argparse.Namespace) -> int:
    from amass_fast.harness.selftest import cases

    if not args.hostile:
        print("amass-fast selftest: choose a self-check; available: --hostile", file=sys.stderr)
        return 2
    selected = cases.cases(args.groups)
    print(f"running {len(selected)} hostile cases (each in its own folder)...", file=sys.stderr)

    def progress(result: cases.CaseResult) -> None:
        print(f"  {result.status:4s}  {result.group}/{result.name} ({result.seconds:.1f} s)", file=sys.stderr)

    results = cases.run_cases(args.groups, Path(args.keep) if args.keep else None, on_result=progress)
    if args.json:
        print(json.dumps([{**asdict(r), "status": r.status} for r in results], indent=1))
    else:
        print(cases.format_table(results))
    failed = [r for r in results if r.status == "fail"]
    if failed:
        print(f"{len(failed)} hostile case(s) failed: {', '.join(r.name for r in failed)}. Please report them with "
              f"this table (amass-fast selftest --hostile --json).", file=sys.stderr)
        return 1
    return 0
