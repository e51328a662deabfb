"""The hostile corpus: broken files, malicious archives, bad model files, network faults and killed runs.

Each case builds its own hostile input in a private folder, runs the tool on it, and checks what the tool did
against what it must do: a clear message naming the file and the problem, the run going on with the other files
where that makes sense, nothing written outside the target, no partial file under a final name, no secret
printed, a non-zero exit status where the user must act, and no code run from a data file.

Used by the test suite (tests/hostile/) and by `amass-fast selftest --hostile`, so the same corpus runs in CI and
on a user's machine:

    results = run_cases(groups=["files", "archives"])   # -> [CaseResult]; print(format_table(results))

Groups: files, archives, models, download, processing. Everything is synthetic and small (the whole corpus runs
in well under a minute on two cores).
"""
from __future__ import annotations

import builtins
import contextlib
import io
import json
import logging
import os
import pickle
import random
import resource
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

GROUPS = ("files", "archives", "models", "download", "processing")
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)  # subprocesses import this same amass_fast


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


def cases(groups: Optional[Iterable[str]] = None) -> list[Case]:
    wanted = set(groups or GROUPS)
    unknown = wanted - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown hostile groups {sorted(unknown)}; choose from {', '.join(GROUPS)}")
    return [c for c in CASES if c.group in wanted]


def get_case(name: str) -> Case:
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


# --- files: the corpus of broken .npz files ----------------------------------------------------------------------

def _good_sequence(path: Path, frames: int = 60, fps: float = 60.0) -> Path:
    from amass_fast import synthetic

    return synthetic.write_sequence(path, "smplh", "walk", seconds=frames / fps, fps=fps, seed=1)


def _arrays(frames: int = 10, width: int = 156) -> dict:
    rng = np.random.default_rng(0)
    return {"poses": rng.normal(0, 0.2, (frames, width)), "trans": rng.normal(0, 0.1, (frames, 3)),
            "betas": np.zeros(16), "gender": np.array("male"), "mocap_framerate": np.array(60.0)}


def _savez(path: Path, **arrays) -> None:
    with open(path, "wb") as f:  # a handle: np.savez would append .npz to other names
        np.savez(f, **arrays)


class _WritesAFile:
    """Pickles to 'open(sentinel, "w")': unpickling it would create the sentinel file."""

    def __init__(self, sentinel: Path):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return builtins.open, (self.sentinel, "w")


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _bomb(path: Path, declared_bytes: int = 2 << 30) -> None:
    """A tiny .npz whose poses header declares `declared_bytes` (2 GiB) of float64: reading it would allocate
    that much; the data is 64 KiB of deflated zeros."""
    rows = declared_bytes // (156 * 8)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (rows, 156)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("poses.npy", header.getvalue() + bytes(1 << 16))
        z.writestr("trans.npy", _npy_bytes(np.zeros((rows, 3))[:0].reshape(0, 3)))
        z.writestr("mocap_framerate.npy", _npy_bytes(np.array(60.0)))


def _forged_header(path: Path) -> None:
    """An .npz whose poses header declares 10,000 frames but whose member holds one frame (a forged or cut file)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10_000, 156)})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("poses.npy", header.getvalue() + bytes(156 * 8))
        z.writestr("trans.npy", _npy_bytes(np.zeros((10_000, 3))))
        z.writestr("mocap_framerate.npy", _npy_bytes(np.array(60.0)))


def _pickle_member(path: Path, sentinel: Path) -> None:
    """A valid-looking .npz whose poses.npy member is a raw pickle, not an .npy array."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("poses.npy", pickle.dumps(_WritesAFile(sentinel)))
        z.writestr("trans.npy", _npy_bytes(np.zeros((10, 3))))
        z.writestr("mocap_framerate.npy", _npy_bytes(np.array(60.0)))


def _bit_flip(path: Path) -> None:
    _good_sequence(path)
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("poses.npy")
    data[info.header_offset + 200] ^= 0x01  # inside the stored pose data
    path.write_bytes(bytes(data))


def _with(**changes) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        arrays = _arrays()
        arrays.update(changes)
        _savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return build


def _nan_at(key: str, frame: int, value: float) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        arrays = _arrays()
        arrays[key][frame, 1] = value
        _savez(path, **arrays)
    return build


