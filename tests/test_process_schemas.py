"""`amass-fast process` with --schema, --up, --scale-height, --mirror, --camera, --random-views: shapes, meta,
labels that do not depend on the schema, stick-gen's v3 sample, mirroring, random views, flag checks, --resume,
and joints3d shards turned into 2D schemas on the fly equal to the offline output."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from amass_fast import StickClips
from amass_fast.harness import synthetic
from amass_fast.outputs import writers
from amass_fast.cli import main
from amass_fast.schemas import Camera, physics
from amass_fast.schemas.transforms import ToSchema

FAST = ["--window", "25", "--jobs", "1", "--batch-files", "3", "--backend", "cpp"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("amass")
    synthetic.make_tree(root, ["CMU", "KIT"], files_per_dataset=2, seconds=(1.5, 3.0), seed=3)
    return root


def run(tree, out, *flags):
    return main(["process", "--amass-root", str(tree), "--output", str(out), *FAST, *map(str, flags)])


@pytest.fixture(scope="module")
def stick5(tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("s5") / "s5.pt"
    assert run(tree, out) == 0
    return torch.load(out, weights_only=True)


def test_stick12_is_stick_gens_v3_sample_with_the_labels_of_stick5(tree, tmp_path, stick5):
    out = tmp_path / "s12.pt"
    assert run(tree, out, "--schema", "stick12") == 0
    samples = torch.load(out, weights_only=True)
    assert len(samples) == len(stick5)
    for s12, s5 in zip(samples, stick5):
        assert set(s12) >= {"motion", "actions", "action_label", "physics", "camera", "description", "source", "meta"}
        assert s12["motion"].shape == (25, 48) and s12["physics"].shape == (25, 6) and s12["camera"].shape == (25, 3)
        assert s12["action_label"] == s12["action"] == s5["action"] and s12["description"] == s5["description"]
        assert torch.equal(s12["actions"], s5["actions"])
        np.testing.assert_allclose(s12["physics"].numpy(), physics(s12["motion"].numpy()), rtol=1e-6, atol=1e-5)
        assert not s12["camera"].any()
        meta = s12["meta"]
        assert meta["schema"] == "stick12" and meta["mirrored"] is False and meta["camera"] == list(Camera().packed())
        # head, chest, pelvis, ankles: the stick5 points of the same clip
        seg, p5 = s12["motion"].reshape(25, 12, 2, 2), s5["motion"].reshape(25, 5, 2, 2)
        np.testing.assert_allclose(seg[:, 0, 1], p5[:, 0, 0], atol=1e-5)
        np.testing.assert_allclose(seg[:, 2, 0], p5[:, 0, 1], atol=1e-5)
        np.testing.assert_allclose(seg[:, 2, 1], p5[:, 3, 0], atol=1e-5)
        np.testing.assert_allclose(seg[:, 8, 1], p5[:, 3, 1], atol=1e-5)
    assert "schema" not in stick5[0]["meta"]   # plain stick5 is unchanged


def test_mirror_adds_mirrored_copies_with_labels_and_swapped_descriptions(tree, tmp_path, stick5):
    out = tmp_path / "m.pt"
    assert run(tree, out, "--mirror") == 0
    samples = torch.load(out, weights_only=True)
    assert len(samples) == 2 * len(stick5)
    originals = [s for s in samples if not s["meta"]["mirrored"]]
    mirrored = {(s["meta"]["file"], s["meta"]["start_s"]): s for s in samples if s["meta"]["mirrored"]}
    for o, plain in zip(originals, stick5):
        np.testing.assert_allclose(o["motion"], plain["motion"], atol=1e-6)
        m = mirrored[(o["meta"]["file"], o["meta"]["start_s"])]
        assert m["action"] == o["action"] and torch.equal(m["actions"], o["actions"])
        from amass_fast.schemas import mirror_text

        assert m["description"] == mirror_text(o["description"])
        lines = o["motion"].numpy().reshape(25, 5, 4).copy()
        lines[:, :, [0, 2]] *= -1
        np.testing.assert_allclose(m["motion"].numpy(), lines[:, [0, 2, 1, 4, 3]].reshape(25, 20), atol=2e-5)


def test_random_views_are_deterministic_and_keyed_by_clip(tree, tmp_path):
    a, b, c = tmp_path / "a.pt", tmp_path / "b.pt", tmp_path / "c.pt"
    for out, seed in ((a, 5), (b, 5), (c, 6)):
        assert run(tree, out, "--schema", "joints2d", "--random-views", 2, "--camera", "perspective",
                   "--seed", seed) == 0
    sa, sb, sc = (torch.load(p, weights_only=True) for p in (a, b, c))
    assert len(sa) == len(sb) and sa[0]["motion"].shape == (25, 22, 2)
    assert all(torch.equal(x["motion"], y["motion"]) and x["meta"]["camera"] == y["meta"]["camera"]
               for x, y in zip(sa, sb))
    assert sa[0]["meta"]["camera"] != sc[0]["meta"]["camera"]
    assert sa[0]["meta"]["camera"] != sa[1]["meta"]["camera"] and sa[0]["meta"]["camera"][0] == 1.0


def test_joints3d_shards_on_the_fly_equal_the_offline_2d_output(tree, tmp_path):
    shards = tmp_path / "j3"
    assert run(tree, shards, "--format", "shards", "--schema", "joints3d", "--up", "y") == 0
    camera = Camera("perspective", yaw_deg=40.0, elevation_deg=10.0)
    clips = StickClips(shards, transform=ToSchema("stick12", camera=camera))
    assert clips[0]["meta"]["up"] == "y" and StickClips(shards)[0]["motion"].shape == (25, 22, 3)
    offline = tmp_path / "s12"
    assert run(tree, offline, "--format", "shards", "--schema", "stick12", "--camera", "perspective",
               "--view", "yaw:40") == 0
    # the same camera offline: the --view yaw 40 perspective camera has elevation 0; compare at elevation 0
    clips = StickClips(shards, transform=ToSchema("stick12", camera=Camera("perspective", yaw_deg=40.0)))
    want = StickClips(offline)
    assert len(clips) == len(want)
    for i in range(len(want)):
        np.testing.assert_allclose(clips[i]["motion"].numpy(), want[i]["motion"].numpy(), atol=2e-5)


def test_scale_height_scales_joints3d(tree, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(tree, a, "--format", "shards", "--schema", "joints3d") == 0
    assert run(tree, b, "--format", "shards", "--schema", "joints3d", "--scale-height") == 0
    x, y = StickClips(a)[0], StickClips(b)[0]
    k = y["meta"]["scale"]
    assert k != 1.0 and x["meta"]["scale"] == 1.0
    np.testing.assert_allclose(y["motion"].numpy(), k * x["motion"].numpy(), atol=1e-5)


@pytest.mark.parametrize("flags,words", [
    (["--schema", "joints3d", "--camera", "perspective"], "--schema joints3d"),
    (["--random-views", "2", "--views", "3"], "--random-views"),
    (["--view", "top", "--schema", "stick12"], "--view top"),
    (["--up", "y"], "--up"),
    (["--schema", "stick9"], "--schema"),
    (["--random-views", "0"], "--random-views"),
])
def test_flags_that_do_not_go_together_exit_2(tree, tmp_path, capsys, flags, words):
    try:
        code = run(tree, tmp_path / "x.pt", *flags)
    except SystemExit as exc:   # refused by the flag's own type while parsing
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "x.pt").exists()


def test_resume_refuses_other_schema_flags(tree, tmp_path):
    out = tmp_path / "sh"
    assert run(tree, out, "--format", "shards", "--schema", "stick12") == 0
    run_json = json.loads((out / writers.MANIFEST_NAME).read_text())["flags"]
    assert run_json["schema"] == "stick12" and run_json["mirror"] is False
    work = tmp_path / "r.pt.parts"
    work.mkdir()
    writers.write_json(work / "run.json", {"schema": "stick5"})
    assert run(tree, tmp_path / "r.pt", "--schema", "stick12", "--resume") == 2
