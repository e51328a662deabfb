"""The torch transforms (amass_fast.schemas.transforms) against the float64 NumPy reference, per sample and
batched, on the CPU and (when there is one) on a CUDA GPU; and StickClips(transform=...)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import amass_fast as af
from amass_fast.harness import synthetic
from amass_fast.io.body_models import default_body_model
from amass_fast.outputs.dataset import StickClips
from amass_fast.schemas import (Camera, canonical_joints, mirror_joints, physics, project, stick5, stick12,
                                to_schema)
from amass_fast.schemas import transforms as tf
from amass_fast.schemas.joints import z_up_to

SRC_FPS = 120.0
MODEL = default_body_model(warn=False)
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                  reason="no CUDA GPU here"))]
CAMERAS = [Camera(), Camera(yaw_deg=-70.0, elevation_deg=25.0),
           Camera("perspective", 15.0, 10.0, 3.0, 35.0, 1.0), Camera("perspective", 160.0, -5.0, 7.5, 50.0, 0.8)]


def clip_source(kind: str, seed: int, seconds: float = 2.0):
    poses, trans = synthetic.motion_curves(kind, int(seconds * SRC_FPS), SRC_FPS, np.random.default_rng(seed))
    return poses, trans


def joints3d(kind: str, seed: int, frames: int = 40) -> np.ndarray:
    p25, t25 = af.resample_poses(*clip_source(kind, seed), SRC_FPS)
    return canonical_joints(af.fk(p25, t25, MODEL.rest_joints(), MODEL.parents))[:frames]


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    """[4, 40, 22, 3] float64 canonical joints3d of four motions."""
    return np.stack([joints3d(kind, seed) for seed, kind in enumerate(("walk", "run", "jump", "wave"))])


def tol(dtype):
    return {torch.float64: 1e-10, torch.float32: 2e-5}[dtype]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_project_batched_and_per_sample_equal_the_reference(batch, device, dtype):
    cams = torch.stack([torch.from_numpy(c.packed()) for c in CAMERAS])
    x = torch.as_tensor(batch, dtype=dtype, device=device)
    out = tf.project(x, cams.to(device))
    assert out.shape == (4, 40, 22, 2) and out.dtype == dtype and out.device.type == device
    for i, cam in enumerate(CAMERAS):
        expected = project(batch[i], cam)
        np.testing.assert_allclose(out[i].cpu().double().numpy(), expected, atol=tol(dtype))
        one = tf.project(x[i], cams[i])
        np.testing.assert_allclose(one.cpu().double().numpy(), expected, atol=tol(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("schema", ["stick5", "stick12", "joints2d"])
def test_to_schema_physics_and_mirror_equal_the_reference(batch, device, schema):
    j2 = np.stack([project(b, c) for b, c in zip(batch, CAMERAS)])
    x = torch.as_tensor(j2, dtype=torch.float32, device=device)
    out = tf.to_schema(x, schema)
    np.testing.assert_allclose(out.cpu().double().numpy(), to_schema(j2, schema), atol=2e-5)
    if schema != "joints2d":
        exact = tf.to_schema(torch.as_tensor(j2, device=device), schema)      # float64: differences amplify
        for method in ("backward", "central"):
            np.testing.assert_allclose(tf.physics(exact, 25.0, method).cpu().numpy(),
                                       physics(to_schema(j2, schema), 25.0, method), atol=1e-9)
    mask = torch.tensor([True, False, True, False])
    mirrored = tf.mirror_joints(torch.as_tensor(batch, device=device), mask).cpu().numpy()
    np.testing.assert_allclose(mirrored[[0, 2]], mirror_joints(batch[[0, 2]]), atol=0)
    np.testing.assert_array_equal(mirrored[[1, 3]], batch[[1, 3]])


def test_on_the_fly_stick5_equals_the_offline_conversion():
    """ToSchema on stored joints3d (float32, as shards store them) gives what amass_fast.convert writes."""
    poses, trans = clip_source("walk", 30)
    stored = torch.from_numpy(canonical_joints(af.fk(*af.resample_poses(poses, trans, SRC_FPS), MODEL.rest_joints(),
                                                     MODEL.parents)).astype(np.float32))
    for view in ("front", "side", 230.0):
        offline = af.convert(poses, trans, MODEL.rest_joints(), MODEL.parents, SRC_FPS, view=view)
        camera = Camera(yaw_deg={"front": 0.0, "side": 90.0}.get(view, view))
        np.testing.assert_allclose(tf.ToSchema("stick5", camera=camera)(stored).numpy(), offline, atol=2e-5)


def test_y_up_storage_gives_the_same_views(batch):
    z = torch.from_numpy(batch)
    y = torch.from_numpy(z_up_to(batch, "y"))
    a = tf.RandomCamera("perspective", seed=3)(z)
    b = tf.RandomCamera("perspective", seed=3)({"motion": y, "meta": {"up": ["y"] * 4}})
    torch.testing.assert_close(b["motion"], a, atol=1e-12, rtol=0)
    torch.testing.assert_close(tf.RandomCamera("perspective", seed=3, up="y")(y), a, atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="mixes"):
        tf.RandomCamera()({"motion": y, "meta": {"up": ["y", "z", "y", "y"]}})


def test_random_camera_is_reproducible_and_reports_its_cameras(batch):
    x = torch.from_numpy(batch)
    a, b = tf.RandomCamera("perspective", seed=5), tf.RandomCamera("perspective", seed=5)
    sa, sb = a({"motion": x}), b({"motion": x})
    assert torch.equal(sa["camera_params"], sb["camera_params"]) and torch.equal(sa["motion"], sb["motion"])
    assert sa["camera_params"].shape == (4, 6) and bool((sa["camera_params"][:, 0] == 1).all())
    assert not torch.equal(sa["camera_params"], tf.RandomCamera("perspective", seed=6).draw(4))
    assert len(set(sa["camera_params"][:, 1].tolist())) == 4           # one camera per sample
    for i in range(4):                                                   # each sample projected with its own camera
        cam = Camera.unpack(sa["camera_params"][i].numpy())
        np.testing.assert_allclose(sa["motion"][i].numpy(), project(batch[i], cam), atol=1e-10)
    one = tf.RandomCamera(seed=5)(x[0])
    assert one.shape == (40, 22, 2)


def test_mirror_and_stick12_dict_pipeline():
    j3 = torch.from_numpy(joints3d("wave", 4).astype(np.float32))
    sample = {"motion": j3, "actions": torch.full((40,), 5), "action": "wave",
              "description": "A person waves with the right hand.", "source": "amass", "meta": {"view": "front"}}
    out = tf.Compose([tf.Mirror(), tf.ToSchema("stick12")])(sample)
    assert out["motion"].shape == (40, 48) and out["physics"].shape == (40, 6) and out["camera"].shape == (40, 3)
    assert bool((out["camera"] == 0).all()) and out["action_label"] == "wave" and bool(out["mirrored"])
    assert out["description"] == "A person waves with the left hand."
    expected = stick12(project(mirror_joints(j3.double().numpy())))
    np.testing.assert_allclose(out["motion"].numpy(), expected, atol=2e-5)
    np.testing.assert_allclose(out["physics"].numpy(), physics(expected), atol=1e-3)
    assert sample["motion"] is j3 and sample["description"].endswith("right hand.")   # the input is not changed
    twice = tf.Mirror()(tf.Mirror()(sample))
    assert torch.equal(twice["motion"], j3) and twice["description"] == sample["description"]
    assert not bool(twice["mirrored"])
    with pytest.raises(ValueError, match="before ToSchema"):
        tf.Mirror()(out)


def test_mirror_probability_per_sample(batch):
    x = {"motion": torch.from_numpy(batch), "description": [f"turns left {i}" for i in range(4)]}
    out = tf.Mirror(p=0.5, seed=0)(x)
    flags = out["mirrored"].tolist()
    assert flags == (torch.rand(4, generator=torch.Generator().manual_seed(0)) < 0.5).tolist()
    assert 0 < sum(flags) < 4
    for i, flag in enumerate(flags):
        assert out["description"][i] == (f"turns right {i}" if flag else f"turns left {i}")
        expected = mirror_joints(batch[i]) if flag else batch[i]
        np.testing.assert_allclose(out["motion"][i].numpy(), expected, atol=0)
    assert not tf.Mirror(p=0.0)(x)["mirrored"].any()


def test_transform_errors_name_the_shapes():
    with pytest.raises(ValueError, match="joints3d must be"):
        tf.project(torch.zeros(10, 20, 3), torch.zeros(6))
    with pytest.raises(ValueError, match="cameras must be"):
        tf.project(torch.zeros(10, 22, 3), torch.zeros(5))
    with pytest.raises(ValueError, match="schema must be"):
        tf.ToSchema("stick7")
    with pytest.raises(ValueError, match="kind must be"):
        tf.RandomCamera("fisheye")


def test_stickclips_applies_its_transform_per_sample_and_in_batches(tmp_path, batch):
    path = tmp_path / "joints3d.pt"
    samples = [{"motion": torch.from_numpy(b.astype(np.float32)), "actions": torch.ones(40, dtype=torch.int64),
                "action": "walk", "description": "A person walks to the left.", "source": "amass",
                "meta": {"dataset": "CMU", "file": f"CMU/07/07_0{i + 1}_poses.npz", "start_s": 0.0,
                         "source_fps": 120.0, "view": "front", "valid_length": 40, "label_source": "cmu"}}
               for i, b in enumerate(batch)]
    torch.save(samples, path)
    clips = StickClips(path, transform=tf.ToSchema("stick5"))
    assert clips[2]["motion"].shape == (40, 20)
    np.testing.assert_allclose(clips[2]["motion"].numpy(), stick5(project(batch[2])), atol=2e-5)
    assert StickClips(path)[2]["motion"].shape == (40, 22, 3)          # the stored samples are untouched
    loaded = next(iter(DataLoader(StickClips(path), batch_size=4)))
    batched = tf.Compose([tf.Mirror(), tf.ToSchema("stick12")])(loaded)
    per_sample = StickClips(path, transform=tf.Compose([tf.Mirror(), tf.ToSchema("stick12")]))
    assert batched["motion"].shape == (4, 40, 48) and batched["physics"].shape == (4, 40, 6)
    assert batched["description"] == ["A person walks to the right."] * 4
    for i in range(4):
        torch.testing.assert_close(batched["motion"][i], per_sample[i]["motion"], atol=0, rtol=0)
        torch.testing.assert_close(batched["physics"][i], per_sample[i]["physics"], atol=1e-4, rtol=0)
