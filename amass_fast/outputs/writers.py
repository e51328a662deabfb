"""Writers: shards (one per pipeline task), the shards manifest, and the stick-gen-compatible ``.pt`` file.

A shard is an uncompressed ``.npz`` holding

    motion  float32 [N, window, ...]  the schema's motion per frame: stick5 [20] (default), stick12 [48],
                                      joints2d [22, 2] or joints3d [22, 3] (docs/SCHEMAS.md)
    actions int64   [N, window]       per-frame ActionType index
    clips   uint8   JSON lines, one per clip: action, description, dataset, file, start_s, source_fps, view,
                    valid_length, label_source; with a schema, camera, scale or mirror option also schema, up,
                    mirrored, scale, screen_x and camera (packed [6], null for joints3d); stick12 also physics
                    (the method) and enhanced_meta (stick-gen's)
    info    uint8   JSON: the task's source files, counts and errors

Members are stored, not deflated, so ``open_shard`` memory-maps ``motion`` and ``actions`` straight from the file.
Every file here is written under a temporary name and renamed when complete, so a file under its final name is
always whole; a run killed half-way leaves only ``*.tmp-<pid>`` files, which ``remove_temporaries`` clears.
"""
from __future__ import annotations

import io
import json
import math
import os
import struct
import zipfile
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from amass_fast.io import atomic, guarded

SHARD_NAME = "shard-{:06d}.npz"
SHARD_GLOB = "shard-*.npz"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "amass-fast-shards"
_META_KEYS = ("dataset", "file", "start_s", "source_fps", "view", "valid_length", "label_source",
              "description_source")
# In a sample's meta when the clip has them (runs with a schema, camera, scale or mirror option).
_SCHEMA_KEYS = ("schema", "up", "mirrored", "scale", "camera", "screen_x", "physics")


remove_temporaries = atomic.remove_all


