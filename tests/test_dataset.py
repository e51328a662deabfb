"""StickClips over both output formats, with a multi-worker DataLoader (amass_fast.outputs.dataset)."""
import json

import pytest
import torch
from torch.utils.data import DataLoader

from amass_fast.harness import synthetic
from amass_fast.cli import main
from amass_fast.outputs.dataset import StickClips
from amass_fast.labels import ACTION_TYPES

FAST = ["--window", "25", "--backend", "reference", "--jobs", "1", "--batch-files", "2"]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ds")
    synthetic.make_tree(tmp / "amass", ["CMU", "KIT"], files_per_dataset=3, seconds=(1.5, 3.0), seed=3)
    for fmt, out in (("pt", tmp / "clips.pt"), ("shards", tmp / "shards")):
        assert main(["process", "--amass-root", str(tmp / "amass"), "--output", str(out), "--format", fmt,
                     *FAST]) == 0
    return tmp / "clips.pt", tmp / "shards"


def test_both_formats_give_the_same_samples(outputs):
    pt, shards = (StickClips(p) for p in outputs)
    assert len(pt) == len(shards) > 6
    assert len(json.loads((outputs[1] / "manifest.json").read_text())["shards"]) == 3  # 6 files / 2 per task
    assert pt.actions_vocabulary == shards.actions_vocabulary == list(ACTION_TYPES)
    for i in range(len(pt)):
        a, b = pt[i], shards[i]
        assert b["motion"].dtype == torch.float32 and tuple(b["motion"].shape) == (25, 20)
        assert b["actions"].dtype == torch.int64 and tuple(b["actions"].shape) == (25,)
        assert torch.equal(a["motion"], b["motion"]) and torch.equal(a["actions"], b["actions"])
        assert {k: a[k] for k in ("action", "description", "source", "meta")} == \
               {k: b[k] for k in ("action", "description", "source", "meta")}
    assert torch.equal(shards[-1]["motion"], shards[len(shards) - 1]["motion"])
    with pytest.raises(IndexError):
        shards[len(shards)]


def test_dataloader_with_two_workers_reads_every_clip_once(outputs):
    clips = StickClips(outputs[1])
    loader = DataLoader(clips, batch_size=4, num_workers=2, shuffle=False)
    batches = list(loader)
    motion = torch.cat([b["motion"] for b in batches])
    assert motion.shape == (len(clips), 25, 20)
    expected = torch.stack([clips[i]["motion"] for i in range(len(clips))])
    assert torch.equal(motion, expected)
    files = [f for b in batches for f in b["meta"]["file"]]
    assert files == [clips[i]["meta"]["file"] for i in range(len(clips))]


def test_unfinished_or_missing_outputs_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        StickClips(tmp_path / "nothing.pt")
    (tmp_path / "half").mkdir()
    with pytest.raises(FileNotFoundError, match="--resume"):
        StickClips(tmp_path / "half")


@pytest.mark.parametrize("content", [b"", b"GIF89a" + bytes(64), b"PK\x03\x04 not a torch zip"])
def test_a_file_that_is_not_an_output_is_a_value_error_naming_it(tmp_path, content):
    path = tmp_path / "other.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"other\.pt: not a clips file written by `amass-fast process`"):
        StickClips(path)


def _copy(folder, to):
    import shutil

    return shutil.copytree(folder, to)


def test_a_damaged_manifest_or_shard_is_named(outputs, tmp_path, capsys):
    shards = _copy(outputs[1], tmp_path / "shards")
    (shards / "manifest.json").write_text('{"format": ')
    with pytest.raises(ValueError, match=r"manifest\.json: damaged.*--resume"):
        StickClips(shards)
    shards = _copy(outputs[1], tmp_path / "shards2")
    data = (shards / "shard-000002.npz").read_bytes()
    (shards / "shard-000002.npz").write_bytes(data[: len(data) // 2])
    clips = StickClips(shards)
    assert torch.equal(clips[0]["motion"], StickClips(outputs[1])[0]["motion"])  # shard 0 is whole
    with pytest.raises(ValueError, match=r"shard-000002\.npz: damaged or missing shard.*--resume"):
        clips[len(clips) - 1]
    # The same through the preview command: exit 1, the shard named, no traceback.
    assert main(["preview", str(shards), "--index", "-1", "--out", str(tmp_path / "x.gif")]) == 1
    err = capsys.readouterr().err
    assert "shard-000002.npz: damaged" in err and "Traceback" not in err


def test_a_truncated_pt_is_named(outputs, tmp_path):
    data = outputs[0].read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) - 100])
    with pytest.raises(ValueError, match=r"cut\.pt: not a clips file .*or a damaged one.*--overwrite"):
        StickClips(tmp_path / "cut.pt")