# name -> (builder(path, sentinel), words the message must hold, what is wrong)
BAD_FILES: dict[str, tuple[Callable[[Path, Path], None], tuple[str, ...], str]] = {
    "truncated_npz": (lambda p, s: p.write_bytes(_good_sequence(p).read_bytes()[:5000]),
                      ("truncated",), "an .npz cut short"),
    "not_a_zip": (lambda p, s: p.write_bytes(b"<!DOCTYPE html><html><body>Please log in</body></html>"),
                  ("not an .npz",), "a web page saved as .npz"),
    "missing_poses": (lambda p, s: _with(poses=None, betas=None)(p), ("no 'poses'",), "no poses key"),
    "poses_wrong_width": (lambda p, s: _with(poses=np.zeros((10, 99)))(p), ("99 values per frame",),
                          "poses [10, 99]"),
    "zero_frames": (lambda p, s: _with(poses=np.zeros((0, 156)), trans=np.zeros((0, 3)))(p), ("zero frames",),
                    "poses [0, 156]"),
    "nan_in_poses": (lambda p, s: _nan_at("poses", 3, np.nan)(p), ("NaN", "frame 3"), "NaN at frame 3"),
    "inf_in_trans": (lambda p, s: _nan_at("trans", 5, np.inf)(p), ("infinite", "frame 5"), "inf at frame 5"),
    "fps_zero": (lambda p, s: _with(mocap_framerate=np.array(0.0))(p), ("frame rate",), "mocap_framerate 0"),
    "fps_negative": (lambda p, s: _with(mocap_framerate=np.array(-120.0))(p), ("frame rate",), "rate -120"),
    "fps_missing": (lambda p, s: _with(mocap_framerate=None)(p), ("no frame rate",), "no rate key"),
    "fps_absurd": (lambda p, s: _with(mocap_framerate=np.array(1e6))(p), ("frame rate",), "rate 1e6"),
    "int_poses": (lambda p, s: _with(poses=np.zeros((10, 156), dtype=np.int32))(p), ("dtype int32",),
                  "integer poses"),
    "pickle_file": (lambda p, s: p.write_bytes(pickle.dumps({"poses": _WritesAFile(s)})), ("not an .npz",),
                    "a pickle saved as .npz"),
    "pickle_object_array": (lambda p, s: _savez(p, **{**_arrays(), "poses": np.array([_WritesAFile(s)])}),
                            ("unpickling",), "poses as a pickled object array"),
    "pickle_member": (lambda p, s: _pickle_member(p, s), ("'poses'",), "poses.npy holding a raw pickle"),
    "zip_bomb_2gb": (lambda p, s: _bomb(p), ("2.15 GB", "refusing"), "a member declaring 2 GB"),
    "forged_header": (lambda p, s: _forged_header(p), ("truncated or forged",), "header larger than the data"),
    "bit_flip": (lambda p, s: _bit_flip(p), ("CRC",), "one flipped bit in the pose data"),
}


def _expect_refusal(c: "Check", exc: Exception, path: Path, words: tuple[str, ...]) -> None:
    """What every refusal of a bad input must say: the file, and the words naming its problem."""
    c.did = str(exc)
    c.expect(str(path) in str(exc), "the message names the file")
    for word in words:
        c.expect(word in str(exc), f"the message says {word!r}")


def _bad_file_case(name: str, build, words: tuple[str, ...], what: str) -> None:
    @case("files", name, f"{what}: FormatError naming the file ({', '.join(words)}); nothing unpickled")
    def run(c: Check) -> None:
        from amass_fast.formats import FormatError, load_sequence

        path, sentinel = c.dir / f"{name}_poses.npz", c.dir / "UNPICKLED"
        build(path, sentinel)
        tracemalloc.start()
        try:
            seq = load_sequence(path)
            c.did = f"loaded it: {type(seq).__name__}"
            c.expect(False, "a FormatError")
        except FormatError as exc:
            _expect_refusal(c, exc, path, words)
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        c.expect(peak < 32 << 20, f"at most 32 MB allocated while refusing it (peak {peak / 2**20:.0f} MB)")
        c.expect(not sentinel.exists(), "no pickle was run (the sentinel file was created!)")


for _name, (_build, _words, _what) in BAD_FILES.items():
    _bad_file_case(_name, _build, _words, _what)


