"""Every backend against smplx (the ground truth for joints) and the float64 reference.

Models are synthetic smplx-compatible files with few vertices (smplx's forward is slow at real sizes). Tolerances:
joints <= 1e-5 m in float32 (smplx computes in float32 too); float64 identities <= 1e-9; resampling against the
reference <= 1e-5 in float32 and 1e-9 in float64.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from amass_fast.kernels import reference as ref
from amass_fast.io.body_models import load_body_model
from amass_fast.harness.synthetic_models import write_model

torch = pytest.importorskip("torch")
smplx = pytest.importorskip("smplx")
Rotation = pytest.importorskip("scipy.spatial.transform").Rotation

NUM_VERTICES = 400
TOL32 = 1e-5
FPS_CASES = (59.99999, 60.0, 100.0, 120.0, 150.0, 250.0)


def _backends() -> list[str]:
    from amass_fast import kernels

    return list(kernels.available_backends())


BACKENDS = _backends()


def _api(backend: str) -> SimpleNamespace:
    """fk / resample_poses / convert for one backend, NumPy in and out (CUDA inputs are moved to the GPU)."""
    from amass_fast import kernels

    def move(a):
        return torch.as_tensor(np.ascontiguousarray(a)).cuda() if backend == "cuda" else a

    def back(a):
        return a.cpu().numpy() if torch.is_tensor(a) else np.asarray(a)

    return SimpleNamespace(
        fk=lambda p, t, r, par: back(kernels.fk(move(p), move(t), r, par, backend=backend)),
        resample_poses=lambda p, t, src, dst=25.0: tuple(
            back(a) for a in kernels.resample_poses(move(p), move(t), src, dst, backend=backend)),
        convert=lambda p, t, r, par, fps, view="front": back(
            kernels.convert(move(p), move(t), r, par, fps, view=view, backend=backend)),
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    paths = {"smplh": write_model(root / "SMPLH_MALE.npz", "smplh", num_vertices=NUM_VERTICES, seed=1),
             "smplx": write_model(root / "SMPLX_NEUTRAL.npz", "smplx", num_vertices=NUM_VERTICES, seed=2)}
    return paths


def _smplx_model(path, kind: str, batch: int):
    cls = smplx.SMPLH if kind == "smplh" else smplx.SMPLX
    model = cls(str(path), ext="npz", use_pca=False, flat_hand_mean=True, num_betas=10, batch_size=batch)
    # smplx appends joints read off fixed vertex ids (up to 9929) that a small synthetic mesh lacks; we compare the
    # kinematic joints only, so drop those extra picks.
    model.vertex_joint_selector.extra_joints_idxs = torch.zeros(0, dtype=torch.long)
    return model


def smplx_joints(path, kind: str, poses: np.ndarray, trans: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """smplx's kinematic joints [F, 52|55, 3] for AMASS-layout poses (SMPL+H 156 / SMPL-X 165 values)."""
    F = len(poses)
    model = _smplx_model(path, kind, F)
    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    args = dict(betas=t(np.repeat(betas[None, :10], F, 0)), global_orient=t(poses[:, :3]),
                body_pose=t(poses[:, 3:66]), transl=t(trans))
    if kind == "smplh":
        args.update(left_hand_pose=t(poses[:, 66:111]), right_hand_pose=t(poses[:, 111:156]))
        num_joints = 52
    else:
        args.update(jaw_pose=t(poses[:, 66:69]), leye_pose=t(poses[:, 69:72]), reye_pose=t(poses[:, 72:75]),
                    left_hand_pose=t(poses[:, 75:120]), right_hand_pose=t(poses[:, 120:165]),
                    expression=torch.zeros(F, 10))
        num_joints = 55
    with torch.no_grad():
        return model(**args).joints[:, :num_joints].double().numpy()


