"""The plain-torch pipeline of amass_fast.harness.baselines (the strongest alternative the benchmarks time) computes the
same clips as convert_batch: float64 within 1e-6 m of the float64 reference, on ragged batches with several rates,
padded tails and camera yaws."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from amass_fast.harness import baselines
from amass_fast import kernels
from amass_fast.kernels import reference  # noqa: E402
from amass_fast.process.clips import Skeletons  # noqa: E402


def _batch(rates=(120.0, 59.99999, 100.0, 250.0), seconds=(3.1, 0.7, 2.0, 1.3), seed=0):
    rng = np.random.default_rng(seed)
    poses, trans, offsets = [], [], [0]
    for fps, sec in zip(rates, seconds):
        n = int(sec * fps) + 1
        t = np.arange(n)[:, None] / fps
        p = 0.4 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6.3, (1, 66)))
        p[:, :3] = [np.pi / 2, 0.0, 0.3]
        poses.append(p)
        trans.append(np.concatenate([1.1 * t, 0.1 * np.sin(t), 0.9 + 0.03 * np.sin(5 * t)], axis=1))
        offsets.append(offsets[-1] + n)
    clip_seq, clip_start, clip_len = [], [], []
    window = 30
    for s, (fps, n) in enumerate(zip(rates, np.diff(offsets))):
        T = reference.resampled_length(int(n), fps, 25.0)
        for start in range(0, T, window):
            clip_seq.append(s), clip_start.append(start), clip_len.append(min(window, T - start))
    rest = Skeletons(None).rest_joints("neutral", "smplh", np.zeros(16))[:22]
    return dict(poses=np.concatenate(poses), trans=np.concatenate(trans), seq_offsets=np.array(offsets),
                seq_fps=np.array(rates), rest_joints=np.repeat(rest[None], len(rates), 0),
                clip_seq=np.array(clip_seq), clip_start=np.array(clip_start), clip_len=np.array(clip_len),
                clip_yaw=rng.uniform(-180, 180, len(clip_seq))), window


def test_torch_pipeline_equals_the_reference():
    b, window = _batch()
    ref = reference.convert_batch(b["poses"], b["trans"], b["seq_offsets"], b["seq_fps"], b["rest_joints"],
                                  reference.BODY_PARENTS, b["clip_seq"], b["clip_start"], b["clip_len"],
                                  b["clip_yaw"], window=window)
    out = baselines.torch_pipeline(**b, window=window).numpy()
    assert out.shape == ref.shape and np.abs(out - ref).max() < 1e-6
    assert (b["clip_len"] < window).any()  # padded tails are part of the comparison


def test_torch_pipeline_float32_matches_convert_batch():
    b, window = _batch(seed=1)
    b32 = {k: (v.astype(np.float32) if k in ("poses", "trans", "rest_joints") else v) for k, v in b.items()}
    ours = kernels.convert_batch(b32["poses"], b32["trans"], b["seq_offsets"], b["seq_fps"], b32["rest_joints"],
                                 reference.BODY_PARENTS, b["clip_seq"], b["clip_start"], b["clip_len"],
                                 b["clip_yaw"], window=window)
    out = baselines.torch_pipeline(**b32, window=window)
    assert out.dtype == torch.float32
    assert np.abs(out.numpy() - ours).max() < 1e-5


def test_bench_check_refuses_a_pipeline_that_differs():
    """The bench's equality check before timing passes the real pipeline and fails one that is off by 1e-4 m."""
    from amass_fast.harness import bench

    b, window = _batch(seed=2)
    plan = {k: b[k] for k in ("seq_offsets", "seq_fps", "clip_seq", "clip_start", "clip_len", "clip_yaw")}

    def convert(*args):
        return kernels.convert_batch(*args, window=250)

    def pipeline(*args, **kwargs):
        return baselines.torch_pipeline(*args, **kwargs)
    diff = bench.check_pipeline(pipeline, convert, plan, b["rest_joints"], b["poses"], b["trans"])
    assert 0 < diff <= bench.pipeline_tolerance(np.float32, b["trans"])
    with pytest.raises(RuntimeError, match="differs from convert_batch"):
        bench.check_pipeline(lambda *a, **k: pipeline(*a, **k) + 1e-4, convert, plan, b["rest_joints"], b["poses"],
                             b["trans"])


def test_pipeline_tolerance_grows_with_the_world_coordinates():
    assert bench_tol(np.float64, 1.0) == 1e-6
    assert bench_tol(np.float32, 1.0) < bench_tol(np.float32, 160.0) < 1e-4


def bench_tol(dtype, extent):
    from amass_fast.harness import bench

    return bench.pipeline_tolerance(dtype, np.array([[extent, 0.0, 0.0]]))


def test_both_stick5_variants_equal_the_reference():
    """The grouped, pruned posing (the default) and the per-frame-rest one give the same clips (float64, 1e-6 m)."""
    b, window = _batch(seed=3)
    ref = reference.convert_batch(b["poses"], b["trans"], b["seq_offsets"], b["seq_fps"], b["rest_joints"],
                                  reference.BODY_PARENTS, b["clip_seq"], b["clip_start"], b["clip_len"],
                                  b["clip_yaw"], window=window)
    for name, posing in baselines.POSINGS.items():
        out = baselines.torch_pipeline(**b, window=window, posing=posing).numpy()
        assert np.abs(out - ref).max() < 1e-6, name


def _distinct_rests(b, seed=4):
    """Each sequence its own skeleton (the grouped pipeline must not mix them up)."""
    rng = np.random.default_rng(seed)
    rest = b["rest_joints"] * (1.0 + 0.1 * rng.uniform(-1, 1, (len(b["seq_fps"]), 1, 1)))
    return dict(b, rest_joints=rest + rng.normal(0, 0.01, rest.shape))