@case("files", "one_frame", "a 1-frame sequence loads and converts to one valid 25 fps frame")
def _one_frame(c: Check) -> None:
    from amass_fast import kernels
    from amass_fast.body_models import default_body_model
    from amass_fast.formats import load_sequence

    path = c.dir / "one_poses.npz"
    _savez(path, **_arrays(frames=1))
    seq = load_sequence(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the built-in skeleton's notice
        model = default_body_model()
    motion = kernels.convert(seq.poses, seq.trans, model.rest_joints(), model.parents, seq.fps, backend="reference")
    c.did = f"loaded {seq.num_frames} frame, converted to {tuple(motion.shape)}"
    c.expect(motion.shape == (1, 20) and np.isfinite(motion).all(), "one finite frame of 20 values")


@case("files", "float16_poses", "float16 poses/trans load, widened to float32 with the same values")
def _float16(c: Check) -> None:
    from amass_fast.formats import load_sequence

    arrays = _arrays()
    half = {k: arrays[k].astype(np.float16) for k in ("poses", "trans")}
    _savez(c.dir / "half_poses.npz", **{**arrays, **half})
    seq = load_sequence(c.dir / "half_poses.npz")
    c.did = f"loaded as {seq.poses.dtype}/{seq.trans.dtype}"
    c.expect(seq.poses.dtype == np.float32 and seq.trans.dtype == np.float32, "poses and trans in float32")
    c.expect(np.array_equal(seq.poses, half["poses"].astype(np.float32)), "the values kept exactly")


@case("files", "non_utf8_name", "a file named with non-UTF-8 bytes is found, loaded and named in JSON")
def _non_utf8(c: Check) -> None:
    from amass_fast.formats import iter_npz_files, load_sequence, rel_path

    root = c.dir / "amass"
    target = root / "CMU" / "01" / os.fsdecode(b"caf\xe9_01_poses.npz")
    target.parent.mkdir(parents=True)
    try:
        _good_sequence(target)
    except (OSError, UnicodeError):
        c.skip("this file system does not accept non-UTF-8 file names")
    found = list(iter_npz_files(root))
    seq = load_sequence(found[0])
    rel = rel_path(found[0], root)
    c.did = f"found {len(found)} file, {seq.num_frames} frames, listed as {json.dumps(rel)}"
    c.expect(found == [target], "iter_npz_files finds it")
    c.expect(os.fsencode(rel) == b"CMU/01/caf\xe9_01_poses.npz", "its relative path keeps the original bytes")


# --- archives ----------------------------------------------------------------------------------------------------

def _tree_archive(folder: Path, files: int = 6) -> tuple[Path, Path]:
    """A small real CMU archive and the tree it came from."""
    from amass_fast import synthetic

    tree = folder / "tree"
    synthetic.make_tree(tree, ["CMU"], files_per_dataset=files, seconds=(2.0, 4.0))
    return synthetic.make_archive(tree, "CMU", folder / "CMU.tar.bz2"), tree


def _extract_each_decoder(c: Check, archive: Path, tree: Path) -> list[str]:
    """Extract `archive` with every decoder available; checks the failure is an ArchiveError naming the archive,
    and that every file left under a final name is whole or refused by load_sequence (its zip CRC)."""
    from amass_fast.archive import ArchiveError, available_decoders, extract_archive
    from amass_fast.formats import FormatError, load_sequence

    did = []
    for decoder in available_decoders():
        out = c.dir / f"out-{decoder}"
        try:
            report = extract_archive(archive, out, decoder=decoder)
            c.expect(False, f"{decoder}: an ArchiveError (got status {report.status})")
        except ArchiveError as exc:
            did.append(f"{decoder}: {_short(str(exc).replace(str(archive), 'ARCHIVE'), 90)}")
            c.expect(str(archive) in str(exc), f"{decoder}: the message names the archive")
            c.expect("download it again" in str(exc), f"{decoder}: the message says what to do")
        names = _files_under(out)
        c.expect(not any(".part" in n for n in names), f"{decoder}: no partial file left")
        c.expect(not (out / ".amass_fast" / "extracted" / f"{archive.name}.json").exists(),
                 f"{decoder}: no 'extracted' marker, so a rerun tries again")
        for path in out.rglob("*.npz"):
            if path.read_bytes() == (tree / path.relative_to(out)).read_bytes():
                continue
            try:
                load_sequence(path)
                c.expect(False, f"{decoder}: {path.name} is damaged yet loads")
            except FormatError:
                pass
    return did


@case("archives", "tar_bz2_cut_short", "ArchiveError naming the archive; no partial file; no 'extracted' marker")
def _cut_short(c: Check) -> None:
    archive, tree = _tree_archive(c.dir)
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) * 2 // 3])
    c.did = "; ".join(_extract_each_decoder(c, archive, tree))


@case("archives", "bzip2_corrupt_block", "ArchiveError (CRC); files left are whole or fail their zip CRC on load")
def _corrupt_block(c: Check) -> None:
    archive, tree = _tree_archive(c.dir)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    c.did = "; ".join(_extract_each_decoder(c, archive, tree))


@case("archives", "html_saved_as_tar_bz2", "refused before decoding: says it is a web page; exit status 1")
def _html_archive(c: Check) -> None:
    from amass_fast.cli import main

    downloads = c.dir / "downloads"
    downloads.mkdir()
    (downloads / "CMU.tar.bz2").write_bytes(b"<!DOCTYPE html>\n<html><head><title>AMASS - Login</title></head>")
    status, _, err = _cli(main, ["extract", "--archives", str(downloads), "--out", str(c.dir / "out")])
    c.did = f"exit {status}: {_short(err.strip().splitlines()[-2] if err.strip() else '', 140)}"
    c.expect(status == 1, "exit status 1")
    c.expect("web page" in err and "CMU.tar.bz2" in err, "the message names the file and says it is a web page")


