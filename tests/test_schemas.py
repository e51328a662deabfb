"""Schemas beyond stick5, float64 reference (amass_fast.schemas): canonical joints3d, cameras, stick12, joints2d,
physics and mirroring, checked against the fused stick5 conversion (amass_fast.convert) on synthetic motions."""
from __future__ import annotations

import math

import numpy as np
import pytest

import amass_fast as af
from amass_fast.harness import synthetic
from amass_fast.io.body_models import SMPL_JOINT_NAMES, SMPLH_JOINT_NAMES, SMPLX_JOINT_NAMES, default_body_model
from amass_fast.schemas import (Camera, CameraRanges, canonical_joints, clip_frame, height_scale, mirror_joints,
                                mirror_params, mirror_text, physics, project, random_cameras, skeleton_height,
                                stick5, stick12, to_schema, view_camera)
from amass_fast.schemas import cameras, layouts
from amass_fast.schemas.joints import to_z_up, z_up_to

SRC_FPS = 120.0
MODEL = default_body_model(warn=False)
REST, PARENTS = MODEL.rest_joints(), MODEL.parents
SEG = {name: i for i, (name, _, _) in enumerate(layouts.STICK12)}


def motion(kind: str, seed: int, seconds: float = 3.0, rest=REST):
    """Source poses [F, 66], trans [F, 3] at 120 fps and the 25 fps world joints [T, 22, 3] of a synthetic motion."""
    poses, trans = synthetic.motion_curves(kind, int(seconds * SRC_FPS), SRC_FPS, np.random.default_rng(seed))
    p25, t25 = af.resample_poses(poses, trans, SRC_FPS)
    return poses, trans, af.fk(p25, t25, rest, PARENTS)


def points(lines: np.ndarray) -> np.ndarray:
    """[T, 4S] -> [T, S, 2, 2]: per segment (start, end) points."""
    return lines.reshape(len(lines), -1, 2, 2)


@pytest.fixture(scope="module", params=[("walk", 1), ("run", 2), ("jump", 3), ("wave", 4)], ids=lambda p: p[0])
def clip(request):
    return motion(*request.param)


# ---------------------------------------------------------------------------------------------------------------
# joints3d: the canonical frame

def test_canonical_frame_floor_origin_and_facing(clip):
    _, _, world = clip
    j3 = canonical_joints(world)
    assert j3.shape == (len(world), 22, 3) and j3.dtype == np.float64
    assert np.min(j3[:, [layouts.L_ANKLE, layouts.R_ANKLE], 2]) == pytest.approx(0.0, abs=1e-12)
    pelvis0 = 0.5 * (j3[0, layouts.L_HIP] + j3[0, layouts.R_HIP])
    np.testing.assert_allclose(pelvis0[:2], 0.0, atol=1e-12)
    left0 = j3[0, layouts.L_HIP] - j3[0, layouts.R_HIP]
    assert left0[0] > 0.1 and abs(left0[1]) < 1e-12
    # Rigid: bone lengths are those of the world joints.
    bones = np.array(layouts.BONES)
    np.testing.assert_allclose(np.linalg.norm(j3[:, bones[:, 1]] - j3[:, bones[:, 0]], axis=-1),
                               np.linalg.norm(world[:, bones[:, 1]] - world[:, bones[:, 0]], axis=-1), atol=1e-12)


def test_walking_body_faces_minus_y_with_z_up_and_plus_z_with_y_up():
    _, _, world = motion("walk", 11)
    z_up, y_up = canonical_joints(world, up="z"), canonical_joints(world, up="y")
    travel_z = 0.5 * (z_up[-1, 1] + z_up[-1, 2]) - 0.5 * (z_up[0, 1] + z_up[0, 2])
    travel_y = 0.5 * (y_up[-1, 1] + y_up[-1, 2]) - 0.5 * (y_up[0, 1] + y_up[0, 2])
    assert travel_z[1] < -2.0 and abs(travel_z[0]) < 1.0      # 3 s at >= 1.1 m/s, forward = -y
    assert travel_y[2] > 2.0 and abs(travel_y[0]) < 1.0       # forward = +z
    assert np.min(y_up[:, [7, 8], 1]) == pytest.approx(0.0, abs=1e-12)   # floor at y = 0
    np.testing.assert_allclose(to_z_up(y_up, "y"), z_up, atol=1e-12)
    np.testing.assert_allclose(z_up_to(z_up, "y"), y_up, atol=1e-12)


