from __future__ import annotations

import builtins
import io
import json
import os
import pickle
import tracemalloc
import warnings
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from amass_fast.harness.selftest.cases import Check, _amass_fast, _require_fifo, case

# --- files: the corpus of broken .npz files ----------------------------------------------------------------------

def _good_sequence(path: Path, frames: int = 60, fps: float = 60.0) -> Path:
    from amass_fast.harness import synthetic

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


def _declaring(path: Path, key: str, shape: tuple, descr: str = "<f8") -> None:
    """A good sequence whose `key` member is replaced by a header declaring `shape` over 64 KiB of zeros."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    arrays = {k: _npy_bytes(v) for k, v in _arrays().items() if k != key}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in arrays.items():
            z.writestr(f"{name}.npy", data)
        z.writestr(f"{key}.npy", header.getvalue() + bytes(1 << 16))


def _long_sequence(path: Path) -> None:
    """100,000 SMPL frames at 1 fps: 27.8 hours, longer than any sequence may last (zeros compress to little)."""
    with open(path, "wb") as f:
        np.savez_compressed(f, **{**_arrays(frames=100_000, width=72), "mocap_framerate": np.array(1.0)})


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
    "fps_absurd": (lambda p, s: _with(mocap_framerate=np.array(1e6))(p), ("frame rate", "not between 1 and 1000"),
                   "rate 1e6"),
    "fps_tiny": (lambda p, s: _with(mocap_framerate=np.array(1e-9))(p), ("frame rate", "not between 1 and 1000"),
                 "rate 1e-9 (billions of output frames)"),
    "fps_subnormal": (lambda p, s: _with(mocap_framerate=np.array(5e-324))(p), ("frame rate", "5e-324"),
                      "a subnormal rate"),
    "too_long": (lambda p, s: _long_sequence(p), ("27.8 hours", "more than the 24 hours"), "27.8 hours at 1 fps"),
    "poses_beyond_float32": (lambda p, s: _nan_at("poses", 4, 1e300)(p), ("poses", "beyond", "frame 4"),
                             "poses value 1e300 (finite in float64, infinite in float32)"),
    "trans_beyond_float32": (lambda p, s: _nan_at("trans", 2, -1e300)(p), ("trans", "too large for float32",
                                                                           "frame 2"), "trans value -1e300"),
    "poses_overflow_squared": (lambda p, s: _nan_at("poses", 1, 1e20)(p), ("poses", "beyond +-1e+04"),
                               "poses value 1e20 (fits float32, its square does not)"),
    "betas_beyond_float32": (lambda p, s: _with(betas=np.full(16, 1e300))(p), ("betas", "too large for float32"),
                             "betas 1e300"),
    "huge_dims": (lambda p, s: _declaring(p, "poses", (1 << 40, 156)), ("'poses' declares", "refusing"),
                  "poses declaring 2^40 frames"),
    "huge_rate_array": (lambda p, s: _declaring(p, "mocap_framerate", (1 << 24,)),
                        ("'mocap_framerate' declares", "limit for this key"), "a frame rate declaring 134 MB"),
    "huge_gender": (lambda p, s: _declaring(p, "gender", (1 << 20,), "<U64"),
                    ("'gender' declares", "limit for this key"), "a gender declaring 268 MB of text"),
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
        from amass_fast.io.formats import FormatError, load_sequence

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


def _fifo_tree(c: Check) -> tuple[Path, Path]:
    """A tree with one good sequence and a FIFO named like one (opening it to read would wait for a writer)."""
    _require_fifo(c)
    root = c.dir / "amass"
    (root / "CMU" / "01").mkdir(parents=True)
    _good_sequence(root / "CMU" / "01" / "01_01_poses.npz")
    fifo = root / "CMU" / "01" / "01_02_poses.npz"
    os.mkfifo(fifo)
    return root, fifo


def _run_cli(c: Check, args: list[str], timeout: float):
    """The command's result, or None (recorded as a failure) if it hung past `timeout` seconds."""
    import subprocess

    try:
        return _amass_fast(args, timeout=timeout)
    except subprocess.TimeoutExpired:
        c.did = f"still running after {timeout:.0f} s: it blocked"
        c.expect(False, f"finishes within {timeout:.0f} s instead of blocking")
        return None


@case("files", "fifo_in_tree_verify", "a FIFO named *.npz in the tree: verify does not block; it lists the FIFO as "
                                      "skipped (named, 'not a regular file'), checks the good file, exit 0")