def test_joints3d_pipeline_equals_the_reference_with_a_skeleton_per_sequence():
    b, window = _batch(seed=5)
    b = _distinct_rests(b)
    scale = np.random.default_rng(6).uniform(0.5, 1.5, len(b["clip_seq"]))
    ref = reference.convert_joints_batch(b["poses"], b["trans"], b["seq_offsets"], b["seq_fps"], b["rest_joints"],
                                         reference.BODY_PARENTS, b["clip_seq"], b["clip_start"], b["clip_len"],
                                         scale, np.zeros((len(scale), 6)), window=window)
    out = baselines.torch_joints3d_pipeline(**b, window=window, clip_scale=scale).numpy()
    assert out.shape == ref.shape == (len(scale), window, 22, 3)
    assert np.abs(out - ref).max() < 1e-6
    stick = reference.convert_batch(b["poses"], b["trans"], b["seq_offsets"], b["seq_fps"], b["rest_joints"],
                                    reference.BODY_PARENTS, b["clip_seq"], b["clip_start"], b["clip_len"],
                                    b["clip_yaw"], window=window)
    assert np.abs(baselines.torch_pipeline(**b, window=window).numpy() - stick).max() < 1e-6


def test_chain_plan_prunes_what_stick5_does_not_read():
    plan = baselines.chain_plan(reference.BODY_PARENTS, baselines.STICK5_JOINTS)
    assert sorted(plan["joints"]) == [j for j in range(22) if j not in (10, 11)]   # the feet are not read
    assert len(plan["rot"]) == 15 and not set(plan["rot"]) & {7, 8, 10, 11, 15, 20, 21}   # no leaf rotations


@pytest.mark.parametrize("J", [22, 52])
def test_plain_torch_fk_variants_equal_af_fk_with_gradients(J):
    """baselines.torch_fk and torch_fk_unrolled against af.fk in float64: joints within 1e-10 m, gradients of
    sum(joints * w) with respect to poses and trans within 1e-9."""
    from amass_fast.schemas.skeleton import SMPLH_PARENTS

    rng = np.random.default_rng(J)
    rest = torch.as_tensor(rng.normal(0, 0.2, (J, 3)))
    parents = SMPLH_PARENTS[:J]
    w = torch.as_tensor(rng.normal(size=(64, J, 3)))
    poses0 = rng.normal(0, 0.6, (64, 3 * J))
    poses0[0] = 0.0        # the zero pose: the series branch
    poses0[1, :3] = 1e-5
    trans0 = rng.normal(size=(64, 3))
    results = []
    for fn in (lambda p, t: kernels.fk(p, t, rest, torch.as_tensor(parents)),
               lambda p, t: baselines.torch_fk(p, t, rest, parents),
               lambda p, t: baselines.torch_fk_unrolled(p, t, rest, parents)):
        p = torch.tensor(poses0, requires_grad=True)
        t = torch.tensor(trans0, requires_grad=True)
        joints = fn(p, t)
        (joints * w).sum().backward()
        results.append((joints.detach(), p.grad, t.grad))
    for joints, gp, gt in results[1:]:
        assert (joints - results[0][0]).abs().max() < 1e-10
        assert (gp - results[0][1]).abs().max() < 1e-9 and (gt - results[0][2]).abs().max() < 1e-9


def test_bench_fk_check_refuses_wrong_gradients():
    """The FK check before timing passes af.fk's plain-torch twin and refuses one whose gradient is off (the
    joints equal, the backward scaled)."""
    from amass_fast.harness import bench
    from amass_fast.schemas.skeleton import SMPLH_PARENTS

    rng = np.random.default_rng(7)
    J, rest = 22, rng.normal(0, 0.2, (22, 3))
    poses, trans, w = rng.normal(0, 0.5, (32, 66)), rng.normal(size=(32, 3)), rng.normal(size=(32, J, 3))
    rest_t = torch.as_tensor(rest, dtype=torch.float32)
    good = lambda p, t: baselines.torch_fk(p, t, rest_t, SMPLH_PARENTS[:J])  # noqa: E731
    jd, gd = bench.check_fk(good, poses, trans, w, rest, "torch_fk")
    assert jd <= 1e-5 and gd <= bench.grad_tolerance(np.float32, w)

    def bad(p, t):
        joints = good(p, t)
        return joints + 0.01 * (joints - joints.detach())   # same values, gradient times 1.01
    with pytest.raises(RuntimeError, match="gradients by"):
        bench.check_fk(bad, poses, trans, w, rest, "bad")


def test_compiled_plain_torch_fk_takes_the_read_only_skeleton_table():
    """compiled_torch_fk on the first 22 parents of schemas.skeleton.SMPLH_PARENTS, as the bench passes them (a
    read-only view: torch.compile's numpy tracing refuses it inside the graph, so the plan is made before it), equals
    af.fk in float64 within 1e-12 m."""
    from amass_fast import kernels
    from amass_fast.schemas.skeleton import SMPLH_PARENTS

    BODY_PARENTS = SMPLH_PARENTS[:22]
    assert not BODY_PARENTS.flags.writeable and BODY_PARENTS.base is not None
    rng = np.random.default_rng(3)
    rest = torch.as_tensor(rng.normal(0, 0.2, (22, 3)))
    poses, trans = torch.as_tensor(rng.normal(0, 0.5, (16, 66))), torch.as_tensor(rng.normal(size=(16, 3)))
    joints = baselines.compiled_torch_fk(BODY_PARENTS)(poses, trans, rest)
    assert float((joints - kernels.fk(poses, trans, rest, torch.as_tensor(BODY_PARENTS))).abs().max()) <= 1e-12