def test_floor_uses_valid_frames_only():
    _, _, world = motion("jump", 5)
    padded = np.concatenate([world, world[-1:] - [0.0, 0.0, 0.5]])   # a bogus frame below the floor
    _, origin = clip_frame(padded, valid_length=len(world))
    assert origin[2] == pytest.approx(np.min(world[:, [7, 8], 2]), abs=1e-12)
    assert canonical_joints(padded)[:, [7, 8], 2].min() == pytest.approx(0.0, abs=1e-12)


def test_height_scale_is_one_number_per_clip():
    assert skeleton_height(REST) == pytest.approx(REST[15, 1] - 0.5 * (REST[7, 1] + REST[8, 1]))
    assert 1.4 < skeleton_height(REST) < 1.7                   # the built-in 1.70 m body, head joint below the top
    s = height_scale(REST)
    assert s * skeleton_height(REST) == pytest.approx(1.8)
    taller = REST * 1.25
    assert height_scale(taller) * skeleton_height(taller) == pytest.approx(1.8)
    _, _, world = motion("walk", 6)
    np.testing.assert_allclose(canonical_joints(world, scale=s), s * canonical_joints(world), atol=1e-12)
    with pytest.raises(ValueError, match="head is not above"):
        skeleton_height(-REST)


# ---------------------------------------------------------------------------------------------------------------
# stick5 and stick12 against the fused conversion

@pytest.mark.parametrize("view", ["front", "side", 30.0, 200.0])
def test_stick5_of_joints3d_equals_convert(clip, view):
    poses, trans, world = clip
    expected = af.convert(poses, trans, REST, PARENTS, SRC_FPS, view=view)
    got = stick5(project(canonical_joints(world), view_camera(view)))
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_stick12_connectivity_is_exact(clip):
    s = points(stick12(project(canonical_joints(clip[2]), Camera("perspective", 40.0, 15.0, 3.0))))
    assert s.shape[1] == 12
    shared = [(("head", 0), ("upper_torso", 0)),               # neck
              (("upper_torso", 1), ("lower_torso", 0)),         # chest
              (("l_upper_arm", 1), ("l_forearm", 0)), (("r_upper_arm", 1), ("r_forearm", 0)),   # elbows
              (("l_thigh", 1), ("l_shin", 0)), (("r_thigh", 1), ("r_shin", 0)),                 # knees
              (("l_thigh", 0), ("pelvis_width", 0)), (("r_thigh", 0), ("pelvis_width", 1))]     # hips
    for (a, ea), (b, eb) in shared:
        assert np.array_equal(s[:, SEG[a], ea], s[:, SEG[b], eb]), (a, b)
    midpoint = 0.5 * (s[:, SEG["pelvis_width"], 0] + s[:, SEG["pelvis_width"], 1])
    assert np.array_equal(s[:, SEG["lower_torso"], 1], midpoint)


@pytest.mark.parametrize("view", ["front", "yaw:135"])
def test_stick12_points_equal_stick5_points(clip, view):
    poses, trans, world = clip
    s5 = points(af.convert(poses, trans, REST, PARENTS, SRC_FPS, view=view))
    s12 = points(stick12(project(canonical_joints(world), view_camera(view))))
    pairs = [(("head", 1), (0, 0)), (("upper_torso", 1), (0, 1)), (("l_forearm", 1), (1, 1)),
             (("r_forearm", 1), (2, 1)), (("lower_torso", 1), (3, 0)), (("l_shin", 1), (3, 1)),
             (("r_shin", 1), (4, 1))]
    for (name, end), (line, end5) in pairs:
        np.testing.assert_allclose(s12[:, SEG[name], end], s5[:, line, end5], atol=1e-9, err_msg=name)


def test_front_view_is_upright_on_walking_data():
    for seed in range(3):
        s = points(stick12(project(canonical_joints(motion("walk", 20 + seed)[2]))))
        head, neck = s[:, SEG["head"], 1], s[:, SEG["head"], 0]
        chest, pelvis = s[:, SEG["upper_torso"], 1], s[:, SEG["lower_torso"], 1]
        knees = s[:, [SEG["l_shin"], SEG["r_shin"]], 0]
        ankles = s[:, [SEG["l_shin"], SEG["r_shin"]], 1]
        assert np.all(head[:, 1] > neck[:, 1]) and np.all(neck[:, 1] > chest[:, 1])
        assert np.all(chest[:, 1] > pelvis[:, 1] + 0.3)
        assert np.all(pelvis[:, 1] > knees[..., 1].max(axis=1)) and np.all(knees[..., 1] > ankles[..., 1])
        assert ankles[..., 1].min() == pytest.approx(0.0, abs=1e-12) and head[:, 1].min() > 1.3
        spine = head - pelvis
        assert np.degrees(np.arctan2(np.abs(spine[:, 0]), spine[:, 1])).max() < 15.0   # no per-frame rotation needed