def _fifo_verify(c: Check) -> None:
    root, fifo = _fifo_tree(c)
    proc = _run_cli(c, ["verify", str(root)], timeout=60)
    if proc is None:
        return
    c.did = f"exit {proc.returncode}; {_short_line(proc.stdout, 'not a regular')}"
    c.expect(proc.returncode == 0, f"exit status 0 (got {proc.returncode}: {proc.stderr[-200:]})")
    c.expect("CMU/01/01_02_poses.npz: not a regular file but a FIFO" in proc.stdout, "the FIFO named as skipped")
    c.expect(any(line.split()[:2] == ["CMU", "1"] for line in proc.stdout.splitlines()), "the good file counted")


@case("files", "fifo_in_tree_process", "a FIFO named *.npz in the tree: process does not block; it names the FIFO "
                                       "('not a regular file') and converts the good file, exit 0")
def _fifo_process(c: Check) -> None:
    root, fifo = _fifo_tree(c)
    output = c.dir / "out.pt"
    proc = _run_cli(c, ["process", "--amass-root", str(root), "--output", str(output), *_PROCESS_FLAGS],
                    timeout=180)
    if proc is None:
        return
    text = proc.stdout + proc.stderr
    c.did = f"exit {proc.returncode}; {_short_line(text, 'not a regular')}"
    c.expect(proc.returncode == 0, f"exit status 0 (got {proc.returncode}: {proc.stderr[-200:]})")
    c.expect(str(fifo) in text and "not a regular file" in text, "the FIFO named, 'not a regular file'")
    c.expect(output.is_file(), "the good file converted into the output")


@case("files", "verify_agrees_with_process", "a tree of every broken file and good ones: verify reports as "
                                             "unreadable exactly the files process refuses (exit 1 both)")
def _verify_agrees(c: Check) -> None:
    root = c.dir / "amass"
    for folder in ("01", "02"):
        (root / "CMU" / folder).mkdir(parents=True)
    for i in (1, 2):
        _good_sequence(root / "CMU" / "01" / f"01_0{i}_poses.npz")
    for name, (build, _, _) in BAD_FILES.items():
        build(root / "CMU" / "02" / f"{name}_poses.npz", c.dir / "UNPICKLED")
    output = c.dir / "out.pt"
    verify = _run_cli(c, ["verify", str(root), "--json"], timeout=120)
    process = _run_cli(c, ["process", "--amass-root", str(root), "--output", str(output), *_PROCESS_FLAGS],
                       timeout=300)
    if verify is None or process is None:
        return
    try:
        report = json.loads(verify.stdout)
    except ValueError:
        c.expect(False, f"verify --json prints JSON ({verify.stderr[-200:]})")
        return
    by_verify = {rel for s in report["datasets"].values() for rel, _ in s["unreadable"]}
    errors = Path(f"{output}.errors.jsonl")
    by_process = {json.loads(line)["file"] for line in errors.read_text().splitlines()} if errors.exists() else set()
    bad = {f"CMU/02/{name}_poses.npz" for name in BAD_FILES}
    c.did = (f"verify exit {verify.returncode}, {len(by_verify)} unreadable; process exit {process.returncode}, "
             f"{len(by_process)} failed")
    c.expect(by_verify == by_process, f"the same files refused (verify only: {sorted(by_verify - by_process)}, "
                                      f"process only: {sorted(by_process - by_verify)})")
    c.expect(by_verify == bad, f"every broken file refused, no good one ({sorted(by_verify ^ bad)})")
    c.expect(verify.returncode == 1 and process.returncode == 1, "exit status 1 from both")
    c.expect(not (c.dir / "UNPICKLED").exists(), "no pickle was run")


_PROCESS_FLAGS = ["--jobs", "1", "--batch-files", "4", "--backend", "reference", "--window", "25"]


def _short_line(text: str, word: str) -> str:
    return next((line.strip()[:160] for line in text.splitlines() if word in line), text.strip()[-160:])


@case("files", "one_frame", "a 1-frame sequence loads and converts to one valid 25 fps frame")
def _one_frame(c: Check) -> None:
    from amass_fast import kernels
    from amass_fast.io.body_models import default_body_model
    from amass_fast.io.formats import load_sequence

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
    from amass_fast.io.formats import load_sequence

    arrays = _arrays()
    half = {k: arrays[k].astype(np.float16) for k in ("poses", "trans")}
    _savez(c.dir / "half_poses.npz", **{**arrays, **half})
    seq = load_sequence(c.dir / "half_poses.npz")
    c.did = f"loaded as {seq.poses.dtype}/{seq.trans.dtype}"
    c.expect(seq.poses.dtype == np.float32 and seq.trans.dtype == np.float32, "poses and trans in float32")
    c.expect(np.array_equal(seq.poses, half["poses"].astype(np.float32)), "the values kept exactly")


@case("files", "non_utf8_name", "a file named with non-UTF-8 bytes is found, loaded and named in JSON")
def _non_utf8(c: Check) -> None:
    from amass_fast.io.formats import load_sequence
    from amass_fast.io.tree import iter_npz_files, rel_path

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


