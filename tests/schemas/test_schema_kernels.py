"""The schemas in the compiled kernels: convert_batch(schema=joints3d | joints2d | stick12 | stick5 with cameras) on
every backend against the float64 specification of amass_fast.schemas (canonical_joints, project, stick12), the
grid shim against the OpenMP path, and convert(schema=, camera=, mirror=)."""
from __future__ import annotations

import numpy as np
import pytest

import amass_fast as af
from amass_fast import kernels
from amass_fast.kernels import prepared, reference
from amass_fast.harness import synthetic
from amass_fast.io.body_models import default_body_model
from amass_fast.schemas import Camera, canonical_joints, layouts, mirror_params, project, stick12

MODEL = default_body_model(warn=False)
REST, PARENTS = MODEL.rest_joints(), MODEL.parents
TOL = {np.float64: 1e-9, np.float32: 1e-5}
SEG = {name: i for i, (name, _, _) in enumerate(layouts.STICK12)}


def ragged_batch(seed: int = 3, frames=(130, 61, 1, 37), fps=(120.0, 59.99999, 30.0, 250.0), window: int = 13):
    """Sequences of odd lengths and rates, clips covering the odd cases (one frame, padding, one-frame sequence),
    a random packed camera (orthographic and perspective alternately) and scale per clip."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(frames)]).astype(np.int64)
    N = int(offsets[-1])
    batch = dict(poses=rng.normal(0.0, 0.3, (N, 156)), trans=rng.normal(0.0, 1.0, (N, 3)), seq_offsets=offsets,
                 seq_fps=np.asarray(fps, dtype=np.float64), rest_joints=rng.normal(0.0, 0.3, (len(frames), 52, 3)),
                 parents=np.r_[reference.BODY_PARENTS, rng.integers(0, 20, 30)])
    seqs, starts, lens = [], [], []
    for s, (F, f) in enumerate(zip(frames, fps)):
        T = reference.resampled_length(F, f, 25.0)
        for start in range(0, T, window):
            seqs.append(s), starts.append(start), lens.append(min(window, T - start))
        seqs.append(s), starts.append(T - 1), lens.append(1)
    C = len(seqs)
    cams = np.stack([Camera("perspective" if c % 2 else "orthographic", rng.uniform(-180, 180), rng.uniform(-10, 30),
                            rng.uniform(3, 8), 35.0, rng.uniform(0.8, 1.2)).packed() for c in range(C)])
    batch.update(clip_seq=np.array(seqs), clip_start=np.array(starts), clip_len=np.array(lens))
    return batch, window, cams, rng.uniform(0.8, 1.2, C)


def specification(batch: dict, window: int, cams: np.ndarray, scale: np.ndarray, schema: str, up: str = "z"):
    """What amass_fast.schemas says, clip by clip: resample, fk, canonical_joints, project; padding repeats."""
    out = []
    for c, s in enumerate(batch["clip_seq"]):
        a, e = batch["seq_offsets"][s], batch["seq_offsets"][s + 1]
        p, t = reference.resample_poses(batch["poses"][a:e, :66], batch["trans"][a:e], batch["seq_fps"][s], 25.0)
        k0, n = batch["clip_start"][c], batch["clip_len"][c]
        world = reference.fk(p[k0:k0 + n], t[k0:k0 + n], batch["rest_joints"][s, :22], reference.BODY_PARENTS)
        j3 = canonical_joints(world, up=up if schema == "joints3d" else "z", scale=scale[c])
        j3 = np.concatenate([j3, np.repeat(j3[-1:], window - n, axis=0)])
        out.append(j3 if schema == "joints3d" else project(j3, Camera.unpack(cams[c])))
    return np.stack(out)


def run(batch, window, backend, dtype, **kwargs):
    floats = ("poses", "trans", "rest_joints")
    b = {k: np.asarray(v, dtype=dtype) if k in floats else v for k, v in batch.items()}
    return kernels.convert_batch(**b, window=window, backend=backend, **kwargs)


@pytest.mark.parametrize("schema,up", [("joints3d", "z"), ("joints3d", "y"), ("joints2d", "z")])
def test_every_backend_against_the_specification(backend, dtype, schema, up):
    batch, window, cams, scale = ragged_batch()
    want = specification(batch, window, cams, scale, schema, up)
    got = run(batch, window, backend, dtype, schema=schema, up=up, clip_scale=scale,
              cameras=None if schema == "joints3d" else cams)
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL[dtype])


@pytest.mark.parametrize("block_size", [1, 7, 32, 128])
def test_gridshim_equals_cpp(dtype, block_size):
    core = pytest.importorskip("amass_fast._core")
    batch, window, cams, scale = ragged_batch(seed=4)
    b = {k: np.ascontiguousarray(v, dtype=dtype) if k in ("poses", "trans", "rest_joints") else v
         for k, v in batch.items()}
    C = len(b["clip_seq"])
    for up, dim in ((0, 3), (1, 3), (0, 2)):
        outs = []
        for shim in (0, block_size):
            out = np.full((C, window, 22, dim), np.nan, dtype=dtype)
            clips = prepared.ClipBatch(**{k: b[k] for k in prepared.ClipBatch._fields[:9]}, dst_fps=25.0,
                                       window=window)
            record = prepared.JointsBatch(None, clips, scale, cams, up, "joints3d" if dim == 3 else "joints2d", out)
            core.convert_joints_batch_gridshim(record, block_size=shim) if shim else core.convert_joints_batch(record)
            outs.append(out)
        assert np.all(np.isfinite(outs[0]))
        np.testing.assert_array_equal(outs[1], outs[0])


def test_stick5_through_front_cameras_equals_stick5_and_padding_holds(backend):
    batch, window, _, _ = ragged_batch(seed=5)
    yaw = np.random.default_rng(0).uniform(-180, 180, len(batch["clip_seq"]))
    want = run(batch, window, backend, np.float64, clip_yaw=yaw)                      # the stick5 kernel
    cams = np.tile(Camera().packed(), (len(yaw), 1))
    cams[:, 1] = yaw
    via_cameras = run(batch, window, backend, np.float64, clip_yaw=yaw, cameras=cams)
    via_yaw = run(batch, window, backend, np.float64, clip_yaw=yaw, schema="joints2d")
    np.testing.assert_allclose(via_cameras, want, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(kernels.lines_from_joints2d(via_yaw, "stick5"), via_cameras)
    for c, n in enumerate(batch["clip_len"]):   # padding: the last valid frame, exactly
        assert np.array_equal(via_yaw[c, n:], np.broadcast_to(via_yaw[c, n - 1], via_yaw[c, n:].shape))


def test_stick12_is_joints2d_gathered_and_shares_points_with_stick5():
    batch, window, cams, _ = ragged_batch(seed=6)
    j2 = run(batch, window, "auto", np.float32, schema="joints2d", cameras=cams)
    s12 = run(batch, window, "auto", np.float32, schema="stick12", cameras=cams)
    s5 = run(batch, window, "auto", np.float32, schema="stick5", cameras=cams)
    assert s12.shape == (len(cams), window, 48) and s12.dtype == np.float32
    np.testing.assert_allclose(s12, stick12(j2), rtol=0, atol=1e-6)    # the float64 layout, to float32 rounding
    seg = s12.reshape(*s12.shape[:2], 12, 2, 2)
    p5 = s5.reshape(*s5.shape[:2], 5, 2, 2)
    assert np.array_equal(seg[..., SEG["head"], 0, :], seg[..., SEG["upper_torso"], 0, :])          # neck
    assert np.array_equal(seg[..., SEG["upper_torso"], 1, :], seg[..., SEG["lower_torso"], 0, :])   # chest
    assert np.array_equal(seg[..., SEG["lower_torso"], 1, :], 0.5 * (seg[..., SEG["pelvis_width"], 0, :]
                                                                       + seg[..., SEG["pelvis_width"], 1, :]))
    assert np.array_equal(seg[..., SEG["head"], 1, :], p5[..., 0, 0, :])             # head
    assert np.array_equal(seg[..., SEG["upper_torso"], 1, :], p5[..., 0, 1, :])      # chest = stick5 neck
    assert np.array_equal(seg[..., SEG["l_forearm"], 1, :], p5[..., 1, 1, :])        # wrists
    assert np.array_equal(seg[..., SEG["r_forearm"], 1, :], p5[..., 2, 1, :])
    assert np.array_equal(seg[..., SEG["lower_torso"], 1, :], p5[..., 3, 0, :])      # pelvis
    assert np.array_equal(seg[..., SEG["l_shin"], 1, :], p5[..., 3, 1, :])           # ankles
    assert np.array_equal(seg[..., SEG["r_shin"], 1, :], p5[..., 4, 1, :])


def walk(seed: int = 1, seconds: float = 3.0):
    return synthetic.motion_curves("walk", int(seconds * 120), 120.0, np.random.default_rng(seed))


def test_convert_schemas_and_shapes(backend):
    poses, trans = walk()
    T = reference.resampled_length(len(poses), 120.0, 25.0)
    shapes = {"stick5": (T, 20), "stick12": (T, 48), "joints2d": (T, 22, 2), "joints3d": (T, 22, 3)}
    for schema, shape in shapes.items():
        assert af.convert(poses, trans, REST, PARENTS, 120.0, schema=schema, backend=backend).shape == shape
    default = af.convert(poses, trans, REST, PARENTS, 120.0, backend=backend)
    front = af.convert(poses, trans, REST, PARENTS, 120.0, schema="stick5", camera=Camera(), backend=backend)
    np.testing.assert_allclose(front, default, rtol=0, atol=1e-5)
    # the front view of a walk is upright: head over chest over pelvis over ankles, floor at 0
    s = af.convert(poses, trans, REST, PARENTS, 120.0, schema="stick12", backend=backend).reshape(T, 12, 2, 2)
    head, chest, pelvis = s[:, SEG["head"], 1, 1], s[:, SEG["upper_torso"], 1, 1], s[:, SEG["lower_torso"], 1, 1]
    ankles = s[:, [SEG["l_shin"], SEG["r_shin"]], 1, 1]
    assert np.all(head > chest) and np.all(chest > pelvis + 0.3) and np.all(pelvis[:, None] > ankles)
    assert ankles.min() == pytest.approx(0.0, abs=1e-5)
    # joints3d with y up and a canonical scale, as the specification
    j3 = af.convert(poses, trans, REST, PARENTS, 120.0, schema="joints3d", up="y", scale=2.0, backend=backend)
    ref = canonical_joints(af.fk(*af.resample_poses(poses, trans, 120.0), REST, PARENTS), up="y", scale=2.0)
    np.testing.assert_allclose(j3, ref, rtol=0, atol=1e-5)


def test_convert_mirror_is_the_mirrored_front_view():
    poses, trans = walk(seed=2)
    original = af.convert(poses, trans, REST, PARENTS, 120.0)
    mirrored = af.convert(poses, trans, REST, PARENTS, 120.0, mirror=True)
    lines = original.reshape(len(original), 5, 4).copy()
    lines[:, :, [0, 2]] *= -1.0
    lines = lines[:, [0, 2, 1, 4, 3]]          # head, r_arm <-> l_arm, r_leg <-> l_leg
    np.testing.assert_allclose(mirrored, lines.reshape(len(lines), 20), rtol=0, atol=1e-5)
    # mirror_params here equals the schemas' float64 one, and twice is the identity
    p, t = kernels.mirror_params(poses, trans, REST[0])
    want_p, want_t = mirror_params(poses, trans, REST[0])
    np.testing.assert_array_equal(p, want_p)
    np.testing.assert_array_equal(t, want_t)
    p2, t2 = kernels.mirror_params(p, t, REST[0])
    np.testing.assert_array_equal(p2, poses[:, :66])
    np.testing.assert_array_equal(t2, trans)


def test_perspective_far_away_converges_to_orthographic():
    poses, trans = walk(seed=3)
    ortho = af.convert(poses, trans, REST, PARENTS, 120.0, schema="joints2d", camera=Camera(yaw_deg=30))
    errors = [np.abs(af.convert(poses, trans, REST, PARENTS, 120.0, schema="joints2d",
                                camera=Camera("perspective", yaw_deg=30, distance_m=d)) - ortho).max()
              for d in (10.0, 100.0, 1000.0)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 5e-3 and errors[0] > 1e-2


def test_bad_arguments_name_what_is_wrong():
    batch, window, cams, _ = ragged_batch(seed=7)
    C = len(cams)
    with pytest.raises(ValueError, match="schema must be one of"):
        run(batch, window, "auto", np.float32, schema="stick7")
    with pytest.raises(ValueError, match="joints3d is the canonical 3D frame"):
        run(batch, window, "auto", np.float32, schema="joints3d", cameras=cams)
    with pytest.raises(ValueError, match="top"):
        run(batch, window, "auto", np.float32, schema="stick12", top=True)
    with pytest.raises(ValueError, match="up must be one of"):
        run(batch, window, "auto", np.float32, schema="joints3d", up="x")
    bad = cams.copy()
    bad[2, 2] = 120.0
    with pytest.raises(ValueError, match=r"cameras\[2\]"):
        run(batch, window, "auto", np.float32, schema="joints2d", cameras=bad)
    with pytest.raises(ValueError, match="cameras"):
        run(batch, window, "auto", np.float32, schema="joints2d", cameras=cams[:, :5])
    with pytest.raises(ValueError, match="clip_scale"):
        run(batch, window, "auto", np.float32, schema="joints3d", clip_scale=-np.ones(C))
    with pytest.raises(ValueError, match="clip_scale applies"):
        run(batch, window, "auto", np.float32, clip_scale=np.ones(C))
    out = np.empty((C, window, 48), dtype=np.float32)
    assert run(batch, window, "auto", np.float32, schema="stick12", cameras=cams, out=out) is out
    with pytest.raises(ValueError, match="out"):
        run(batch, window, "auto", np.float32, schema="stick12", out=np.empty((C, window, 20), np.float32))


def test_cuda_branch_on_host(cuda_on_host):
    """The cuda branch's plumbing (argument names, scratch shapes, device copies) through the stand-in of
    tests/conftest.py (cuda_on_host: skips where torch, _core or _cuda is missing), computing with the grid shim."""
    torch, stand_in = cuda_on_host
    batch, window, cams, scale = ragged_batch(seed=8)
    for schema in ("joints3d", "joints2d", "stick12"):
        kw = dict(schema=schema, clip_scale=scale, cameras=None if schema == "joints3d" else cams)
        want = run(batch, window, "cpp", np.float32, **kw)
        tensors = {k: torch.from_numpy(np.asarray(v, np.float32)) if k in ("poses", "trans", "rest_joints")
                   else v for k, v in batch.items()}
        got = kernels.convert_batch(**tensors, window=window, backend="cuda", **kw)
        assert isinstance(got, torch.Tensor)
        np.testing.assert_array_equal(got.numpy(), want)
    assert stand_in.calls.count("convert_joints_batch") == 3


@pytest.mark.cuda
@pytest.mark.parametrize("schema", ["joints3d", "joints2d", "stick12"])
def test_cuda_schemas_match_cpp(dtype, schema):
    """The CUDA kernels of the schema op on a GPU (run with `pytest -m cuda` or benches/gpu_check.sh)."""
    torch = pytest.importorskip("torch")
    if "cuda" not in kernels.available_backends():
        pytest.skip("no GPU or amass_fast._cuda not built")
    batch, window, cams, scale = ragged_batch(seed=5)
    kw = dict(schema=schema, clip_scale=scale, **({} if schema == "joints3d" else {"cameras": cams}))
    want = run(batch, window, "cpp", dtype, **kw)
    floats = ("poses", "trans", "rest_joints")
    gpu = {k: torch.from_numpy(np.asarray(v, dtype=dtype) if k in floats else v).cuda()
           if isinstance(v, np.ndarray) else v for k, v in batch.items()}
    got = kernels.convert_batch(**gpu, window=window, backend="cuda", **kw)
    assert got.is_cuda
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=0, atol=TOL[dtype])