def test_joints2d_schema_and_unknown_names():
    j2 = project(canonical_joints(motion("wave", 7)[2]))
    assert to_schema(j2, "joints2d").shape == (len(j2), 22, 2)
    assert to_schema(j2, "stick12").shape == (len(j2), 48) and to_schema(j2, "stick5").shape == (len(j2), 20)
    with pytest.raises(ValueError, match="stick12"):
        to_schema(j2, "stick7")
    with pytest.raises(ValueError, match=r"\[\.\.\., T, 22, 2\]"):
        stick12(j2[:, :20])


# ---------------------------------------------------------------------------------------------------------------
# physics

def test_physics_central_equals_finite_differences(clip):
    fps = 25.0
    m = stick12(project(canonical_joints(clip[2])))
    ph = physics(m, fps, "central")
    assert ph.shape == (len(m), 6)
    c = m.reshape(len(m), 24, 2).mean(axis=1)
    v = np.empty_like(c)
    v[1:-1] = (c[2:] - c[:-2]) * fps / 2
    v[0], v[-1] = (c[1] - c[0]) * fps, (c[-1] - c[-2]) * fps
    a = np.empty_like(v)
    a[1:-1] = (v[2:] - v[:-2]) * fps / 2
    a[0], a[-1] = (v[1] - v[0]) * fps, (v[-1] - v[-2]) * fps
    np.testing.assert_allclose(ph[:, 0:2], v, atol=1e-9)
    np.testing.assert_allclose(ph[:, 2:4], a, atol=1e-9)
    np.testing.assert_allclose(ph[:, 4:6], ph[:, 0:2], atol=0)       # unit mass: momentum = velocity


def test_physics_of_known_motion():
    fps, T = 25.0, 50
    t = np.arange(T) / fps
    base = stick12(project(canonical_joints(motion("idle", 8, seconds=2.0)[2])))[:T]
    shift = np.zeros_like(base)
    shift[:, 0::2] = (1.5 * t + 0.5 * 2.0 * t ** 2)[:, None]          # x += 1.5 t + a t^2 / 2 with a = 2 m/s^2
    diff = physics(base + shift, fps, "central") - physics(base, fps, "central")
    np.testing.assert_allclose(diff[1:-1, 0], 1.5 + 2.0 * t[1:-1], atol=1e-9)   # central: exact on a quadratic
    np.testing.assert_allclose(diff[2:-2, 2], 2.0, atol=1e-9)
    np.testing.assert_allclose(diff[:, [1, 3, 5]], 0.0, atol=1e-9)
    assert np.all(physics(base[:1], fps, "central") == 0.0)
    # stick-gen's backward differences: v[t] = x(t) - x(t - dt) over dt = 1.5 + 2 t - dt on a quadratic, a = 2
    # from frame 2 on; v[0] = a[0] = 0 and a[1] = v[1] / dt.
    diff = physics(base + shift, fps) - physics(base, fps)
    dt = 1.0 / fps
    np.testing.assert_allclose(diff[1:, 0], 1.5 + 2.0 * t[1:] - dt, atol=1e-9)
    np.testing.assert_allclose(diff[2:, 2], 2.0, atol=1e-7)
    np.testing.assert_allclose(diff[1, 2], diff[1, 0] / dt, atol=1e-7)
    assert np.all(diff[0] == 0.0)
    assert np.all(physics(base[:1], fps) == 0.0)


# ---------------------------------------------------------------------------------------------------------------
# Mirroring

@pytest.mark.parametrize("view", ["front", "side"])
def test_mirrored_stick5_is_x_negated_with_sides_swapped(clip, view):
    poses, trans, _ = clip
    original = af.convert(poses, trans, REST, PARENTS, SRC_FPS, view=view).reshape(-1, 5, 4)
    mp, mt = mirror_params(poses, trans)
    mirrored = af.convert(mp, mt, REST, PARENTS, SRC_FPS, view=view).reshape(-1, 5, 4)
    expected = original[:, [0, 2, 1, 4, 3]] * [-1.0, 1.0, -1.0, 1.0]
    if view == "front":
        np.testing.assert_allclose(mirrored, expected, atol=1e-9)
    else:  # side: yaw 90 turns the other way round the mirrored body, so the camera is on the other side
        assert not np.allclose(mirrored, expected, atol=1e-3)
        yaw270 = af.convert(mp, mt, REST, PARENTS, SRC_FPS, view="yaw:270").reshape(-1, 5, 4)
        np.testing.assert_allclose(yaw270, expected, atol=1e-9)