def _cli(main, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _evil_archive(path: Path, outside: Path) -> None:
    """Members that try to write outside the output folder, links, devices and a duplicate name."""
    def add(tar: tarfile.TarFile, name: str, data: bytes = b"", **attrs) -> None:
        info = tarfile.TarInfo(name)
        for key, value in attrs.items():
            setattr(info, key, value)
        info.size = len(data) if info.isreg() else 0
        tar.addfile(info, io.BytesIO(data) if info.isreg() else None)

    with tarfile.open(path, "w:bz2") as tar:
        add(tar, "CMU/01/01_01_poses.npz", b"first copy")
        add(tar, "../escape_dotdot.npz", b"evil")
        add(tar, "CMU/../../escape_nested.npz", b"evil")
        add(tar, str(outside / "escape_absolute.npz"), b"evil")
        add(tar, "CMU/link_out", type=tarfile.SYMTYPE, linkname=str(outside))
        add(tar, "CMU/link_out/escape_through_symlink.npz", b"evil")
        add(tar, "CMU/hard_out.npz", type=tarfile.LNKTYPE, linkname=str(outside / "victim.txt"))
        add(tar, "CMU/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        add(tar, "CMU/disk", type=tarfile.BLKTYPE, devmajor=8, devminor=0)
        add(tar, "CMU/fifo", type=tarfile.FIFOTYPE)
        add(tar, "CMU/01/01_01_poses.npz", b"second copy")


@case("archives", "escaping_members", "../, absolute, symlink, hard link, device, fifo, duplicate: all refused and "
      "reported; nothing written outside; exit status 1; in-place reading refuses the same")
def _escaping(c: Check) -> None:
    from amass_fast.archive import iter_archive_members
    from amass_fast.cli import main

    outside = c.dir / "outside"  # what the archive aims at
    outside.mkdir()
    (outside / "victim.txt").write_text("precious")
    downloads, out = c.dir / "downloads", c.dir / "work" / "out"
    downloads.mkdir()
    _evil_archive(downloads / "CMU.tar.bz2", outside)
    before = _files_under(c.dir)
    status, _, err = _cli(main, ["extract", "--archives", str(downloads), "--out", str(out)])
    refused = [line for line in err.splitlines() if line.startswith("refused:")]
    new = {n for n in _files_under(c.dir) - before if n.split("/")[:2] != ["work", "out"] and n != "work"}
    c.did = f"exit {status}; refused {len(refused)} members; wrote {sorted(_files_under(out) - {''})[:4]}..."
    c.expect(status == 1, "exit status 1 (the archive held unsafe members)")
    c.expect(not new and _files_under(outside) == {"victim.txt"}, f"nothing written outside the target ({new})")
    c.expect((outside / "victim.txt").read_text() == "precious", "the hard link target is untouched")
    c.expect(not any(p.is_symlink() for p in out.rglob("*")), "no symlink created")
    c.expect((out / "CMU/01/01_01_poses.npz").read_bytes() == b"first copy", "the first of two duplicates is kept")
    for word in ("escape_dotdot", "escape_nested", "escape_absolute", "link_out", "hard_out", "null", "disk", "fifo",
                 "duplicate"):
        c.expect(any(word in line for line in refused), f"the refusal of {word} is reported")
    refused_in_place: list = []
    names = [n for n, _ in iter_archive_members(downloads / "CMU.tar.bz2",
                                                on_refused=lambda *a: refused_in_place.append(a))]
    c.expect(names == ["CMU/01/01_01_poses.npz", "CMU/link_out/escape_through_symlink.npz"],
             f"in-place reading yields only safe, unique members ({names})")
    c.expect(len(refused_in_place) == 9, f"in-place reading refuses the 9 others ({len(refused_in_place)})")


# --- body models -------------------------------------------------------------------------------------------------

def _model_case(name: str, expect: str, build: Callable[[Path, Path], Path], words: tuple[str, ...]) -> None:
    @case("models", name, expect)
    def run(c: Check) -> None:
        from amass_fast.body_models import BodyModelError, load_body_model

        sentinel = c.dir / "UNPICKLED"
        path = build(c.dir, sentinel)
        try:
            model = load_body_model(path)
            c.did = f"loaded a {model.kind} model"
            c.expect(False, "a BodyModelError")
        except BodyModelError as exc:
            _expect_refusal(c, exc, path, words)
        c.expect(not sentinel.exists(), "no code from the file ran (the sentinel file was created!)")


def _model_npz(folder: Path, change: Callable[[dict], None]) -> Path:
    from amass_fast.synthetic_models import model_arrays

    arrays = model_arrays("smplh", num_vertices=400)
    change(arrays)
    path = folder / "SMPLH_MALE.npz"
    _savez(path, **arrays)
    return path


class _ImportsOs:
    def __reduce__(self):
        return os.system, ("echo pwned > UNPICKLED",)


def _evil_pickle(folder: Path, sentinel: Path) -> Path:
    path = folder / "SMPLH_MALE.pkl"
    payload = {"v_template": _WritesAFile(sentinel), "J_regressor": _ImportsOs()}
    path.write_bytes(pickle.dumps(payload, protocol=2))
    return path


def _truncated_pickle(folder: Path, sentinel: Path) -> Path:
    from amass_fast.synthetic_models import write_model

    path = write_model(folder / "SMPLH_MALE.pkl", num_vertices=400)
    path.write_bytes(path.read_bytes()[:3000])
    return path


_model_case("model_missing_keys", "missing J_regressor: BodyModelError naming the file and the key",
            lambda d, s: _model_npz(d, lambda a: a.pop("J_regressor")), ("missing J_regressor",))
_model_case("model_wrong_shapes", "v_template [V, 2]: BodyModelError naming the file and the shape",
            lambda d, s: _model_npz(d, lambda a: a.update(v_template=a["v_template"][:, :2])), ("v_template",))
_model_case("model_nan_values", "NaN in v_template: refused, not NaN joints for every sequence",
            lambda d, s: _model_npz(d, lambda a: a["v_template"].__setitem__((slice(None), 0), np.nan)), ("NaN",))
_model_case("model_pkl_imports_os", "a .pkl calling os.system/open: refused, nothing executed",
            _evil_pickle, ("refusing",))
_model_case("model_pkl_truncated", "a truncated .pkl: BodyModelError, not a pickle traceback",
            _truncated_pickle, ("truncated",))


# --- download faults against the local test server ------------------------------------------------------------------

USER, PASSWORD = "hostile@example.org", "Hx7-not-a-real-password-%&="
_FAST = dict(backoff=0.001, timeout=5.0, progress=False)


def _served_archive(seed: int, size: int = 48_000) -> bytes:
    """A small real .tar.bz2 of random (incompressible) bytes, about `size` bytes long."""
    rng = random.Random(seed)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:bz2") as tar:
        payload = rng.randbytes(size)
        info = tarfile.TarInfo("ACCAD/Male1/trial_poses.npz")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def _download(server, out: Path, **options):
    from amass_fast import download
    from amass_fast.credentials import Credentials

    logger = logging.getLogger("amass_fast.download")
    level = logger.level
    logger.setLevel(logging.ERROR)  # the retry notices are expected here: keep the table readable
    try:
        (result,) = download.download_datasets(["ACCAD"], out, Credentials(USER, PASSWORD, "test"),
                                               base_url=server.base_url, **{**_FAST, **options})
    finally:
        logger.setLevel(level)
    return result


def _leftovers(out: Path) -> list[str]:
    return sorted(n for n in _files_under(out) if n.endswith((".part", ".tmp", ".import")))


def _download_case(name: str, expect: str, mode, options: Optional[dict] = None, **server_options) -> None:
    @case("download", name, expect)
    def run(c: Check) -> None:
        from amass_fast.testserver import AmassTestServer

        data = _served_archive(1)
        replacement = _served_archive(2, 60_000)
        if "change" in mode:
            server_options["replacements"] = {"ACCAD": replacement}
        with AmassTestServer({"ACCAD": data}, USER, PASSWORD, mode=mode, **server_options) as server:
            result = _download(server, c.dir, **(options or {}))
        served = server.bytes_served("ACCAD")
        wanted = replacement if "change" in mode else data
        final = c.dir / "ACCAD.tar.bz2"
        c.did = f"{result.status} after {len(served)} request(s), {sum(served)} bytes served {result.message}"
        c.expect(result.status == "downloaded", "downloaded in the end")
        c.expect(final.exists() and final.read_bytes() == wanted, "the archive is byte-identical to the server's")
        c.expect(_leftovers(c.dir) == [], "no partial file left")
        if mode == "cut":
            c.expect(sum(served) < 1.5 * len(data), "resumed: what arrived was not fetched again")


_download_case("connection_dropped_repeatedly", "3 dropped connections: resumed each time, archive identical",
               "cut", failures=3)
_download_case("server_errors_500", "three HTTP 500 answers: retried, archive identical", "error500", failures=3)
_download_case("server_ignores_range", "server answers resumes with the whole file: restarted, not glued",
               ("cut", "ignore-range"))
_download_case("file_changes_between_attempts", "the file changes size after a drop: the new file, not a mix",
               ("cut", "change"))
_download_case("slow_trickle", "1 KB every 5 ms: completes, archive identical", "trickle",
               trickle_chunk=1024, trickle_delay=0.005)


@case("download", "gives_up_then_rerun_resumes", "drops beyond --retries: failed, .part kept, exit 1; rerun resumes")
def _gives_up(c: Check) -> None:
    from amass_fast.testserver import AmassTestServer

    data = _served_archive(3)
    part = c.dir / "ACCAD.tar.bz2.part"
    with AmassTestServer({"ACCAD": data}, USER, PASSWORD, mode="cut", failures=3) as server:
        first = _download(server, c.dir, retries=1)  # two attempts, both cut
        kept = part.stat().st_size if part.exists() else 0
        second = _download(server, c.dir)  # the same address, as a user's rerun
    request = server.archive_requests("ACCAD")[2]
    c.expect(first.status == "failed" and "Rerun to resume" in first.message, "failed, saying rerun to resume")
    c.expect(0 < kept < len(data), "the .part is kept")
    c.did = f"first: {first.status} ({kept} bytes kept); rerun: {second.status} from byte {request.range_start}"
    c.expect(second.status == "downloaded" and (c.dir / "ACCAD.tar.bz2").read_bytes() == data, "rerun completes")
    c.expect(request.range_start == kept, "the rerun asked only for the missing bytes")


def _download_env(c: Check, password: str = PASSWORD) -> dict:
    return {"AMASS_USERNAME": USER, "AMASS_PASSWORD": password, "NETRC": str(c.dir / "no-netrc"),
            "AMASS_FAST_BASE_URL": ""}


def _download_args(server, out: Path) -> list[str]:
    return ["download", "--datasets", "ACCAD", "--out", str(out), "--base-url", server.base_url,
            "--retries", "1", "--backoff", "0.01", "--timeout", "5"]


@case("download", "wrong_credentials", "login page instead of the archive: says the login failed, exit 1, "
      "the password appears nowhere (output, files)")
def _wrong_credentials(c: Check) -> None:
    from amass_fast.testserver import AmassTestServer

    wrong = "Wr0ng-pass-word-9911"
    with AmassTestServer({"ACCAD": _served_archive(4)}, USER, PASSWORD) as server:
        proc = _amass_fast(_download_args(server, c.dir / "out"), env=_download_env(c, wrong))
    output = proc.stdout + proc.stderr
    stored = b"".join(p.read_bytes() for p in (c.dir / "out").rglob("*") if p.is_file())
    c.did = f"exit {proc.returncode}: {_short(proc.stdout.splitlines()[2] if proc.stdout.count(chr(10)) > 2 else output, 150)}"
    c.expect(proc.returncode == 1, "exit status 1")
    c.expect("password" in output and "not accepted" in output, "says the username or password was not accepted")
    c.expect(wrong not in output and wrong.encode() not in stored, "the password is not printed or stored")
    c.expect(not (c.dir / "out" / "ACCAD.tar.bz2").exists(), "no archive under the final name")
    c.expect(not any(r.secret_in_url for r in server.requests), "the password never went into a URL")


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:  # in the child: writes past `limit` fail with EFBIG instead of killing it (SIGXFSZ)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@case("download", "disk_full", "the file system refuses writes mid-download: clear error naming the .part, "
      "exit 1, .part kept; rerun with space resumes")
def _disk_full(c: Check) -> None:
    from amass_fast.testserver import AmassTestServer

    data = _served_archive(5)
    out = c.dir / "out"
    with AmassTestServer({"ACCAD": data}, USER, PASSWORD) as server:
        proc = _amass_fast(_download_args(server, out), env=_download_env(c), preexec_fn=_limit_file_size(16_384))
        part = out / "ACCAD.tar.bz2.part"
        kept = part.stat().st_size if part.exists() else 0
        again = _amass_fast(_download_args(server, out), env=_download_env(c))
    output = proc.stdout + proc.stderr
    c.did = f"exit {proc.returncode} with {kept} bytes kept: {_short(output.splitlines()[2] if output.count(chr(10)) > 2 else output, 120)}; rerun exit {again.returncode}"
    c.expect(proc.returncode == 1, "exit status 1")
    c.expect("ACCAD.tar.bz2.part" in output and "rerun to resume" in output, "names the file and says to rerun")
    c.expect(0 < kept <= 16_384, "the bytes written before the error are kept")
    c.expect(again.returncode == 0 and (out / "ACCAD.tar.bz2").read_bytes() == data, "the rerun completes")
    c.expect(server.archive_requests("ACCAD")[-1].range_start == kept, "the rerun resumed from the .part")


@case("download", "ctrl_c_then_rerun", "SIGINT mid-download: exit 130, .part kept, no final name; rerun resumes")
def _ctrl_c(c: Check) -> None:
    from amass_fast.testserver import AmassTestServer

    data = _served_archive(6, 200_000)
    out = c.dir / "out"
    part = out / "ACCAD.tar.bz2.part"
    env = {**_env(), **_download_env(c)}
    with AmassTestServer({"ACCAD": data}, USER, PASSWORD, mode="trickle", trickle_chunk=2048,
                         trickle_delay=0.01) as server:
        child = subprocess.Popen([sys.executable, "-m", "amass_fast", *_download_args(server, out)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if part.exists() and part.stat().st_size > 20_000:
                break
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
        kept = part.stat().st_size if part.exists() else 0
        final_exists = (out / "ACCAD.tar.bz2").exists()
        server.modes = {"normal"}  # the rerun at full speed, from the same address
        again = _amass_fast(_download_args(server, out), env=_download_env(c))
    resumed_at = server.archive_requests("ACCAD")[-1].range_start
    c.did = f"exit {child.returncode} with {kept} bytes kept; rerun exit {again.returncode} from byte {resumed_at}"
    c.expect(not final_exists, "no archive under the final name after the interruption")
    c.expect(child.returncode == 130, f"exit status 130 (got {child.returncode})")
    c.expect("interrupted" in err, "says it was interrupted")
    c.expect(0 < kept < len(data), "the .part is kept")
    c.expect(again.returncode == 0 and (out / "ACCAD.tar.bz2").read_bytes() == data, "the rerun completes")
    c.expect(resumed_at == kept, "the rerun resumed from the .part")


# --- processing faults -------------------------------------------------------------------------------------------

def _process_tree(root: Path, files: int = 12) -> Path:
    from amass_fast import synthetic

    synthetic.make_tree(root, ["CMU", "KIT", "ACCAD"], files_per_dataset=files // 3, seconds=(2.0, 12.0))
    return root


def _load_pt(path: Path) -> list:
    import torch

    return torch.load(path, weights_only=True)


def _same_samples(a: list, b: list) -> bool:
    import torch

    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x["meta"] != y["meta"] or x["action"] != y["action"] or x["description"] != y["description"]:
            return False
        if not (torch.equal(x["motion"], y["motion"]) and torch.equal(x["actions"], y["actions"])):
            return False
    return True


_PROCESS_FLAGS = ["--jobs", "1", "--batch-files", "2", "--backend", "reference"]


@case("processing", "sigkill_then_resume", "SIGKILL at 3 seeded random points, --resume each time: the output "
      "equals an uninterrupted run; no clip duplicated or missing; no partial file under a final name")
def _sigkill(c: Check) -> None:
    from amass_fast import writers

    tree = _process_tree(c.dir / "amass")
    reference_pt = c.dir / "reference.pt"
    proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(reference_pt), *_PROCESS_FLAGS])
    if not c.expect(proc.returncode == 0, f"the uninterrupted run succeeds ({_short(proc.stderr, 200)})"):
        return
    output = c.dir / "out.pt"
    parts = Path(f"{output}.parts")
    tasks = 6  # 12 files, --batch-files 2
    rng = random.Random(6)
    # Kill points: once k shards exist (k seeded, increasing), plus a seeded delay of up to one task's time.
    points = sorted(rng.sample(range(tasks), 3))
    kills, runs, shards_seen = 0, 0, []
    while not output.exists() and runs < 10:
        args = ["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS]
        args += ["--resume"] if parts.exists() else []
        runs += 1
        child = subprocess.Popen([sys.executable, "-m", "amass_fast", *args], env=_env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace")
        if kills < len(points):
            target = points[kills]
            while child.poll() is None and len(list(parts.glob(writers.SHARD_GLOB))) <= target:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.1))
            if child.poll() is None:
                child.kill()
                kills += 1
        _, err = child.communicate(timeout=120)
        shards = sorted(parts.glob(writers.SHARD_GLOB)) if parts.exists() else []
        shards_seen.append(len(shards))
        c.expect(child.returncode in (0, -signal.SIGKILL), f"run {runs} ends by the kill or succeeds "
                                                           f"({child.returncode}: {_short(err, 200)})")
        c.expect(all(writers.shard_is_complete(s) for s in shards), "every shard under its final name is complete")
    c.did = f"{kills} kills (shards after each run: {shards_seen}); {runs} runs in all"
    c.expect(kills == 3, "three runs were killed mid-way")
    c.expect(output.exists() and _same_samples(_load_pt(output), _load_pt(reference_pt)),
             "the same samples as an uninterrupted run, in the same order")
    c.expect(not parts.exists(), "the work folder is gone after the final run")


@case("processing", "bad_files_among_good", "a tree with every broken file beside good ones: the run goes on, "
      "exit 1, each broken file listed with its reason, the good ones converted")
def _bad_among_good(c: Check) -> None:
    tree = c.dir / "amass"
    _good_sequence(tree / "CMU" / "01" / "01_01_poses.npz")
    _good_sequence(tree / "CMU" / "01" / "01_02_poses.npz")
    sentinel = c.dir / "UNPICKLED"
    for name, (build, _, _) in BAD_FILES.items():
        build(tree / "CMU" / "02" / f"{name}_poses.npz", sentinel)
    output = c.dir / "out.pt"
    proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS])
    errors_path = Path(f"{output}.errors.jsonl")
    errors = [json.loads(line) for line in errors_path.read_text().splitlines()] if errors_path.exists() else []
    failed = {e["file"].rsplit("/", 1)[-1].removesuffix("_poses.npz") for e in errors}
    c.did = f"exit {proc.returncode}; {len(errors)} files listed in {errors_path.name}"
    c.expect(proc.returncode == 1, "exit status 1")
    c.expect(failed == set(BAD_FILES), f"every broken file listed, no good one ({sorted(failed ^ set(BAD_FILES))})")
    c.expect(all(e["file"] in e["reason"] or "failed" in e["reason"] for e in errors), "each reason names its file")
    samples = _load_pt(output) if output.exists() else []
    files = {os.fsencode(s["meta"]["file"]) for s in samples}
    c.expect(files == {b"CMU/01/01_01_poses.npz", b"CMU/01/01_02_poses.npz"}, "both good files converted")
    c.expect(not sentinel.exists(), "no pickle was run")


