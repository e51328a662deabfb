"""`amass-fast process --preset stick-gen` against stick-gen's training contract, written here as facts (read from
gestura-ai/stick-gen: src/data_gen/convert_amass.py build_canonical_sample and compute_basic_physics,
src/data_gen/schema.py EnhancedSampleMetadata and ActionType, src/train/train.py StickFigureDataset, whose items
a plain DataLoader collates, src/eval/metrics.py's static ratio, src/data_gen/joint_utils.py's lateral axis):

- sample keys: description str, motion float32 [250, 48], actions int64 [250], action_label str (an ActionType
  value), physics float32 [250, 6], camera float32 [250, 3] (zeros), source "amass", meta dict, enhanced_meta dict;
- physics: c(t) = mean of the 24 segment endpoints, v[0] = a[0] = 0, v[t] = fps (c[t] - c[t-1]),
  a[t] = fps (v[t] - v[t-1]), physics = (vx, vy, ax, ay, vx, vy) at fps 25;
- the trainer's item is (motion[:-1], embedding [1024], motion[1:], actions[:-1], physics[:-1], "earth_normal",
  enhanced_meta), batched by torch's default_collate: no None leaf, the same structure in every sample;
- the static ratio of a clip (share of t with |m[t+1] - m[t]|_2 < 0.01) must stay <= 0.4 for its artifact filter;
- lateral axis: the body's left at -x.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from amass_fast.harness import synthetic
from amass_fast.io.body_models import default_body_model
from amass_fast.cli import main
from amass_fast.process.clips import Window, plan_windows, window_cost
from amass_fast.labels import ACTION_TYPES
from amass_fast.kernels.reference import resampled_length
from amass_fast.schemas import layouts, skeleton_height
from amass_fast.schemas import transforms as tf
from amass_fast.schemas.stickgen import PRESET, enhanced_meta

# stick-gen's EnhancedSampleMetadata, field by field, with the types it declares.
ENHANCED_META_FIELDS = {
    "motion_style": {"tempo": float, "energy_level": float, "smoothness": float},
    "subject": {"height_cm": float, "gender": str, "age_group": str},
    "music": {"bpm": float, "beat_frames": list, "genre": str},
    "interaction": {"contact_frames": list, "interaction_role": str, "interaction_type": str},
    "temporal": {"original_fps": int, "original_duration_sec": float, "original_num_frames": int},
    "quality": {"reconstruction_confidence": float, "marker_quality": float, "physics_score": float},
    "emotion": {"emotion_label": str, "valence": float, "arousal": float},
}
STATIC_STEP = 0.01      # stick-gen's static threshold on |m[t+1] - m[t]|
STATIC_LIMIT = 0.4      # its artifact filter's limit
FPS = 25


def static_ratio(motion: np.ndarray) -> float:
    return float((np.linalg.norm(np.diff(motion, axis=0), axis=1) < STATIC_STEP).mean())


def stick_gen_physics(motion: np.ndarray, fps: float = FPS) -> np.ndarray:
    """compute_basic_physics, as stick-gen defines it, in float64 on the motion as stored."""
    c = np.asarray(motion, dtype=np.float64).reshape(len(motion), -1, 2).mean(axis=1)
    v, a = np.zeros_like(c), np.zeros_like(c)
    v[1:] = (c[1:] - c[:-1]) * fps
    a[1:] = (v[1:] - v[:-1]) * fps
    return np.concatenate([v, a, v], axis=1)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Real AMASS spellings, lengths on every side of the policy: 4 s (< 6.4 s: dropped), 7.5 s (one padded window,
    188 frames), 10 s (one window), 23.4 s (two windows and one ending at the last frame), 31 s at 59.94 fps (three
    and one ending at the last frame)."""
    root = tmp_path_factory.mktemp("amass")
    for rel, motion, seconds, fps, gender in [
        ("CMU/01/01_01_poses.npz", "walk", 4.0, 120.0, "male"),
        ("CMU/02/02_01_poses.npz", "run", 7.5, 120.0, "female"),
        ("ACCAD/Male1Walking_c3d/Walk B10 - Walk turn left 45_poses.npz", "walk", 10.0, 120.0, "male"),
        ("KIT/3/jump_medium01_poses.npz", "jump", 23.4, 100.0, "male"),
        ("MPI_HDM05/bk/HDM_bk_01-01_01_120_poses.npz", "wave", 31.0, 59.94, "female"),
    ]:
        synthetic.write_sequence(root / rel, "smplh", motion, seconds=seconds, fps=fps, gender=gender, seed=len(rel))
    return root


