"""`amass-fast download`: its flags (ranges checked as they are parsed: exit 2 naming the flag), the checks of
--out and the dataset names before any work, and the end-of-run table."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import urllib.parse
from pathlib import Path
from typing import Iterable, Optional

from tqdm.contrib.logging import logging_redirect_tqdm

from amass_fast.io import catalog
from amass_fast.io.catalog import Dataset
from amass_fast.cli.args import JOBS_FLAG, float_range, int_range, output_problem
from amass_fast.io.credentials import CredentialsError
from amass_fast.io.download.importer import import_archives
from amass_fast.io.download.retry import DownloadError
from amass_fast.io.download.state import DownloadResult
from amass_fast.io.download.transfer import BASE_URL_ENV, _is_loopback, download_datasets

log = logging.getLogger(__name__)

RETRIES_FLAG = int_range(0, 100)
BACKOFF_FLAG = float_range(0.0, 3600.0)                 # seconds; an hour between attempts is already extreme
TIMEOUT_FLAG = float_range(0.0, 3600.0, lo_open=True)   # seconds; > 0: a network wait always ends


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def format_summary(results: list[DownloadResult]) -> str:
    """The end-of-run table: dataset, status, size, time, message."""
    header = ("dataset", "status", "size", "time", "message")
    rows = [(r.dataset, r.status, catalog.format_size(r.size) if r.size else "-", _duration(r.seconds), r.message)
            for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths)), row[4]]).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  -------")
    failed = sum(not r.ok for r in results)
    lines.append(f"{len(results) - failed} of {len(results)} ok" + (f", {failed} failed" if failed else ""))
    return "\n".join(lines)


#: Shown at the end of `amass-fast download --help`.
EXAMPLES = [
    "export AMASS_USERNAME=you@example.org   # the password is asked for, or AMASS_PASSWORD",
    "amass-fast download                     # the recommended set -> data/downloads",
    "amass-fast download --datasets CMU ACCAD --jobs 4",
    "amass-fast download --from-dir ~/Downloads   # archives saved by hand in a browser",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `amass-fast download`."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--datasets", nargs="+", metavar="NAME",
                       help="datasets to fetch (default: the recommended set " + ", ".join(catalog.RECOMMENDED) + ")")
    which.add_argument("--subset", action="store_true", help="a small varied set: " + ", ".join(catalog.SUBSET))
    which.add_argument("--all", action="store_true", help="every dataset offered for --model/--gender")
    parser.add_argument("--model", choices=catalog.MODELS, default="smplh", help="body model release (default smplh)")
    parser.add_argument("--gender", choices=catalog.GENDERS, default="gender_specific",
                        help="gender_specific (default) or neutral (SMPL-X only)")
    parser.add_argument("--out", default="data/downloads", metavar="DIR",
                        help="folder for the archives (default data/downloads)")
    parser.add_argument("--jobs", type=JOBS_FLAG, default=2, metavar="N",
                        help="archives downloaded at once (default 2)")
    parser.add_argument("--base-url", default=None, metavar="URL",
                        help=f"server address (default ${BASE_URL_ENV} or {catalog.DEFAULT_BASE_URL})")
    parser.add_argument("--from-dir", metavar="DIR",
                        help="import archives you downloaded by hand (CMU.tar.bz2, CMU_SMPLH_G.tar.bz2, ...) from DIR")
    parser.add_argument("--check", action="store_true", help="also test-decompress every archive (slower)")
    parser.add_argument("--retries", type=RETRIES_FLAG, default=5, metavar="N",
                        help="retries per archive after a failure (default 5)")
    parser.add_argument("--backoff", type=BACKOFF_FLAG, default=2.0, metavar="SECONDS",
                        help="first pause before a retry, doubled each time (default 2)")
    parser.add_argument("--timeout", type=TIMEOUT_FLAG, default=60.0, metavar="SECONDS",
                        help="give up on a silent connection after this long, then retry (default 60)")
    parser.epilog = ("Credentials: AMASS_USERNAME/AMASS_PASSWORD, else ~/.netrc (machine download.is.tue.mpg.de), "
                     "else a prompt. Accept each dataset's licence on the AMASS website first.")


def _download_selected(args: argparse.Namespace, datasets: list[Dataset], out_dir: Path) -> list[DownloadResult]:
    base_url = args.base_url or os.environ.get(BASE_URL_ENV) or catalog.DEFAULT_BASE_URL
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme == "http" and not _is_loopback(base_url):
        log.warning("warning: %s is plain http: your password travels unencrypted", parts.hostname)
    offered = [d for d in datasets if d.offers(args.model, args.gender)]
    for d in datasets:
        if d not in offered:  # named explicitly: the catalog may be out of date, so try
            verb = "trying anyway" if args.datasets else "skipped"
            log.warning("%s: the catalog does not list a %s/%s archive; %s", d.name, args.model, args.gender, verb)
    return download_datasets(datasets if args.datasets else offered, out_dir, base_url=base_url, model=args.model,
                             gender=args.gender, jobs=args.jobs, retries=args.retries, backoff=args.backoff,
                             timeout=args.timeout, check=args.check)


def unknown_names(names: Iterable[str]) -> Optional[str]:
    """A message naming every entry of ``names`` that is no AMASS dataset and listing the valid names, or None."""
    errors = {}
    for name in names:
        try:
            catalog.get(name)
        except KeyError as err:
            errors[name] = str(err)
    if len(errors) <= 1:
        return next(iter(errors.values()), None)
    return (f"unknown AMASS datasets {', '.join(map(repr, errors))}. Known: {', '.join(catalog.ALL)} "
            f"(`amass-fast datasets` lists them).")


def run(args: argparse.Namespace) -> int:
    """`amass-fast download`: fetch or import archives, print a summary; exit 1 if any dataset failed, 2 on
    bad flags, names or paths (before any work)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
    explicit = bool(args.datasets or args.subset or args.all)
    names = catalog.ALL if args.all else catalog.SUBSET if args.subset else args.datasets or catalog.RECOMMENDED
    out_dir = Path(args.out)
    problem = output_problem(out_dir, kind="folder", flag="--out")
    problem = problem or unknown_names(names)
    if problem:
        print(f"amass-fast download: {problem}", file=sys.stderr)
        return 2
    try:
        datasets = catalog.select(names)
        with logging_redirect_tqdm():  # warnings print above the progress bars
            if args.from_dir:
                results = import_archives(args.from_dir, out_dir, datasets if explicit else None, model=args.model,
                                          gender=args.gender, check=args.check)
            else:
                results = _download_selected(args, datasets, out_dir)
    except (KeyError, CredentialsError, DownloadError) as err:
        print(f"amass-fast download: {err}", file=sys.stderr)
        return 2
    if not results:
        print(f"amass-fast download: no AMASS archives (NAME.tar.bz2, NAME_SMPLH_G.tar.bz2, ...) in {args.from_dir}",
              file=sys.stderr)
        return 2
    print(format_summary(results))
    if any(r.status in ("downloaded", "imported", "skipped") for r in results):
        print(f"next: amass-fast extract --archives {out_dir}")
    return 0 if all(r.ok for r in results) else 1