@case("processing", "non_utf8_name_processed", "a file named with non-UTF-8 bytes is converted; its sample names "
      "it (the same bytes back with os.fsencode)")
def _non_utf8_processed(c: Check) -> None:
    tree = c.dir / "amass"
    name = b"CMU/01/01_02_caf\xe9_poses.npz"
    try:
        _good_sequence(tree / os.fsdecode(name))
    except (OSError, UnicodeError):
        c.skip("this file system does not accept non-UTF-8 file names")
    output = c.dir / "out.pt"
    proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS])
    samples = _load_pt(output) if output.exists() else []
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    c.did = f"exit {proc.returncode}; {len(samples)} clip(s); {_short(last, 120)}"
    c.expect(proc.returncode == 0, "exit status 0")
    c.expect([os.fsencode(s["meta"]["file"]) for s in samples] == [name], "one clip naming the file")


@case("processing", "output_already_exists", "an existing output is refused (exit 2, names it, says --overwrite); "
      "--overwrite replaces it")
def _output_exists(c: Check) -> None:
    tree = c.dir / "amass"
    _good_sequence(tree / "CMU" / "01" / "01_01_poses.npz")
    output = c.dir / "out.pt"
    output.write_bytes(b"the user's precious file")
    proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS])
    c.expect(proc.returncode == 2, "exit status 2")
    c.expect(str(output) in proc.stderr and "--overwrite" in proc.stderr, "names the output and --overwrite")
    c.expect(output.read_bytes() == b"the user's precious file", "the existing file is untouched")
    again = _amass_fast(["process", "--amass-root", str(tree), "--output", str(output), "--overwrite",
                         *_PROCESS_FLAGS])
    c.did = f"exit {proc.returncode}: {_short(proc.stderr.strip().splitlines()[-1], 110)}; --overwrite: exit " \
            f"{again.returncode}"
    c.expect(again.returncode == 0 and len(_load_pt(output)) == 1, "--overwrite replaces it with the new output")


