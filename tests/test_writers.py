"""Shards, manifest and .pt writers (amass_fast.outputs.writers)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from amass_fast.io import atomic
from amass_fast.outputs import writers


def fake_shard(n, window=6, seed=0):
    rng = np.random.default_rng(seed)
    motion = rng.normal(size=(n, window, 20)).astype(np.float32)
    actions = rng.integers(0, 46, size=(n, window))
    clips = [{"action": "walk", "description": f"clip {i}", "dataset": "CMU", "file": f"CMU/01/01_0{i}_poses.npz",
              "start_s": 0.0, "source_fps": 120.0, "view": "front", "valid_length": window - i % 2,
              "label_source": "keywords", "description_source": "cmu"} for i in range(n)]
    return motion, actions, clips, {"task": 0, "counts": {"files": n}, "errors": []}


def test_shard_round_trip_is_memory_mapped(tmp_path):
    motion, actions, clips, info = fake_shard(3)
    path = tmp_path / "shard-000000.npz"
    writers.write_shard(path, motion, actions, clips, info)
    m, a = writers.open_shard(path)
    assert isinstance(m, np.memmap) and isinstance(a, np.memmap)
    assert m.dtype == np.float32 and a.dtype == np.int64 and m.shape == (3, 6, 20) and a.shape == (3, 6)
    np.testing.assert_array_equal(m, motion)
    np.testing.assert_array_equal(a, actions)
    assert writers.read_shard_clips(path) == clips
    assert writers.read_shard_info(path) == info
    # np.load agrees with the hand-made memory map.
    with np.load(path, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["motion"], motion)
    assert not list(tmp_path.glob(atomic.GLOB))


def test_empty_shard(tmp_path):
    path = tmp_path / "shard-000001.npz"
    writers.write_shard(path, np.zeros((0, 6, 20)), np.zeros((0, 6)), [], {"counts": {}})
    m, a = writers.open_shard(path)
    assert m.shape == (0, 6, 20) and a.shape == (0, 6)
    assert writers.shard_is_complete(path)


def test_truncated_or_missing_shard_is_incomplete(tmp_path):
    motion, actions, clips, _ = fake_shard(4)
    path = tmp_path / "s.npz"
    writers.write_shard(path, motion, actions, clips, {"counts": {"files": 4}})
    assert writers.shard_is_complete(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert not writers.shard_is_complete(path)
    assert not writers.shard_is_complete(tmp_path / "missing.npz")


def test_a_failed_write_leaves_nothing_under_the_final_name(tmp_path, monkeypatch):
    motion, actions, clips, info = fake_shard(2)
    path = tmp_path / "shard-000000.npz"

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(writers.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        writers.write_shard(path, motion, actions, clips, info)
    assert not path.exists()
    assert list(tmp_path.glob(atomic.GLOB)) == []  # an interrupted write removes its own temporary
    monkeypatch.undo()
    # A writer killed outright (no cleanup runs) leaves its temporary; the next run removes it.
    Path(atomic.temporary_name(path)).write_bytes(b"half a shard")
    assert len(list(tmp_path.glob(atomic.GLOB))) == 1
    writers.remove_temporaries(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_mismatched_lengths_refused(tmp_path):
    motion, actions, clips, info = fake_shard(2)
    with pytest.raises(ValueError, match="clips"):
        writers.write_shard(tmp_path / "x.npz", motion, actions, clips[:1], info)


def test_pt_loads_with_plain_torch_and_respects_the_cap(tmp_path):
    shards = []
    for s in range(2):
        motion, actions, clips, info = fake_shard(3, seed=s)
        path = tmp_path / f"shard-{s:06d}.npz"
        writers.write_shard(path, motion, actions, clips, info)
        shards.append(path)
    out = tmp_path / "out.pt"
    assert writers.write_pt(out, [(shards[0], None), (shards[1], 2)]) == 5
    # A fresh interpreter that cannot import amass_fast loads it with weights_only.
    code = ("import sys, torch; d = torch.load(sys.argv[1], weights_only=True); "
            "print(len(d), tuple(d[4]['motion'].shape), d[4]['actions'].dtype, sorted(d[0]), sorted(d[0]['meta']))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, env=env,
                            cwd=tmp_path, check=True)
    assert result.stdout.split("\n")[0] == (
        "5 (6, 20) torch.int64 ['action', 'actions', 'description', 'meta', 'motion', 'source'] "
        "['dataset', 'description_source', 'file', 'label_source', 'source_fps', 'start_s', 'valid_length', 'view']")
    samples = torch.load(out, weights_only=True)
    motion1 = writers.open_shard(shards[1])[0]
    np.testing.assert_array_equal(samples[4]["motion"].numpy(), motion1[1])
    assert samples[4]["motion"].dtype == torch.float32 and samples[4]["source"] == "amass"
    assert samples[3]["meta"]["valid_length"] == 6 and samples[4]["meta"]["valid_length"] == 5


def test_write_json_is_deterministic(tmp_path):
    writers.write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    writers.write_json(tmp_path / "b.json", {"a": [1, 2], "b": 1})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_read_json_names_a_damaged_file_and_the_fix(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    writers.write_json(good, {"a": 1})
    assert writers.read_json(good, "unused") == {"a": 1}
    bad.write_bytes(b'{"a": \xff')
    with pytest.raises(ValueError, match=r"bad\.json: damaged, not readable as JSON .*; rerun it"):
        writers.read_json(bad, "rerun it")
