"""The `amass-fast` command line: one module per command, each defining

    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int          # the exit status

    args        what every command shares at its edge: flag types with ranges, the one output path check
    datasets, download, extract, verify, process, labels, preview, humanml3d   the pipeline's commands
    (demo, bench and selftest are amass_fast.harness's own commands)

Modules are imported only when their subcommand runs (COMMANDS below is the one lazy boundary), so
`amass-fast --help` stays instant. May import every layer; nothing below imports it.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import textwrap
import threading
import warnings
from typing import Optional, Sequence

from amass_fast.io.stops import STOP_SIGNALS

# (subcommand, module, one-line help), in the order a user meets them.
COMMANDS = [
    ("demo", "amass_fast.harness.demo", "build a small synthetic AMASS tree and process it (no account, no model files)"),
    ("datasets", "amass_fast.cli.datasets", "list the AMASS sub-datasets: archive names, sizes, motion counts, frame rates"),
    ("download", "amass_fast.cli.download", "download AMASS archives with your account (resumable, verified)"),
    ("extract", "amass_fast.cli.extract", "unpack downloaded .tar.bz2 archives safely and fast"),
    ("verify", "amass_fast.cli.verify", "check an extracted AMASS tree: files, formats, frames, hours, frame rates"),
    ("process", "amass_fast.cli.process", "convert AMASS sequences into labelled 25 fps stick-figure clips"),
    ("labels", "amass_fast.cli.labels", "report where each clip's action label would come from, without converting"),
    ("preview", "amass_fast.cli.preview", "render clips of an output file as a GIF or a PNG contact sheet"),
    ("humanml3d", "amass_fast.cli.humanml3d", "make HumanML3D's motion features from AMASS, as its own scripts do"),
    ("bench", "amass_fast.harness.bench", "measure conversion throughput per backend beside smplx"),
    ("selftest", "amass_fast.harness.selftest", "run self-checks on this machine (e.g. --hostile inputs)"),
]



def _epilog(module_epilog: Optional[str], examples: Sequence[str], width: int = 78) -> str:
    """The module's epilog wrapped to `width`, then the command's examples (its module's EXAMPLES, kept as
    written)."""
    parts = [textwrap.fill(module_epilog, width)] if module_epilog else []
    if examples:
        parts.append("examples:\n" + "\n".join(f"  {line}" for line in examples))
    return "\n\n".join(parts)


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
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # keeps the examples' layout
        if name == command:  # only the chosen command's module is imported
            command_module = importlib.import_module(module)
            command_module.add_arguments(p)
            p.epilog = _epilog(p.epilog, getattr(command_module, "EXAMPLES", ()))
    return parser


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the command is, so it stops as on Ctrl-C: pool workers ended, finished
    files kept, nothing half-written under a final name (resumable)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _stop_on_signals():
    """While a command runs (in the main thread): SIGTERM and SIGHUP raise Stopped, as Ctrl-C raises
    KeyboardInterrupt; the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Stopped(signum)

    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv_given = argv
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in {name for name, _, _ in COMMANDS}:
        command = None
    args = build_parser(command).parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    # Warnings reach a command-line user as one plain line, without the source line that raised them.
    warnings.formatwarning = lambda message, category, *rest, **kw: f"warning: {message}\n"
    try:
        with _stop_on_signals():
            return int(importlib.import_module(_module_for(args.command)).run(args) or 0)
    except KeyboardInterrupt as exc:
        how = f"stopped by {signal.Signals(exc.signum).name}" if isinstance(exc, Stopped) else "interrupted"
        print(f"\n{how}: nothing half-written is left under a final name; run the same command again to "
              "continue (add --resume for process).", file=sys.stderr)
        status = 128 + (exc.signum if isinstance(exc, Stopped) else signal.SIGINT)
        if argv_given is None and isinstance(exc, Stopped):
            # A process told to stop ends now: the worker pools are already ended (io.workers), and
            # waiting at interpreter exit on their bookkeeping threads could block under load.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
        return status
    except BrokenPipeError:
        # The reader went away (`amass-fast datasets | head`): stop quietly, as other Unix tools do. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