@case("processing", "read_only_output_folder", "a read-only output folder: exit non-zero with a clear message "
      "naming it; nothing half-written")
def _read_only(c: Check) -> None:
    tree = c.dir / "amass"
    _good_sequence(tree / "CMU" / "01" / "01_01_poses.npz")
    folder = c.dir / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            c.skip("this user can write to read-only folders (root): the case cannot be staged")
        output = folder / "out.pt"
        proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS])
        c.did = f"exit {proc.returncode}: {_short(proc.stderr.strip().splitlines()[-1], 140)}"
        c.expect(proc.returncode != 0, "a non-zero exit status")
        c.expect(str(folder) in proc.stderr and "Traceback" not in proc.stderr, "a clear message naming the folder")
        c.expect(_files_under(folder) == set(), "nothing written")
    finally:
        folder.chmod(0o755)


@case("processing", "output_parent_is_a_file", "an --output whose folder is a file (as unwritable as a read-only "
      "folder, and stageable as root): exit 2 with a message naming the path, no traceback")
def _parent_is_a_file(c: Check) -> None:
    tree = c.dir / "amass"
    _good_sequence(tree / "CMU" / "01" / "01_01_poses.npz")
    (c.dir / "a_file").write_text("not a folder")
    proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(c.dir / "a_file" / "out.pt"),
                        *_PROCESS_FLAGS])
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    c.did = f"exit {proc.returncode}: {_short(last, 140)}"
    c.expect(proc.returncode == 2, "exit status 2")
    c.expect("Traceback" not in proc.stderr and "a_file" in last, "a one-line message naming the path")