def test_mirroring_twice_is_the_identity():
    rng = np.random.default_rng(0)
    for width in (66, 72, 156, 165):
        poses, trans = rng.normal(size=(9, width)), rng.normal(size=(9, 3))
        once = mirror_params(poses, trans, rest_pelvis=[0.02, -0.2, 0.0])
        assert not np.allclose(once[0], poses)
        back = mirror_params(*once, rest_pelvis=[0.02, -0.2, 0.0])
        np.testing.assert_allclose(back[0], poses, atol=0)
        np.testing.assert_allclose(back[1], trans, atol=1e-15)
    j = rng.normal(size=(4, 22, 3))
    np.testing.assert_array_equal(mirror_joints(mirror_joints(j)), j)


@pytest.mark.parametrize("width,names", [(72, SMPL_JOINT_NAMES), (156, SMPLH_JOINT_NAMES), (165, SMPLX_JOINT_NAMES)])
def test_pose_pairs_follow_the_model_joint_names(width, names):
    from amass_fast.schemas.mirror import pose_permutation

    perm = pose_permutation(width)
    assert len(perm) == len(names) == width // 3
    for j, k in enumerate(perm):
        other = names[j].replace("left", "@").replace("right", "left").replace("@", "right")
        assert names[k] == other, (names[j], names[k])
    with pytest.raises(ValueError, match="values per frame"):
        mirror_params(np.zeros((2, 99)), np.zeros((2, 3)))


def test_mirrored_parameters_give_mirrored_joints_with_an_offset_pelvis():
    """FK of the mirrored parameters = the reflected joints with left and right swapped, also for a symmetric
    skeleton whose rest pelvis is off x = 0 (the trans correction)."""
    rest = REST + [0.05, 0.0, 0.0]
    poses, trans, world = motion("wave", 9, seconds=1.0, rest=rest)
    p25, t25 = af.resample_poses(poses, trans, SRC_FPS)
    mp, mt = mirror_params(p25, t25, rest_pelvis=rest[0])
    mirrored = af.fk(mp, mt, rest, PARENTS)
    np.testing.assert_allclose(mirrored, mirror_joints(world), atol=1e-9)
    # ... and joint-space mirroring keeps the canonical frame canonical.
    np.testing.assert_allclose(canonical_joints(mirrored), mirror_joints(canonical_joints(world)), atol=1e-9)


def test_mirror_text_swaps_left_and_right_words():
    text = "A person raises the left hand, turns Right and walks leftward; LEFT foot, counterclockwise. Bright."
    assert mirror_text(text) == ("A person raises the right hand, turns Left and walks rightward; RIGHT foot, "
                                 "clockwise. Bright.")
    assert mirror_text("steps to the right-hand side with the rightmost leg") == \
        "steps to the left-hand side with the leftmost leg"
    assert mirror_text("leftovers on the righteous plate") == "leftovers on the righteous plate"
    for t in (text, "left left right", "turns clockwise then counterclockwise"):
        assert mirror_text(mirror_text(t)) == t


# ---------------------------------------------------------------------------------------------------------------
# Cameras

def test_perspective_converges_to_orthographic(clip):
    j3 = canonical_joints(clip[2])
    ortho = project(j3, Camera("orthographic", 25.0, 20.0))
    errors = [np.abs(project(j3, Camera("perspective", 25.0, 20.0, d)) - ortho).max() for d in (3.0, 30.0, 3e3)]
    assert errors[0] > 0.05                                    # a close camera really is in perspective
    assert errors[1] < errors[0] / 5 and errors[2] < errors[1] / 50 and errors[2] < 1e-3


def test_perspective_keeps_the_target_plane_and_pixels_centre_the_target():
    cam = Camera("perspective", 0.0, 0.0, 4.0, 50.0, 1.0)
    j3 = canonical_joints(motion("idle", 3, seconds=0.5)[2])
    pelvis = 0.5 * (j3[:, 1] + j3[:, 2])
    # A point on the target plane (depth = distance) keeps its metric position.
    probe = j3.copy()
    probe[:, 15] = pelvis + [0.3, 0.0, 0.0]
    probe[:, 15, 2] = 1.4
    np.testing.assert_allclose(project(probe, cam)[:, 15], np.stack([pelvis[:, 0] + 0.3, np.full(len(j3), 1.4)], 1),
                               atol=1e-12)
    probe[:, 15] = [pelvis[0, 0], pelvis[0, 1], 1.0]           # the target itself at frame 0
    px = cameras.to_pixels(probe, cam, 640, 480)
    np.testing.assert_allclose(px[0, 15], [320.0, 240.0], atol=1e-9)
    K = cameras.intrinsics(cam, 640, 480)
    assert K[0, 0] == pytest.approx(50.0 / 36.0 * 640)
    farther = j3.copy()
    farther[:, 15] = pelvis + [0.3, 1.0, 0.0]                   # 1 m behind the target plane: appears smaller
    assert abs(project(farther, cam)[0, 15, 0] - pelvis[0, 0]) < 0.3
    with pytest.raises(ValueError, match="perspective"):
        cameras.to_pixels(j3, Camera(), 640, 480)