def random_motion(rng, F: int, P: int, max_angle: float = 2.5):
    """Random axis-angle poses (angles up to max_angle rad), translations around 1 m, 10 betas."""
    axes = rng.normal(size=(F, P // 3, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    poses = (axes * rng.uniform(0, max_angle, (F, P // 3, 1))).reshape(F, P)
    return poses, rng.normal(0.0, 1.0, (F, 3)), rng.normal(0.0, 1.0, 10)


# ---------------------------------------------------------------------------------------------------------------
# fk

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,P", [("smplh", 156), ("smplx", 165)])
def test_fk_matches_smplx_float32(models, backend, kind, P):
    rng = np.random.default_rng(10)
    poses, trans, betas = random_motion(rng, 8, P)
    expected = smplx_joints(models[kind], kind, poses, trans, betas)
    rest = load_body_model(models[kind]).rest_joints(betas)
    api = _api(backend)
    got = api.fk(poses.astype(np.float32), trans.astype(np.float32), rest, load_body_model(models[kind]).parents)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.abs(got - expected).max() <= TOL32


@pytest.mark.parametrize("backend", BACKENDS)
def test_fk_float32_matches_float64_reference(models, backend):
    rng = np.random.default_rng(11)
    model = load_body_model(models["smplh"])
    poses, trans, betas = random_motion(rng, 16, 156, max_angle=math.pi)
    rest = model.rest_joints(betas)
    expected = ref.fk(poses, trans, rest, model.parents)
    got = _api(backend).fk(poses.astype(np.float32), trans.astype(np.float32), rest, model.parents)
    assert np.abs(got - expected).max() <= TOL32
    got64 = _api(backend).fk(poses, trans, rest, model.parents)
    assert got64.dtype == np.float64 and np.abs(got64 - expected).max() <= 1e-9


def test_reference_fk_matches_smplx_in_float64(models):
    """The spec itself against smplx run in float64: agreement to rounding, not just to float32."""
    rng = np.random.default_rng(12)
    poses, trans, betas = random_motion(rng, 4, 156)
    model = smplx.SMPLH(str(models["smplh"]), ext="npz", use_pca=False, flat_hand_mean=True, num_betas=10,
                        batch_size=4, dtype=torch.float64)
    model.vertex_joint_selector.extra_joints_idxs = torch.zeros(0, dtype=torch.long)
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    with torch.no_grad():
        expected = model(betas=t(np.repeat(betas[None], 4, 0)), global_orient=t(poses[:, :3]),
                         body_pose=t(poses[:, 3:66]), left_hand_pose=t(poses[:, 66:111]),
                         right_hand_pose=t(poses[:, 111:156]), transl=t(trans)).joints[:, :52].numpy()
    ours = load_body_model(models["smplh"])
    got = ref.fk(poses, trans, ours.rest_joints(betas), ours.parents)
    assert np.abs(got - expected).max() <= 1e-7   # smplx's Rodrigues adds 1e-8 to the axis before the norm


# ---------------------------------------------------------------------------------------------------------------
# resample_poses

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fps", FPS_CASES)
def test_resample_matches_reference(backend, fps):
    rng = np.random.default_rng(int(fps))
    F = int(fps * 1.5) + 3
    poses, trans, _ = random_motion(rng, F, 66, max_angle=3.0)
    exp_p, exp_t = ref.resample_poses(poses, trans, fps)
    T = ref.resampled_length(F, fps, 25.0)
    assert len(exp_p) == T == math.floor((F - 1) / fps * 25.0 + 1e-6) + 1
    api = _api(backend)
    got_p, got_t = api.resample_poses(poses, trans, fps)
    assert got_p.shape == exp_p.shape and got_t.shape == exp_t.shape
    # Compare rotations, not axis-angle numbers: near angle pi the two encodings of one rotation differ in sign.
    rot = lambda p: Rotation.from_rotvec(p.reshape(-1, 3)).as_matrix()  # noqa: E731
    assert np.abs(rot(got_p) - rot(exp_p)).max() <= 1e-9
    assert np.abs(got_t - exp_t).max() <= 1e-9
    got_p32, got_t32 = api.resample_poses(poses.astype(np.float32), trans.astype(np.float32), fps)
    assert got_p32.dtype == np.float32
    assert np.abs(rot(got_p32.astype(np.float64)) - rot(exp_p)).max() <= TOL32
    assert np.abs(got_t32 - exp_t).max() <= TOL32


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fps", FPS_CASES)
def test_resample_does_not_drift(backend, fps):
    """A motion whose root angle and x translation are linear in the source frame index: every output frame k must
    sit at source position k * fps / 25 exactly (slerp about a fixed axis and lerp are exact on such a motion),
    including the last one, after ~8 minutes of frames."""
    F = int(500 * fps) if backend != "reference" else int(60 * fps)
    w = 2.0 / F   # rad per source frame: keeps the angle below pi
    i = np.arange(F, dtype=np.float64)
    poses = np.zeros((F, 3))
    poses[:, 2] = w * i
    trans = np.zeros((F, 3))
    trans[:, 0] = 1e-3 * i
    out_p, out_t = _api(backend).resample_poses(poses, trans, fps)
    T = ref.resampled_length(F, fps, 25.0)
    assert len(out_p) == T
    k = np.arange(T)
    position = k * fps / 25.0
    assert position[-1] <= F - 1 + 1e-6 and (T * fps / 25.0) > F - 1     # last frame at (T-1)/25 s is inside
    assert np.abs(out_p[:, 2] / w - position).max() <= 1e-6                 # in source frames
    assert np.abs(out_t[:, 0] / 1e-3 - position).max() <= 1e-6


# ---------------------------------------------------------------------------------------------------------------
# convert: resample -> FK -> projection

def upright_motion(rng, F: int, P: int = 156, wobble: float = 0.2):
    """AMASS Z-up: root aa = (pi/2, 0, 0) stands an SMPL body up, facing -Y; small random joint motion."""
    poses = rng.normal(0.0, wobble, (F, P))
    poses[:, :3] = [math.pi / 2, 0.0, 0.0]
    trans = np.cumsum(rng.normal(0.0, 0.01, (F, 3)), axis=0) + [0.0, 0.0, 1.0]
    return poses, trans


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("view", ["front", "side", "top", 30.0])
def test_convert_equals_reference_resample_smplx_project(models, backend, view):
    rng = np.random.default_rng(20)
    fps, F = 120.0, 61
    poses, trans = upright_motion(rng, F)
    betas = rng.normal(0.0, 1.0, 10)
    rs_p, rs_t = ref.resample_poses(poses, trans, fps)
    joints = smplx_joints(models["smplh"], "smplh", rs_p, rs_t, betas)
    top, yaw = (True, 0.0) if view == "top" else (False, {"front": 0.0, "side": 90.0}.get(view, view))
    expected = ref.project(joints, yaw, ref.VIEW_TOP if top else ref.VIEW_FRONT)
    model = load_body_model(models["smplh"])
    got = _api(backend).convert(poses.astype(np.float32), trans.astype(np.float32), model.rest_joints(betas),
                                model.parents, fps, view=view)
    assert got.shape == (ref.resampled_length(F, fps, 25.0), 20)
    assert np.abs(got - expected).max() <= TOL32


def _rotate_about_z(poses, trans, rest_root, phi):
    """The same motion turned by phi about the world vertical: root orientation and pelvis path rotated."""
    Rz = Rotation.from_rotvec([0.0, 0.0, phi])
    out_p = poses.copy()
    out_p[:, :3] = (Rz * Rotation.from_rotvec(poses[:, :3])).as_rotvec()
    return out_p, Rz.apply(trans + rest_root) - rest_root


@pytest.mark.parametrize("backend", BACKENDS)
def test_front_view_invariant_to_turning_and_moving(models, backend):
    rng = np.random.default_rng(21)
    model = load_body_model(models["smplh"])
    rest = model.rest_joints(rng.normal(0.0, 1.0, 10))
    poses, trans = upright_motion(rng, 40)
    api = _api(backend)
    base = api.convert(poses, trans, rest, model.parents, 60.0)
    turned = api.convert(*_rotate_about_z(poses, trans, rest[0], 1.1), rest, model.parents, 60.0)
    moved = api.convert(poses, trans + [3.0, -2.0, 0.5], rest, model.parents, 60.0)
    assert np.abs(turned - base).max() <= 1e-9
    assert np.abs(moved - base).max() <= 1e-9


@pytest.mark.parametrize("backend", BACKENDS)
def test_upright_figure_facing_camera(models, backend):
    """Standing still in the rest pose: head above pelvis; the left wrist (line 1 end) on screen right, the right
    wrist (line 2 end) on screen left; the lowest ankle at y = 0 and the pelvis at x = 0."""
    model = load_body_model(models["smplh"])
    poses, trans = np.zeros((30, 156)), np.zeros((30, 3))
    poses[:, :3] = [math.pi / 2, 0.0, 0.0]
    sticks = _api(backend).convert(poses, trans, model.J_template, model.parents, 30.0)
    head_y, pelvis_x, pelvis_y = sticks[:, 1], sticks[:, 12], sticks[:, 13]
    assert np.all(head_y > pelvis_y + 0.3)
    assert np.all(sticks[:, 6] > 0.5) and np.all(sticks[:, 10] < -0.5)    # wrists at arm's length, T-pose
    assert np.abs(pelvis_x).max() <= 1e-9
    assert abs(min(sticks[:, 15].min(), sticks[:, 19].min())) <= 1e-9     # ankles' y


# ---------------------------------------------------------------------------------------------------------------
# `amass-fast bench` (structure only: no speed assertions in tests)

def test_bench_quick_json(capsys):
    import json

    from amass_fast.cli import main

    assert main(["bench", "--quick", "--json", "--frames", "240"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["threads"] == 1 and report["frames"] == 240 and report["quick"] is True
    rows = report["results"]
    names = {(r["name"].split(" (")[0], r["backend"]) for r in rows}
    assert {("smplx forward smplh", "torch"), ("smplx forward smplx", "torch"), ("torch FK 52 joints", "torch"),
            ("torch FK 22 joints", "torch")} <= names
    for backend in BACKENDS:
        if backend != "cuda":
            assert ("fk 52 joints", backend) in names
            assert ("convert_batch smplh 120->25 stick5", backend) in names
    assert sum(r["baseline"] for r in rows) == 1
    for r in rows:
        assert r["frames"] > 0
        assert isinstance(r["frames_per_s"], float) and r["frames_per_s"] > 0
        assert isinstance(r["ratio_to_smplx"], float) and r["ratio_to_smplx"] > 0
    for t in report["targets"]:
        assert t["ratio"] > 0 and t["target"] > 0 and isinstance(t["met"], bool)
    # The honest peer: the torch pipeline (eager; compiled is left out of --quick with a reason) and the ratios.
    assert ("torch pipeline eager 120->25 stick5", "torch") in names
    assert any(s["name"] == "torch pipeline compiled" and "quick" in s["reason"] for s in report["skipped"])
    ratios = {r["name"]: r["ratio"] for r in report["ratios"]}
    assert set(ratios) == {f"convert_batch {b} / torch pipeline eager 120->25 stick5" for b in ("cpp", "numba")
                           if b in BACKENDS}
    fps = {(r["name"], r["backend"]): r["frames_per_s"] for r in rows}
    for b in ("cpp", "numba"):
        if b in BACKENDS:
            want = fps[("convert_batch smplh 120->25 stick5", b)] / fps[("torch pipeline eager 120->25 stick5", "torch")]
            assert ratios[f"convert_batch {b} / torch pipeline eager 120->25 stick5"] == pytest.approx(want)