def process(tree, out, *flags) -> list[dict]:
    assert main(["process", "--amass-root", str(tree), "--output", str(out), "--jobs", "1", "--backend", "cpp",
                 *flags]) == 0
    return torch.load(out, weights_only=True)


@pytest.fixture(scope="module")
def canonical(tree, tmp_path_factory):
    return process(tree, tmp_path_factory.mktemp("sg") / "canonical.pt", "--preset", "stick-gen")


@pytest.fixture(scope="module")
def plain12(tree, tmp_path_factory):
    return process(tree, tmp_path_factory.mktemp("s12") / "s12.pt", "--schema", "stick12")


def test_preset_writes_build_canonical_samples_keys_dtypes_shapes(canonical):
    assert len(canonical) == 9            # 7.5 s: 1, 10 s: 1, 23.4 s: 3, 31 s: 4; 4 s dropped
    for s in canonical:
        assert {"description", "motion", "actions", "action_label", "physics", "camera", "source", "meta",
                "enhanced_meta"} <= set(s)
        assert s["motion"].dtype == torch.float32 and tuple(s["motion"].shape) == (250, 48)
        assert s["actions"].dtype == torch.int64 and tuple(s["actions"].shape) == (250,)
        assert s["physics"].dtype == torch.float32 and tuple(s["physics"].shape) == (250, 6)
        assert s["camera"].dtype == torch.float32 and tuple(s["camera"].shape) == (250, 3)
        assert not s["camera"].any()
        assert s["action_label"] in ACTION_TYPES and isinstance(s["description"], str) and s["description"]
        assert s["source"] == "amass" and isinstance(s["meta"], dict) and isinstance(s["meta"]["file"], str)
        assert int(s["actions"].max()) < len(ACTION_TYPES)
        meta = s["meta"]
        assert (meta["schema"], meta["screen_x"], meta["physics"]) == ("stick12", "left", "backward")


def test_physics_is_stick_gens_compute_basic_physics(canonical, plain12):
    for s in canonical + plain12:
        expected = stick_gen_physics(s["motion"].numpy())
        np.testing.assert_allclose(s["physics"].numpy(), expected, rtol=1e-6, atol=1e-6)
        assert not s["physics"][0].any()                                    # v[0] = a[0] = 0
        np.testing.assert_allclose(s["physics"][1, 2:4], FPS * s["physics"][1, 0:2], rtol=1e-6, atol=1e-6)


def test_central_physics_is_an_option_with_a_name(tree, tmp_path, plain12):
    central = process(tree, tmp_path / "c.pt", "--schema", "stick12", "--physics", "central")
    for s, b in zip(central, plain12):
        assert s["meta"]["physics"] == "central"
        np.testing.assert_allclose(s["physics"].numpy(), layouts.physics(s["motion"].numpy(), FPS, "central"),
                                   rtol=1e-6, atol=1e-5)
        assert torch.equal(s["motion"], b["motion"])
    assert not np.allclose(central[0]["physics"].numpy(), plain12[0]["physics"].numpy(), atol=1e-3)