@case("processing", "disk_full_then_resume", "the file system refuses writes mid-run (RLIMIT_FSIZE): exit non-zero "
      "with a message, no traceback, no partial file under a final name; --resume then completes")
def _process_disk_full(c: Check) -> None:
    from amass_fast import writers

    tree = _process_tree(c.dir / "amass")
    output = c.dir / "out.pt"
    parts = Path(f"{output}.parts")
    args = ["process", "--amass-root", str(tree), "--output", str(output), *_PROCESS_FLAGS]
    proc = _amass_fast(args, preexec_fn=_limit_file_size(48_000))
    shards = sorted(parts.glob(writers.SHARD_GLOB)) if parts.exists() else []
    c.expect(proc.returncode != 0 and not output.exists(), "a non-zero exit status and no output")
    c.expect(all(writers.shard_is_complete(s) for s in shards), "every shard under its final name is complete")
    again = _amass_fast([*args, "--resume"])
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    c.did = f"exit {proc.returncode} with {len(shards)} shards kept: {_short(last, 100)}; --resume: exit " \
            f"{again.returncode}"
    c.expect("Traceback" not in proc.stderr and ("File too large" in last or "space" in last),
             "a one-line message saying the disk refused the write")
    c.expect(again.returncode == 0 and output.exists(), "--resume completes the run")


