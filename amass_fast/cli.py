"""The `amass-fast` command line. Each subcommand lives in the module of its pipeline stage, which defines

    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int          # the exit status

Modules are imported only when their subcommand runs, so `amass-fast --help` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

# (subcommand, module, one-line help), in the order a user meets them.
COMMANDS = [
    ("demo", "amass_fast.demo", "build a small synthetic AMASS tree and process it (no account, no model files)"),
    ("datasets", "amass_fast.catalog", "list the AMASS sub-datasets: archive names, sizes, motion counts, frame rates"),
    ("download", "amass_fast.download", "download AMASS archives with your account (resumable, verified)"),
    ("extract", "amass_fast.archive", "unpack downloaded .tar.bz2 archives safely and fast"),
    ("verify", "amass_fast.verify", "check an extracted AMASS tree: files, formats, frames, hours, frame rates"),
    ("process", "amass_fast.process", "convert AMASS sequences into labelled 25 fps stick-figure clips"),
    ("labels", "amass_fast.labels", "report where each clip's action label would come from, without converting"),
    ("preview", "amass_fast.preview", "render clips of an output file as a GIF or a PNG contact sheet"),
    ("bench", "amass_fast.bench", "measure conversion throughput per backend beside smplx"),
    ("selftest", "amass_fast.selftest", "run self-checks on this machine (e.g. --hostile inputs)"),
]


def _module_for(command: str) -> str:
    return next(module for name, module, _ in COMMANDS if name == command)


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amass-fast",
        description="AMASS motion capture -> 2D stick-figure training clips at 25 fps, fast.",
        epilog="Run `amass-fast COMMAND --help` for the options of one command. Start with `amass-fast demo`.",
    )
    from amass_fast import __version__

    parser.add_argument("--version", action="version", version=f"amass-fast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module, help_text in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:  # only the chosen command's module is imported
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in {name for name, _, _ in COMMANDS}:
        command = None
    args = build_parser(command).parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    try:
        return int(importlib.import_module(_module_for(args.command)).run(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted: nothing half-written is left under a final name; rerun to continue.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
