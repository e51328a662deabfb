"""`amass-fast datasets`: list the AMASS sub-datasets (archive names, sizes, motion counts, frame rates)."""
from __future__ import annotations

import argparse
from dataclasses import asdict
import json
import sys

from amass_fast.io.catalog import (format_table, MODELS, LICENCE_ACCEPT_PAGE, DATASETS, RECOMMENDED, SUBSET)


#: Shown at the end of `amass-fast datasets --help`.
EXAMPLES = [
    "amass-fast datasets",
    "amass-fast datasets --model smplx",
    "amass-fast datasets --json > catalog.json",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `amass-fast datasets`."""
    parser.add_argument("--json", action="store_true", help="print the catalog as JSON")
    parser.add_argument("--model", choices=MODELS, default="smplh", help="whose archive sizes to show (default smplh)")


def run(args: argparse.Namespace) -> int:
    """`amass-fast datasets`: print the catalog table (or JSON)."""
    if args.json:
        entries = [dict(asdict(d), archive=d.archive, licence_url=d.licence_url,
                        recommended=d.name in RECOMMENDED, subset=d.name in SUBSET) for d in DATASETS]
        json.dump({"datasets": entries, "recommended": list(RECOMMENDED), "subset": list(SUBSET),
                   "licence_accept_page": LICENCE_ACCEPT_PAGE}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_table(args.model))
    return 0