@case("processing", "huge_valid_sequence", "a 40 min sequence (~180 MB of poses in memory): converted, with the "
      "peak memory of the run bounded by a few times the sequence")
def _huge(c: Check) -> None:
    if not Path("/proc/self/status").exists():
        c.skip("needs /proc (Linux) to read the peak memory of a run")
    frames, fps = 144_000, 60.0  # 40 minutes
    tree = c.dir / "amass"
    path = tree / "CMU" / "01" / "01_01_poses.npz"
    path.parent.mkdir(parents=True)
    t = np.arange(frames) / fps
    poses = np.zeros((frames, 156))
    poses[:, 0] = np.pi / 2
    poses[:, 3:66] = 0.3 * np.sin(2 * np.pi * t[:, None] * (1 + np.arange(63) / 63))
    trans = np.stack([0.5 * t, np.zeros(frames), np.full(frames, 0.93)], axis=1)
    _savez(path, poses=poses, trans=trans, betas=np.zeros(16), gender=np.array("male"),
           mocap_framerate=np.array(fps))
    del poses, trans, t
    sequence_mb = path.stat().st_size / 2**20
    output = c.dir / "shards"
    flags = ["--format", "shards", "--jobs", "1", "--batch-files", "1"]
    status, err, peak_mb = _run_measured(["process", "--amass-root", str(tree), "--output", str(output), *flags],
                                         c.dir)
    with tempfile.TemporaryDirectory() as tmp:  # the same command on a small file: the cost of the imports
        small = Path(tmp, "amass")
        _good_sequence(small / "CMU" / "01" / "01_01_poses.npz")
        _, _, baseline = _run_measured(["process", "--amass-root", str(small), "--output", str(Path(tmp, "s")),
                                        *flags], Path(tmp))
    manifest = output / "manifest.json"
    clips = json.loads(manifest.read_text())["counts"]["clips"] if manifest.exists() else 0
    c.did = f"exit {status}; {clips} clips; peak RSS {peak_mb:.0f} MB for a {sequence_mb:.0f} MB file " \
            f"(the same run on a small file: {baseline:.0f} MB)"
    c.expect(status == 0, f"converted ({_short(err, 200)})")
    c.expect(clips == int(frames / fps * 25) // 250, "every 10 s window became a clip")
    c.expect(peak_mb < baseline + 3 * sequence_mb, f"peak memory below a small run + 3x the sequence "
                                                   f"({baseline + 3 * sequence_mb:.0f} MB)")


# Runs `python -m amass_fast` and, at exit, writes its own peak RSS (VmHWM, KiB) to the file named first. VmHWM
# starts afresh at exec; getrusage's ru_maxrss would also count the parent's memory inherited across fork + exec.
_PEAK_RSS_WRAPPER = """
import atexit, runpy, sys
report = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as status, open(report, "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM")).split()[1])
atexit.register(peak)
sys.argv[0] = "amass-fast"
runpy.run_module("amass_fast", run_name="__main__", alter_sys=True)
"""


def _run_measured(args: list[str], folder: Path) -> tuple[int, str, float]:
    """Run `python -m amass_fast ARGS`; (exit status, stderr, peak RSS of that process in MB)."""
    report = folder / "peak_rss_kib.txt"
    proc = subprocess.run([sys.executable, "-c", _PEAK_RSS_WRAPPER, str(report), *args], capture_output=True,
                          text=True, errors="replace", env=_env(), timeout=300)
    peak = int(report.read_text()) / 1024 if report.exists() else float("nan")
    return proc.returncode, proc.stderr, peak
