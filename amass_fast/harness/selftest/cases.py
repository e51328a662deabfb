"""The hostile corpus: the case machinery (registry, runner, result table) and helpers shared by the groups.

Each case builds its own hostile input in a private folder, runs the tool on it, and checks what the tool did
against what it must do: a clear message naming the file and the problem, the run going on with the other files
where that makes sense, nothing written outside the target, no partial file under a final name, no secret
printed, a non-zero exit status where the user must act, and no code run from a data file.

Groups, one module each: files, archives, models, download, processing, faults (each class of fault through
several entry points). Everything is synthetic and small.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Union


GROUPS = ("files", "archives", "models", "download", "processing", "faults")
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # subprocesses import this same amass_fast


# --- the case machinery ------------------------------------------------------------------------------------------

class CaseSkipped(Exception):
    """A case that cannot run on this machine (e.g. read-only folders as root); the reason says why."""


@dataclass
class CaseResult:
    """What one case did and whether the tool behaved as it must."""
    group: str
    name: str
    expect: str
    did: str = ""
    problems: list = field(default_factory=list)
    skipped: str = ""
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return "skip" if self.skipped else "fail" if self.problems else "pass"


class Check:
    """Handed to each case: a private folder (`dir`), `expect(condition, what)` and `did` (what the tool did)."""

    def __init__(self, folder: Path):
        self.dir = folder
        self.did = ""
        self.problems: list[str] = []

    def expect(self, condition, what: str) -> bool:
        if not condition:
            self.problems.append(what)
        return bool(condition)

    def skip(self, reason: str) -> None:
        raise CaseSkipped(reason)


@dataclass(frozen=True)
class Case:
    group: str
    name: str
    expect: str
    run: Callable[[Check], None]


CASES: list[Case] = []


def case(group: str, name: str, expect: str):
    """Register a case: `expect` says, for the table and the reader, what the tool must do."""
    def register(fn: Callable[[Check], None]) -> Callable[[Check], None]:
        CASES.append(Case(group, name, expect, fn))
        return fn
    return register


def _register_all() -> None:
    """Import every group module (each registers its cases with @case when imported)."""
    for group in GROUPS:
        importlib.import_module(f"amass_fast.harness.selftest.{group}")


def cases(groups: Optional[Iterable[str]] = None) -> list[Case]:
    _register_all()
    wanted = set(groups or GROUPS)
    unknown = wanted - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown hostile groups {sorted(unknown)}; choose from {', '.join(GROUPS)}")
    return [c for c in CASES if c.group in wanted]


def get_case(name: str) -> Case:
    _register_all()
    return next(c for c in CASES if c.name == name)


def run_case(c: Case, folder: Path) -> CaseResult:
    """Run one case in `folder` (created, left for inspection); an unexpected exception is a failure."""
    folder.mkdir(parents=True, exist_ok=True)
    check = Check(folder)
    result = CaseResult(c.group, c.name, c.expect)
    started = time.perf_counter()
    try:
        c.run(check)
    except CaseSkipped as exc:
        result.skipped = str(exc)
    except Exception as exc:  # the tool (or the case) crashed: that is a failure, reported as such
        check.problems.append(f"crashed: {type(exc).__name__}: {_short(str(exc), 300)}")
    result.seconds = time.perf_counter() - started
    result.did = check.did.replace(f"{folder}{os.sep}", "")  # paths relative to the case folder, for the table
    result.problems = check.problems
    return result


def run_cases(groups: Optional[Iterable[str]] = None, folder: Optional[Path] = None,
              on_result: Callable[[CaseResult], None] = lambda r: None) -> list[CaseResult]:
    """Run the cases of `groups` (default all), each in its own subfolder of `folder` (default a temporary
    folder, removed afterwards)."""
    results = []
    with contextlib.ExitStack() as stack:
        root = Path(folder) if folder else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="amass-hostile-")))
        for c in cases(groups):
            result = run_case(c, root / c.name)
            on_result(result)
            results.append(result)
    return results


def format_table(results: list[CaseResult]) -> str:
    """One line per case: group, case, status, what the tool did (problems under failed cases)."""
    lines = [f"{'group':10s} {'case':34s} {'result':6s}  what the tool did", "-" * 110]
    for r in results:
        did = r.skipped and f"skipped: {r.skipped}" or r.did
        lines.append(f"{r.group:10s} {r.name:34s} {r.status:6s}  {_short(did, 160)}")
        lines += [f"{'':52s}  FAILED: {p}" for p in r.problems]
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "skip")}
    lines.append(f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    return "\n".join(lines)


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _last_line(text: str) -> str:
    """The last non-blank line of a command's output ("" when there is none): where its one-line message is."""
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def _require_fifo(c: Check) -> None:
    """Skip the case where this system cannot make fifos."""
    if not hasattr(os, "mkfifo"):
        c.skip("this system has no fifos")


def _refused(c: Check, what: str, result: Union[subprocess.CompletedProcess, tuple[int, str, str]],
             names: Iterable[str], status: int = 2) -> None:
    """The one check of a refusal: the exit status, a message naming each of ``names``, and no traceback.
    ``result`` is a finished `python -m amass_fast` or (exit status, stdout, stderr)."""
    code, err = (result.returncode, result.stderr) if isinstance(result, subprocess.CompletedProcess) else \
        (result[0], result[2])
    c.did += f"{what}: exit {code}: {_short(_last_line(err), 90)}; "
    c.expect(code == status, f"{what}: exit status {status} (got {code})")
    for name in names:
        c.expect(name in err, f"{what}: the message names {name}")
    c.expect("Traceback" not in err, f"{what}: no traceback")


def _files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")} if folder.exists() else set()


def _env() -> dict:
    """The environment for `python -m amass_fast` subprocesses: they import this same copy of the package."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))}


def _amass_fast(args: list[str], *, env: Optional[dict] = None, timeout: float = 120,
                preexec_fn: Optional[Callable[[], None]] = None) -> subprocess.CompletedProcess:
    """Run `python -m amass_fast ARGS` and capture its output."""
    return subprocess.run([sys.executable, "-m", "amass_fast", *args], capture_output=True, text=True,
                          errors="replace", env={**_env(), **(env or {})}, timeout=timeout, preexec_fn=preexec_fn)