def write_json(path: os.PathLike | str, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (sorted keys, so equal content gives equal bytes)."""
    atomic.write_json(path, obj)


def read_json(path: os.PathLike | str, fix: str, kind: str = "record") -> Any:
    """The JSON value in ``path`` through the guarded reader (regular file, the kind's size cap, nesting depth
    limited); a file that does not read as JSON raises guarded.ReadRefused (a ValueError) naming it, then ``fix``
    (what the user can do about it)."""
    return guarded.read_json(path, kind, fix)


def _json_bytes(obj: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(obj, sort_keys=True).encode(), dtype=np.uint8)


def write_shard(path: os.PathLike | str, motion: np.ndarray, actions: np.ndarray, clips: list[dict],
                info: dict) -> None:
    """Atomically write one shard (see the module docstring)."""
    if not (len(motion) == len(actions) == len(clips)):
        raise ValueError(f"shard {path}: {len(motion)} motions, {len(actions)} action rows, {len(clips)} clips")
    lines = "".join(json.dumps(c, sort_keys=True) + "\n" for c in clips).encode()
    with atomic.replacing(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, motion=np.ascontiguousarray(motion, dtype=np.float32),
                 actions=np.ascontiguousarray(actions, dtype=np.int64),
                 clips=np.frombuffer(lines, dtype=np.uint8), info=_json_bytes(info))


_DAMAGED = "the shard is damaged or not written by amass-fast: rerun `amass-fast process` with --resume"
_NUMBER, _INT, _STR, _BOOL = "a number", "an integer", "a string", "true or false"
# The fields of a shard's clip line, and what each must hold (read back as untrusted input: every one checked).
CLIP_FIELDS = {"action": _STR, "description": _STR, "dataset": _STR, "file": _STR, "start_s": _NUMBER,
               "source_fps": _NUMBER, "view": _STR, "valid_length": _INT, "label_source": _STR}
OPTIONAL_CLIP_FIELDS = {"description_source": _STR, "schema": _STR, "up": _STR, "mirrored": _BOOL,
                        "scale": _NUMBER, "camera": "6 numbers or null"}


def _is(value: Any, what: str) -> bool:
    if what == _STR:
        return isinstance(value, str)
    if what == _BOOL:
        return isinstance(value, bool)
    if what == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if what == _NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return value is None or (isinstance(value, list) and len(value) == 6 and all(_is(v, _NUMBER) for v in value))


def check_fields(obj: Any, required: dict, optional: dict, where: str) -> dict:
    """``obj`` if it is a JSON object whose fields hold what ``required`` and ``optional`` say (field -> "a
    string", ...); else ValueError naming ``where`` and the first wrong field."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: holds {type(obj).__name__}, not a JSON object; {_DAMAGED}")
    for name, what in {**required, **optional}.items():
        if name not in obj:
            if name in required:
                raise ValueError(f"{where}: no field {name!r}; {_DAMAGED}")
        elif not _is(obj[name], what):
            raise ValueError(f"{where}: field {name!r} holds {obj[name]!r:.40}, not {what}; {_DAMAGED}")
    return obj


def _shard_member(path: os.PathLike | str, key: str) -> bytes:
    """The raw data of a small uint8 member (clips, info) of a shard, through the guarded reader."""
    with guarded.open_zip(path, "shard") as zf:
        try:
            info = zf.getinfo(f"{key}.npy")
        except KeyError:
            raise ValueError(f"{path}: no member {key!r}; {_DAMAGED}") from None
        if info.file_size > guarded.LIMITS["shard_json"]:
            raise guarded.TooLarge(path, f"member {key!r} expands to {guarded.size_text(info.file_size)}, over the "
                                         f"{guarded.size_text(guarded.LIMITS['shard_json'])} limit; {_DAMAGED}")
        data = io.BytesIO(guarded.read_member(zf, info, path))
    try:
        array = np.lib.format.read_array(data, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise ValueError(f"{path}: member {key!r} is not an array ({exc}); {_DAMAGED}") from None
    if array.dtype != np.uint8 or array.ndim != 1:
        raise ValueError(f"{path}: member {key!r} is {array.dtype} {list(array.shape)}, not bytes; {_DAMAGED}")
    return array.tobytes()


def read_shard_info(path: os.PathLike | str) -> dict:
    """The task counts and errors of a shard (small; does not read the motion), every field type-checked."""
    info = guarded.parse_json(_shard_member(path, "info"), f"{path} (member info)", _DAMAGED)
    check_fields(info, {}, {"task": _INT}, f"{path} (member info)")
    if not (isinstance(info.get("counts"), dict) and all(_is(v, _NUMBER) for v in info["counts"].values())):
        raise ValueError(f"{path} (member info): field 'counts' is not an object of numbers; {_DAMAGED}")
    for name, item in (("sources", _STR), ("errors", None)):
        values = info.get(name, [])
        if not isinstance(values, list) or not all(
                _is(v, item) if item else isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
                for v in values):
            raise ValueError(f"{path} (member info): field {name!r} is not a list of "
                             f"{'strings' if item else 'objects of strings'}; {_DAMAGED}")
    if not isinstance(info.get("made_by", {}), dict):
        raise ValueError(f"{path} (member info): field 'made_by' is not an object; {_DAMAGED}")
    sources = info.get("label_sources", {})
    if not (isinstance(sources, dict) and all(_is(v, _INT) for v in sources.values())):
        raise ValueError(f"{path} (member info): field 'label_sources' is not an object of integers; {_DAMAGED}")
    return info


def read_shard_clips(path: os.PathLike | str) -> list[dict]:
    """Per-clip metadata of a shard, in clip order; every line's fields type-checked (CLIP_FIELDS)."""
    text = guarded.decode_text(_shard_member(path, "clips"), f"{path} (member clips)")
    clips = []
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{path} (clip line {number})"
        clips.append(check_fields(guarded.parse_json(line, where, _DAMAGED), CLIP_FIELDS, OPTIONAL_CLIP_FIELDS,
                                  where))
    return clips


def shard_summary(path: os.PathLike | str) -> Optional[dict]:
    """A complete shard's info plus its clip count under "clips"; None when it is missing or damaged."""
    try:
        motion, actions = open_shard(path)
        clips, info = read_shard_clips(path), read_shard_info(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None
    if not (len(motion) == len(actions) == len(clips)) or "counts" not in info:
        return None
    return {**info, "clips": len(clips)}


def shard_is_complete(path: os.PathLike | str) -> bool:
    """True when the shard reads back whole: its members are there and agree on the clip count."""
    return shard_summary(path) is not None


def open_shard(path: os.PathLike | str, vocabulary_size: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """(motion [N, W, ...] float32, actions [N, W] int64) memory-mapped read-only from the shard's stored members;
    ValueError naming the shard when they are not that, or when an action index is outside
    0..vocabulary_size-1 (default: the ActionType list, amass_fast.labels.ACTION_TYPES)."""
    motion, actions = _memmap_member(path, "motion"), _memmap_member(path, "actions")
    if motion.dtype != np.float32 or actions.dtype != np.int64 or actions.ndim != 2 or motion.ndim < 3 \
            or motion.shape[:2] != actions.shape:
        raise ValueError(f"{path}: motion {motion.dtype} {list(motion.shape)} and actions {actions.dtype} "
                         f"{list(actions.shape)} are not float32 [N, W, ...] and int64 [N, W]; {_DAMAGED}")
    if vocabulary_size is None:
        from amass_fast.labels.actions import ACTION_TYPES

        vocabulary_size = len(ACTION_TYPES)
    if actions.size:
        low, high = int(actions.min()), int(actions.max())
        if low < 0 or high >= vocabulary_size:
            bad = low if low < 0 else high
            raise ValueError(f"{path}: member actions holds the action index {bad}, outside 0..{vocabulary_size - 1} "
                             f"(one per entry of the actions vocabulary); {_DAMAGED}")
    return motion, actions


def _memmap_member(path: os.PathLike | str, key: str) -> np.ndarray:
    with guarded.open_regular(path, "shard") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            with zipfile.ZipFile(f) as zf:
                info = zf.getinfo(f"{key}.npy")
        except KeyError:
            raise ValueError(f"{path}: no member {key!r}; {_DAMAGED}") from None
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"{path}: member {key} is compressed; shards must be written by amass_fast.outputs.writers")
        f.seek(info.header_offset)
        local = f.read(30)
        if local[:4] != b"PK\x03\x04":
            raise ValueError(f"{path}: bad zip local header for {key}; the shard is damaged, rerun with --resume")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        offset = f.tell()
    if dtype.hasobject:
        raise ValueError(f"{path}: member {key} holds Python objects; refusing to read it")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != info.file_size - (offset - info.header_offset - 30 - name_len - extra_len) or offset + nbytes > size:
        raise ValueError(f"{path}: member {key} declares {list(shape)} {dtype}, more than it holds; {_DAMAGED}")
    if nbytes == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def read_manifest(folder: os.PathLike | str) -> tuple[dict, list[tuple[Path, int]]]:
    """A shards folder's manifest.json, read as untrusted input: (the manifest, (shard path, clips) per shard).
    Every shard it names must be a file name inside ``folder`` (no folder part, no "..", no absolute path, no link
    out of the folder), every field must hold what it should; else ValueError naming the manifest."""
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    again = "rerun `amass-fast process --format shards --resume` with its flags to write it again"
    manifest = read_json(path, again, kind="manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path}: not an amass-fast shards manifest; {again}")
    fps, vocabulary, entries = manifest.get("fps", 25.0), manifest.get("actions_vocabulary", []), manifest.get("shards")
    if not (_is(fps, _NUMBER) and fps > 0):
        raise ValueError(f"{path}: field 'fps' holds {fps!r:.40}, not a positive number; {again}")
    if not (isinstance(vocabulary, list) and all(isinstance(v, str) for v in vocabulary)):
        raise ValueError(f"{path}: field 'actions_vocabulary' is not a list of strings; {again}")
    if not isinstance(entries, list):
        raise ValueError(f"{path}: field 'shards' is not a list; {again}")
    inside, shards = folder.resolve(), []
    for number, entry in enumerate(entries):
        check_fields(entry, {"file": _STR, "clips": _INT}, {}, f"{path} (shards[{number}])")
        name, clips = entry["file"], entry["clips"]
        if (name in ("", ".", "..") or "/" in name or "\\" in name or os.path.isabs(name) or "\0" in name
                or (folder / name).resolve().parent != inside):
            raise ValueError(f"{path}: shards[{number}] names {name!r}, not a file inside {folder}; a manifest "
                             f"only names its own folder's shards: {again}")
        if clips < 0:
            raise ValueError(f"{path}: shards[{number}] holds {clips} clips; {again}")
        shards.append((folder / name, clips))
    return manifest, shards


def make_sample(motion, actions, clip: dict, fps: float = 25.0) -> dict:
    """One sample in the contract's form from motion/actions tensors and the clip's metadata line. A stick12 clip
    is stick-gen's v3 sample: it also has ``physics`` [T, 6] (schemas.physics of the motion at ``fps``, by the
    clip's physics method: stick-gen's backward differences unless the run chose --physics central), ``camera``
    [T, 3] (zeros: the camera is in the motion), ``action_label`` (the action) and ``enhanced_meta``
    (schemas.stickgen.enhanced_meta, measured when the clip was made)."""
    sample = {
        "motion": motion,
        "actions": actions,
        "action": str(clip["action"]),
        "description": str(clip["description"]),
        "source": "amass",
        # No None in meta (a joints3d clip has no camera): torch's default collate cannot batch None.
        "meta": {**{k: clip[k] for k in _META_KEYS if k in clip},
                 **{k: clip[k] for k in _SCHEMA_KEYS if clip.get(k) is not None}},
    }
    if clip.get("schema") == "stick12":
        import torch

        from amass_fast.schemas.layouts import physics

        values = np.asarray(motion.numpy() if hasattr(motion, "numpy") else motion)
        sample["physics"] = torch.from_numpy(physics(values, fps, clip.get("physics", "backward")).astype(np.float32))
        sample["camera"] = torch.zeros(len(values), 3)
        sample["action_label"] = str(clip["action"])
        if "enhanced_meta" in clip:
            sample["enhanced_meta"] = clip["enhanced_meta"]
    return sample


def write_pt(path: os.PathLike | str, shards: Iterable[tuple[os.PathLike | str, Optional[int]]],
             fps: float = 25.0) -> int:
    """Write the stick-gen-compatible ``.pt`` (a list of sample dicts) from ``(shard, clips to take or None)`` pairs,
    atomically. Loads with plain ``torch.load(path)`` (weights_only) without amass-fast. Returns the clip count."""
    import torch

    samples = []
    for shard, take in shards:
        motion, actions = open_shard(shard)
        clips = read_shard_clips(shard)
        n = len(clips) if take is None else min(take, len(clips))
        # One tensor per shard; each sample is a view of it, so the file stores one record per shard.
        motion_t = torch.from_numpy(np.array(motion[:n], dtype=np.float32))
        actions_t = torch.from_numpy(np.array(actions[:n], dtype=np.int64))
        samples.extend(make_sample(motion_t[i], actions_t[i], clips[i], fps) for i in range(n))
    with atomic.replacing(path) as tmp:
        torch.save(samples, tmp)
    return len(samples)