def test_camera_axes_and_elevation():
    right, up, forward = cameras.camera_axes(0.0, 0.0)
    np.testing.assert_allclose([right, up, forward], np.eye(3)[[0, 2, 1]], atol=1e-15)
    j3 = canonical_joints(motion("walk", 4, seconds=1.0)[2])
    top = project(j3, Camera(elevation_deg=90.0))              # from above: screen = canonical (x, y)
    np.testing.assert_allclose(top, j3[..., :2], atol=1e-12)
    assert view_camera("side") == Camera(yaw_deg=90.0)
    with pytest.raises(ValueError, match="top"):
        view_camera("top")
    with pytest.raises(ValueError, match="elevation"):
        Camera(elevation_deg=120.0)
    c = Camera("perspective", 10.0, 5.0, 6.0, 40.0, 0.9)
    assert Camera.unpack(c.packed()) == c


def test_random_cameras_are_deterministic_and_in_range():
    ranges = CameraRanges(yaw_deg=(-30.0, 30.0), distance_m=(5.0, 6.0))
    key = cameras.clip_key("CMU/07/07_01_poses.npz", 250)
    a = random_cameras(16, seed=7, kind="perspective", ranges=ranges, key=key)
    b = random_cameras(16, seed=7, kind="perspective", ranges=ranges, key=key)
    assert a == b
    assert a != random_cameras(16, seed=8, kind="perspective", ranges=ranges, key=key)
    assert a != random_cameras(16, seed=7, kind="perspective", ranges=ranges,
                               key=cameras.clip_key("CMU/07/07_01_poses.npz", 500))
    assert key == cameras.clip_key("CMU/07/07_01_poses.npz", 250) != cameras.clip_key("CMU/07/07_02_poses.npz", 250)
    assert all(-30 <= c.yaw_deg <= 30 and -10 <= c.elevation_deg <= 30 and 5 <= c.distance_m <= 6 and
               24 <= c.focal_mm <= 70 and c.target_height_m == 1.0 for c in a)
    assert len({round(c.yaw_deg, 6) for c in a}) == 16
    j3 = canonical_joints(motion("run", 2, seconds=1.0)[2])
    assert all(np.array_equal(project(j3, x), project(j3, y)) for x, y in zip(a, b))
    assert math.isclose(np.std([c.yaw_deg for c in random_cameras(2000, 1)]), 360 / math.sqrt(12), rel_tol=0.05)


# ---------------------------------------------------------------------------------------------------------------
# docs/SCHEMAS.md states what the code does

def test_schemas_doc_matches_the_code():
    import re
    from dataclasses import fields
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "SCHEMAS.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (.+)$", doc, re.M))
    code = " ".join(re.sub(r"\s*\n\s*#?\s*", " ", p.read_text(encoding="utf-8"))
                    for p in (root / "amass_fast").rglob("*.py"))
    cited = set(re.findall(r'docs/SCHEMAS\.md, "([^"]+)"', code))
    assert {"joints3d", "Cameras", "Mirroring", "Transforms"} <= cited <= headings
    rows = re.findall(r"^\| (\d+) \| (\w+) \| ", doc, re.M)
    assert [(int(i), name) for i, name in rows] == [(i, name) for i, (name, _, _) in enumerate(layouts.STICK12)]
    ranges = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|$", doc, re.M))
    for f in fields(CameraRanges):
        lo, hi = getattr(CameraRanges(), f.name)
        stated = [float(v.replace("−", "-")) for v in re.findall(r"−?\d+(?:\.\d+)?", ranges[f.name])]
        assert stated == ([lo, hi] if lo != hi else [lo]), f.name
    assert f"`NEAR_M` = {cameras.NEAR_M} m" in doc and f"{cameras.SENSOR_WIDTH_MM:g} mm sensor width" in doc