def _leaves(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, obj


def test_enhanced_meta_has_stick_gens_fields_and_types_no_none_same_structure(canonical):
    structure = None
    for s in canonical:
        meta = s["enhanced_meta"]
        for group, values in meta.items():
            assert group in ENHANCED_META_FIELDS, group
            for key, value in values.items():
                assert key in ENHANCED_META_FIELDS[group], (group, key)
                assert type(value) is ENHANCED_META_FIELDS[group][key], (group, key, value)
        assert all(value is not None for _, value in _leaves(s))       # nowhere in the sample
        shape = [path for path, _ in _leaves(meta)]
        assert structure in (None, shape)
        structure = shape
        assert meta["subject"]["gender"] in ("male", "female", "unknown") and meta["subject"]["age_group"] == "unknown"
        assert 0.0 <= meta["motion_style"]["energy_level"] <= 1.0 and 0.0 <= meta["motion_style"]["tempo"] <= 1.0
        assert 0.0 < meta["motion_style"]["smoothness"] <= 1.0 and meta["quality"]["physics_score"] == 1.0
    by_file = {s["meta"]["file"]: s["enhanced_meta"] for s in canonical}
    hdm = by_file["MPI_HDM05/bk/HDM_bk_01-01_01_120_poses.npz"]
    assert hdm["temporal"] == {"original_fps": 60, "original_duration_sec": round(1858 / 59.94, 6),
                               "original_num_frames": 1858}
    assert hdm["subject"]["gender"] == "female"
    # The built-in skeleton is 1.70 m tall; its stature is what the subject's height reports.
    assert hdm["subject"]["height_cm"] == pytest.approx(170.0, abs=1e-3)


def test_default_collate_takes_batches_of_stick_gens_training_items(canonical):
    items = [(s["motion"][:-1], torch.zeros(1024), s["motion"][1:], s["actions"][:-1], s["physics"][:-1],
              "earth_normal", s["enhanced_meta"]) for s in canonical]
    motion, embedding, target, actions, physics, env, meta = default_collate(items)
    assert motion.shape == (len(items), 249, 48) and physics.shape == (len(items), 249, 6)
    assert list(env) == ["earth_normal"] * len(items)
    assert meta["temporal"]["original_fps"].dtype == torch.int64
    assert meta["motion_style"]["tempo"].shape == (len(items),)
    assert meta["subject"]["gender"] == [s["enhanced_meta"]["subject"]["gender"] for s in canonical]


def test_no_clip_is_static_because_of_padding(canonical, tree, tmp_path):
    padded = [s for s in canonical if s["meta"]["valid_length"] < 250]
    assert [s["meta"]["valid_length"] for s in padded] == [188]        # only the 7.5 s sequence is padded
    for s in canonical:
        assert static_ratio(s["motion"].numpy()) <= STATIC_LIMIT, s["meta"]["file"]
    # The plain padding of the old converter's layout holds a 4 s tail for 6 s: stick-gen's filter drops it.
    held = process(tree, tmp_path / "pad.pt", "--schema", "stick12")
    worst = max(static_ratio(s["motion"].numpy()) for s in held)
    assert worst > STATIC_LIMIT


def test_last_window_ends_at_the_sequence_end(canonical):
    kit = [s for s in canonical if s["meta"]["file"].startswith("KIT/")]
    total = resampled_length(2340, 100.0, 25.0)          # 23.4 s at 100 fps
    assert total == 585
    assert [round(s["meta"]["start_s"] * FPS) for s in kit] == [0, 250, total - 250]
    assert all(s["meta"]["valid_length"] == 250 for s in kit)
    windows = plan_windows(2340, 100.0, short="end")
    assert windows == [Window(0, 250), Window(250, 250), Window(335, 250)]
    cost = window_cost(total, windows, 250)
    assert (cost.padded, cost.held, cost.dropped, cost.overlap) == (0, 0, 0, 165)


def test_window_policies_and_their_cost():
    # 7 s at 25 fps = 176 frames; a window of 250.
    assert plan_windows(176, 25.0, short="end") == [Window(0, 176)]
    assert plan_windows(176, 25.0, short="end", min_length=160) == [Window(0, 176)]
    assert plan_windows(150, 25.0, short="end", min_length=160) == []
    assert plan_windows(600, 25.0, short="end") == [Window(0, 250), Window(250, 250), Window(350, 250)]
    assert plan_windows(500, 25.0, short="end") == [Window(0, 250), Window(250, 250)]     # nothing left over
    pad = plan_windows(600, 25.0, short="pad")
    assert pad == [Window(0, 250), Window(250, 250), Window(500, 100)]
    cost = window_cost(600, pad, 250)
    assert (cost.padded, cost.held, cost.dropped, cost.overlap) == (1, 150, 0, 0)
    cost = window_cost(600, plan_windows(600, 25.0, short="drop"), 250)
    assert (cost.padded, cost.held, cost.dropped, cost.overlap) == (0, 0, 100, 0)
    cost = window_cost(600, plan_windows(600, 25.0, short="end"), 250)
    assert (cost.padded, cost.held, cost.dropped, cost.overlap) == (0, 0, 0, 150)


def test_process_reports_what_the_window_policy_cost(tree, tmp_path, capsys):
    process(tree, tmp_path / "c.pt", "--preset", "stick-gen")
    out = capsys.readouterr().out
    # 7.5 s padded by 62 frames; 4 s (101 frames) dropped; KIT (585 frames) overlaps 165, HDM05 (775) 225.
    assert "windows padded       1 (0.0 min of held frames)" in out
    assert f"motion in no clip    {101 / FPS / 60:.1f} min" in out
    assert f"motion in two clips  {(165 + 225) / FPS / 60:.1f} min" in out


def test_left_of_the_body_at_minus_x(canonical, plain12):
    l_thigh = layouts.STICK12.index(next(s for s in layouts.STICK12 if s[0] == "l_thigh"))
    r_thigh = layouts.STICK12.index(next(s for s in layouts.STICK12 if s[0] == "r_thigh"))
    front = [s for s in canonical if s["meta"]["view"] == "front"]
    assert front and len(front) == len(canonical)
    for s in front:                                        # x1 of a thigh is its hip
        assert float(s["motion"][0, 4 * l_thigh]) < 0.0 < float(s["motion"][0, 4 * r_thigh])
    for s in plain12:                                      # the camera's right: the body's left at +x
        assert float(s["motion"][0, 4 * l_thigh]) > 0.0 > float(s["motion"][0, 4 * r_thigh])


def test_preset_scale_is_a_head_to_ankle_height_of_1_8(canonical):
    rest = default_body_model(warn=False).rest_joints(None)
    for s in canonical:
        assert s["meta"]["scale"] * skeleton_height(rest) == pytest.approx(1.8, abs=1e-6)


def test_flags_given_beside_the_preset_win(tree, tmp_path, canonical):
    right = process(tree, tmp_path / "r.pt", "--preset", "stick-gen", "--screen-x", "right", "--short", "pad",
                    "--min-seconds", "0")
    assert all(s["meta"]["screen_x"] == "right" for s in right) and len(right) == len(canonical) + 1
    np.testing.assert_allclose(right[0]["motion"].numpy(),
                               layouts.flip_screen_x(canonical[0]["motion"].numpy(), "stick12"), atol=0)
    np.testing.assert_allclose(right[0]["physics"].numpy()[:, [1, 3, 5]],
                               canonical[0]["physics"].numpy()[:, [1, 3, 5]], atol=0)
    np.testing.assert_allclose(right[0]["physics"].numpy()[:, [0, 2, 4]],
                               -canonical[0]["physics"].numpy()[:, [0, 2, 4]], atol=0)


def test_preset_with_mirror_and_views(tree, tmp_path):
    out = process(tree, tmp_path / "mv.pt", "--preset", "stick-gen", "--mirror", "--views", "2")
    assert len(out) == 9 * 2 * 2
    assert {s["meta"]["view"] for s in out} == {"front", "yaw:180"}
    assert {s["meta"]["mirrored"] for s in out} == {False, True}
    for s in out:
        np.testing.assert_allclose(s["physics"].numpy(), stick_gen_physics(s["motion"].numpy()), rtol=1e-6, atol=1e-6)


def test_flag_combinations_the_preset_cannot_take(tree, tmp_path, capsys):
    assert main(["process", "--amass-root", str(tree), "--output", str(tmp_path / "x.pt"), "--preset", "stick-gen",
                 "--schema", "joints3d"]) == 2
    assert "--screen-x left (set by --preset stick-gen)" in capsys.readouterr().err
    assert main(["process", "--amass-root", str(tree), "--output", str(tmp_path / "x.pt"), "--physics",
                 "central"]) == 2
    assert "--physics central sets stick12's physics" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_torch_transforms_give_the_offline_stick12_sample():
    j2 = torch.randn(2, 40, 22, 2, dtype=torch.float64).cumsum(dim=1) * 0.01
    out = tf.ToSchema("stick12", screen_x="left")({"motion": j2, "action": "walk"})
    offline = layouts.flip_screen_x(layouts.stick12(j2.numpy()), "stick12")
    np.testing.assert_allclose(out["motion"].numpy(), offline, atol=1e-12)
    np.testing.assert_allclose(out["physics"].numpy(), np.stack([stick_gen_physics(m) for m in offline]), atol=1e-9)
    with pytest.raises(ValueError, match="screen_x"):
        tf.ToSchema("stick12", screen_x="mirror")
    with pytest.raises(ValueError, match="physics"):
        tf.ToSchema("stick12", physics="forward")


def test_enhanced_meta_measures():
    t = np.arange(250) / FPS
    still = np.zeros((250, 48))
    meta = enhanced_meta(still, stick_gen_physics(still), 250, FPS, source_fps=120.0, source_frames=1200,
                         gender="neutral", height_cm=170.0)
    assert meta["motion_style"] == {"tempo": 0.0, "energy_level": 0.0, "smoothness": 1.0}
    assert meta["subject"]["gender"] == "unknown"
    sway = still + (0.3 * np.sin(2 * np.pi * 1.0 * t))[:, None]         # every x and y at 1 Hz: speed at 2 Hz
    style = enhanced_meta(sway, stick_gen_physics(sway), 250, FPS, source_fps=120.0, source_frames=1200,
                          gender="male", height_cm=170.0)["motion_style"]
    assert style["tempo"] == pytest.approx(2.0 / 5.0, abs=0.01)
    speed = np.sqrt(2) * 0.3 * 2 * np.pi * 2 / np.pi                    # mean |d/dt| of a sine, x and y
    assert style["energy_level"] == pytest.approx(1 - np.exp(-speed), abs=0.01)
    assert style["smoothness"] == pytest.approx(1 / (1 + 2 * np.pi / FPS), abs=0.01)   # |second| / |first| = w dt
    assert PRESET["schema"] == "stick12"
