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

import json
import os
import struct
import zipfile
from typing import Any, Iterable, Optional

import numpy as np

from amass_fast import atomic

SHARD_NAME = "shard-{:06d}.npz"
SHARD_GLOB = "shard-*.npz"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "amass-fast-shards"
_META_KEYS = ("dataset", "file", "start_s", "source_fps", "view", "valid_length", "label_source",
              "description_source")
# In a sample's meta when the clip has them (runs with a schema, camera, scale or mirror option).
_SCHEMA_KEYS = ("schema", "up", "mirrored", "scale", "camera", "screen_x", "physics")


temporary_name = atomic.temporary_name
remove_temporaries = atomic.remove_all


def write_json(path: os.PathLike | str, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (sorted keys, so equal content gives equal bytes)."""
    tmp = temporary_name(path)
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path: os.PathLike | str, fix: str) -> Any:
    """The JSON object in ``path``; a file that does not read as JSON raises ValueError naming it, then ``fix``
    (what the user can do about it)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: damaged, not readable as JSON ({exc}); {fix}") from None


def _json_bytes(obj: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(obj, sort_keys=True).encode(), dtype=np.uint8)


def write_shard(path: os.PathLike | str, motion: np.ndarray, actions: np.ndarray, clips: list[dict],
                info: dict) -> None:
    """Atomically write one shard (see the module docstring)."""
    if not (len(motion) == len(actions) == len(clips)):
        raise ValueError(f"shard {path}: {len(motion)} motions, {len(actions)} action rows, {len(clips)} clips")
    lines = "".join(json.dumps(c, sort_keys=True) + "\n" for c in clips).encode()
    tmp = temporary_name(path)
    with open(tmp, "wb") as f:
        np.savez(f, motion=np.ascontiguousarray(motion, dtype=np.float32),
                 actions=np.ascontiguousarray(actions, dtype=np.int64),
                 clips=np.frombuffer(lines, dtype=np.uint8), info=_json_bytes(info))
    os.replace(tmp, path)


def read_shard_info(path: os.PathLike | str) -> dict:
    """The task counts and errors of a shard (small; does not read the motion)."""
    with np.load(path, allow_pickle=False) as z:
        return json.loads(z["info"].tobytes())


def read_shard_clips(path: os.PathLike | str) -> list[dict]:
    """Per-clip metadata of a shard, in clip order."""
    with np.load(path, allow_pickle=False) as z:
        return [json.loads(line) for line in z["clips"].tobytes().decode().splitlines()]


def shard_summary(path: os.PathLike | str) -> Optional[dict]:
    """A complete shard's info plus its clip count under "clips"; None when it is missing or damaged."""
    try:
        motion, actions = open_shard(path)
        clips, info = read_shard_clips(path), read_shard_info(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, json.JSONDecodeError):
        return None
    if not (len(motion) == len(actions) == len(clips)) or "counts" not in info:
        return None
    return {**info, "clips": len(clips)}


def shard_is_complete(path: os.PathLike | str) -> bool:
    """True when the shard reads back whole: its members are there and agree on the clip count."""
    return shard_summary(path) is not None


def open_shard(path: os.PathLike | str) -> tuple[np.ndarray, np.ndarray]:
    """(motion [N, W, 20], actions [N, W]) memory-mapped read-only from the shard's stored members."""
    return _memmap_member(path, "motion"), _memmap_member(path, "actions")


def _memmap_member(path: os.PathLike | str, key: str) -> np.ndarray:
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(f"{key}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{path}: member {key} is compressed; shards must be written by amass_fast.writers")
    with open(path, "rb") as f:
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
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


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
        "meta": {**{k: clip[k] for k in _META_KEYS}, **{k: clip[k] for k in _SCHEMA_KEYS if k in clip}},
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
    tmp = temporary_name(path)
    torch.save(samples, tmp)
    os.replace(tmp, path)
    return len(samples)
