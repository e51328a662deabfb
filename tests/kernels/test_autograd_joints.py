"""The joint schemas' analytic backward (csrc/amass_math.h clip_schema_backward_item / clip_joints_backward_item /
scatter_rows_item, reference.convert_joints_batch_backward, numba convert_joints_batch_backward_loop) through the
torch op amass_fast::convert_joints_batch: torch.autograd.gradcheck in float64 for every backend (reference, numba,
cpp, and the CUDA kernels run on the host by the grid shim), for joints3d (up z and y, with clip scales), joints2d
(orthographic and perspective cameras) and stick12 through cameras, on generic poses, poses in and around the
small-angle branch, and source frames far apart (slerp's trigonometric branch, and quaternions on opposite
hemispheres); float32 gradients against float64; arguments without a backward are refused.

gradcheck runs on the outputs projected onto 6 fixed random directions (the whole Jacobian would take one
backward pass per output element); the reference and numba, slow per call, in gradcheck's fast mode.

Tolerances: gradcheck's central differences (eps 1e-6; 1e-7 around the 1e-4 rad switch) agree to atol 1e-5 /
rtol 1e-4 in float64; the backends' float64 gradients agree with the reference's to 1e-9; float32 gradients are
within 1e-3 (times the largest gradient) of float64 ones for poses of unit scale."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from amass_fast import kernels
from amass_fast.kernels import reference  # noqa: E402
from amass_fast.schemas.cameras import Camera  # noqa: E402

HAVE = kernels.available_backends()
GRIDSHIM_BLOCK = 5  # threads per block of the grid shim (grad_backend: tests/kernels/conftest.py)


# Two sequences at 30 and 20 fps resampled to 25 fps (output frames between source frames: slerp; frame 0 on a
# source frame: no slerp), three clips, two of them over the same source rows, windows longer than the clips
# (padding frames repeat the last valid one).
FRAMES, FPS = (6, 5), (30.0, 20.0)
INDEX = dict(seq_offsets=np.array([0, 6, 11]), seq_fps=np.array(FPS), parents=reference.BODY_PARENTS.copy(),
             clip_seq=np.array([0, 1, 0]), clip_start=np.array([0, 1, 1]), clip_len=np.array([4, 3, 3]))
WINDOW = 5
CAMERAS = np.stack([Camera(kind="perspective", yaw_deg=30.0, elevation_deg=20.0, distance_m=4.0).packed(),
                    Camera(kind="orthographic", yaw_deg=-20.0, elevation_deg=10.0).packed(),
                    Camera(kind="perspective", yaw_deg=100.0, elevation_deg=-15.0, distance_m=2.5,
                           target_height_m=1.1).packed()])
SCHEMAS = {
    "joints3d-z-scaled": dict(schema="joints3d", clip_scale=np.array([1.0, 1.2, 0.9])),
    "joints3d-y": dict(schema="joints3d", up="y"),
    "joints2d-ortho": dict(schema="joints2d", cameras=Camera(kind="orthographic", yaw_deg=40.0).packed()),
    "joints2d-cameras": dict(schema="joints2d", cameras=CAMERAS),
    "stick12-cameras": dict(schema="stick12", cameras=CAMERAS),
}


def rest(seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.2, (2, 22, 3))


def motion(kind: str, dtype=torch.float64, seed: int = 1):
    """poses [11, 69] (3 extra columns: zero gradient) and trans [11, 3], requiring grad.
    generic: unit-scale rotations; small: 2e-6 rad (one joint generic, so that the chain is not the identity);
    switch: 1e-4 rad +- 3e-6 (finite differences straddle the series / closed-form switch); far: consecutive
    frames far apart (slerp's trigonometric branch and quaternions on opposite hemispheres)."""
    rng = np.random.default_rng(seed)
    N = sum(FRAMES)
    poses = rng.normal(0, 1, (N, 69))
    if kind == "generic":
        poses *= 0.5
    elif kind == "small":
        poses *= 2e-6
        poses[:, 3:6] = 0.5
    elif kind == "switch":
        aa = poses.reshape(N, 23, 3)
        aa *= 1e-4 / np.linalg.norm(aa, axis=-1, keepdims=True)
        poses = aa.reshape(N, 69)
        poses[:, :6] += 3e-6
    elif kind == "far":
        poses *= 1.6
    trans = rng.normal(0, 0.3, (N, 3))
    return (torch.tensor(poses, dtype=dtype).requires_grad_(True),
            torch.tensor(trans, dtype=dtype).requires_grad_(True))


def call(backend: str, schema: str):
    kw = SCHEMAS[schema]
    return lambda p, t: kernels.convert_batch(p, t, rest_joints=rest(), **INDEX, window=WINDOW, backend=backend,
                                              **kw)


def projected(fn, outputs: int = 6):
    """fn's output [C, window, ...] times a fixed random matrix [size, outputs]: gradcheck then checks the full
    Jacobian with respect to every input along `outputs` random output directions (one backward pass each),
    instead of one backward pass per output element."""
    def g(p, t):
        y = fn(p, t).reshape(-1)
        m = torch.randn(y.shape[0], outputs, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
        return y @ m.to(y.dtype)
    return g


def slerp_pairs(poses: np.ndarray) -> np.ndarray:
    """Quaternion dot products q0 . q1 of every (joint, output frame) the clips slerp between two source rows."""
    dots = []
    for c in range(3):
        s = int(INDEX["clip_seq"][c])
        a = int(INDEX["seq_offsets"][s])
        for k in range(int(INDEX["clip_len"][c])):
            i0, i1, alpha = reference.source_position(int(INDEX["clip_start"][c]) + k, FRAMES[s], FPS[s], 25.0)
            if alpha:
                dots += [reference.aa_to_quat(poses[a + i0, 3 * j:3 * j + 3]) @
                         reference.aa_to_quat(poses[a + i1, 3 * j:3 * j + 3]) for j in range(22)]
    return np.array(dots)


def test_the_cases_reach_the_branches():
    """The "far" motion takes slerp's trigonometric branch, with negative dot products too; the others the series;
    the "small" and "switch" motions have rotations on both sides of the 1e-4 rad switch."""
    far = np.abs(slerp_pairs(motion("far")[0].detach().numpy()))
    assert (far < reference.SLERP_SERIES_DOT).sum() > 20
    assert (slerp_pairs(motion("far")[0].detach().numpy()) < 0).sum() > 5
    assert np.abs(slerp_pairs(motion("generic")[0].detach().numpy())).min() >= 0.0
    switch = np.linalg.norm(motion("switch")[0].detach().numpy()[:, :66].reshape(-1, 22, 3), axis=-1)
    assert (switch < reference.SMALL_ANGLE).any() and (switch > reference.SMALL_ANGLE).any()


@pytest.mark.parametrize("schema", list(SCHEMAS))
@pytest.mark.parametrize("kind", ["generic", "small", "switch", "far"])
def test_gradcheck(grad_backend, schema, kind):
    """cpp and the grid shim: the full Jacobian along 6 random output directions; the float64 reference and numba
    (slow per call: Python loops, a thread pool start) in gradcheck's fast mode (random directions on both sides);
    both also agree with cpp's numbers through test_backends_agree_with_reference_in_float64."""
    poses, trans = motion(kind)
    eps = 1e-7 if kind == "switch" else 1e-6
    assert torch.autograd.gradcheck(projected(call(grad_backend, schema)), (poses, trans), eps=eps, atol=1e-5,
                                    rtol=1e-4, fast_mode=grad_backend in ("reference", "numba"))


def grads(backend: str, schema: str, kind: str, dtype=torch.float64):
    poses, trans = motion(kind, dtype)
    out = call(backend, schema)(poses, trans)
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64).to(out.dtype)
    (out * w).sum().backward()
    return [x.grad.double() for x in (poses, trans)]


@pytest.mark.parametrize("schema", list(SCHEMAS))
def test_backends_agree_with_reference_in_float64(grad_backend, schema):
    if grad_backend == "reference":
        pytest.skip("the reference itself")
    for kind in ("generic", "far"):
        for got, want in zip(grads(grad_backend, schema, kind), grads("reference", schema, kind)):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", [b for b in ("numba", "cpp") if b in HAVE])
@pytest.mark.parametrize("schema", ["joints3d-z-scaled", "joints2d-cameras"])
def test_float32_gradients_near_float64(name, schema):
    for kind in ("generic", "far"):
        for got, want in zip(grads(name, schema, kind, torch.float32), grads(name, schema, kind)):
            err = (got - want).abs().max() / want.abs().max()
            assert err < 1e-3, f"{name} {schema} {kind}: float32 gradient off by {err:.2e} of the largest"


def test_extra_pose_columns_and_unused_rows_get_zero_gradient():
    poses, trans = motion("generic")
    call("cpp" if "cpp" in HAVE else "reference", "joints3d-y")(poses, trans).sum().backward()
    assert poses.grad[:, 66:].abs().max() == 0
    used = poses.grad[:, :66].abs().sum(1) > 0
    assert used.any() and trans.grad.abs().sum() > 0


def test_loss_through_convert_batch_trains():
    """A joints2d loss reaches a model's parameters through convert_batch and one step lowers it."""
    torch.manual_seed(0)
    head = torch.nn.Linear(4, 69, dtype=torch.float64)
    x = torch.randn(sum(FRAMES), 4, dtype=torch.float64)
    target = call("auto", "joints2d-cameras")(motion("generic")[0].detach(), motion("generic")[1].detach())

    def loss():
        y = head(x)
        return ((call("auto", "joints2d-cameras")(y[:, :66], y[:, 66:]) - target) ** 2).mean()

    before = loss()
    before.backward()
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    with torch.no_grad():
        for p in head.parameters():
            p -= 0.05 * p.grad
    assert loss() < before


@pytest.mark.parametrize("name", ["rest_joints", "cameras", "clip_scale"])
def test_arguments_without_a_backward_are_refused(name):
    poses, trans = motion("generic")
    kw = dict(rest_joints=torch.tensor(rest()), **INDEX, window=WINDOW, schema="joints2d",
              cameras=torch.tensor(CAMERAS), clip_scale=torch.ones(3, dtype=torch.float64))
    kw[name] = kw[name].clone().requires_grad_(True)
    with pytest.raises(ValueError, match=rf"convert_batch: `{name}` requires grad"):
        kernels.convert_batch(poses, trans, **kw)


def test_stick5_by_yaw_still_refuses_poses():
    poses, trans = motion("generic")
    with pytest.raises(ValueError, match=r"convert_batch: `poses` requires grad"):
        kernels.convert_batch(poses, trans, rest_joints=rest(), **INDEX, window=WINDOW)


def test_second_derivative_is_refused():
    poses, trans = motion("generic")
    g, = torch.autograd.grad(call("auto", "joints3d-y")(poses, trans).sum(), poses, create_graph=True)
    with pytest.raises(RuntimeError, match="second derivative"):
        g.sum().backward()


@pytest.mark.cuda
@pytest.mark.parametrize("schema", ["joints3d-z-scaled", "joints2d-cameras", "stick12-cameras"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_gradients_match_cpp(schema, dtype):
    """On a GPU: CUDA tensors (backend cuda: the kernels and their atomic scatter) give cpp's outputs and gradients
    (float64 within 1e-9; float32 within 1e-4 of the largest gradient)."""
    if "cuda" not in HAVE or "cpp" not in HAVE:
        pytest.skip("no GPU or amass_fast._cuda not built")
    want = grads("cpp", schema, "generic", dtype)
    poses, trans = motion("generic", dtype)
    gp, gt = (x.detach().cuda().requires_grad_(True) for x in (poses, trans))
    out = call("cuda", schema)(gp, gt)
    assert out.is_cuda
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64).to(out.dtype)
    (out * w.cuda()).sum().backward()
    for got, ref in zip((gp.grad, gt.grad), want):
        err = (got.double().cpu() - ref).abs().max() / ref.abs().max()
        assert err < (1e-4 if dtype == torch.float32 else 1e-9), f"{schema} {dtype}: cuda gradient off by {err:.2e}"
