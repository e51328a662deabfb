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

from amass_fast.selftest.cases import Check, case

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


