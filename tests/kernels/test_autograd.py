"""fk's analytic backward (csrc/amass_math.h fk_frame_backward, reference.fk_backward, numba fk_backward_loop)
through the torch op: torch.autograd.gradcheck in float64 for every backend (reference, numba, cpp, and the CUDA
kernel run on the host by the grid shim), on generic poses and poses in the small-angle branch; float32 gradients
against float64; a loss through af.fk trains (nothing is detached).

Tolerances: gradcheck's finite differences (eps 1e-6) agree to atol 1e-5 / rtol 1e-4 in float64; the backends'
float64 gradients agree with the reference to 1e-9; float32 gradients are within 2e-4 (times the largest
gradient) of float64 ones for poses of unit scale."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from amass_fast import kernels
from amass_fast.kernels import reference  # noqa: E402

HAVE = kernels.available_backends()
GRIDSHIM_BLOCK = 7  # threads per block of the grid shim (grad_backend: tests/kernels/conftest.py)


def skeleton(num_joints: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    extra = [int(rng.integers(0, j)) for j in range(22, num_joints)]
    return np.concatenate([reference.BODY_PARENTS, np.array(extra, dtype=np.int64)])[:num_joints]


def inputs(frames: int, joints: int, scale: float, seed: int = 1, dtype=torch.float64):
    """poses [F, 3J + 3] (extra columns: their gradient is zero), trans [F, 3], rest [J, 3], all requiring grad."""
    g = torch.Generator().manual_seed(seed)
    poses = (torch.randn(frames, 3 * joints + 3, generator=g, dtype=torch.float64) * scale).to(dtype)
    trans = torch.randn(frames, 3, generator=g, dtype=torch.float64).to(dtype)
    rest = (torch.randn(joints, 3, generator=g, dtype=torch.float64) * 0.3).to(dtype)
    return [x.requires_grad_(True) for x in (poses, trans, rest)]


@pytest.mark.parametrize("scale, joints", [(0.7, 24), (2e-6, 22), (0.0, 5)],
                         ids=["generic-24", "small-angle-22", "zero-5"])
def test_fk_gradcheck(grad_backend, scale, joints):
    """Generic poses; poses far below the small-angle switch (1e-4 rad, with gradcheck's 1e-6 steps on them);
    the zero pose."""
    parents = skeleton(joints)
    poses, trans, rest = inputs(3, joints, scale)
    if scale == 2e-6:  # one joint generic, so the chain above the small rotations is not the identity
        poses.data[:, 3:6] = 0.5
    fn = lambda p, t, r: kernels.fk(p, t, r, parents, backend=grad_backend)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (poses, trans, rest), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_fk_gradcheck_near_the_small_angle_switch(grad_backend):
    """Rotations of 1e-4 rad +- 3e-6: finite differences straddle the switch between series and closed form."""
    parents = skeleton(22)
    poses, trans, rest = inputs(2, 22, 1.0)
    with torch.no_grad():
        poses.mul_(1e-4 / poses.reshape(2, -1, 3).norm(dim=-1).repeat_interleave(3, dim=1)
                   [:, :poses.shape[1]].clamp_min(1e-12))
        poses[:, :6] += 3e-6
    fn = lambda p, t, r: kernels.fk(p, t, r, parents, backend=grad_backend)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (poses, trans, rest), eps=1e-7, atol=1e-5, rtol=1e-4)


def grads(backend: str, dtype, joints: int = 52, frames: int = 64, scale: float = 1.0):
    parents = skeleton(joints)
    poses, trans, rest = inputs(frames, joints, scale, seed=4, dtype=dtype)
    w = torch.randn(frames, joints, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64).to(dtype)
    (kernels.fk(poses, trans, rest, parents, backend=backend) * w).sum().backward()
    return [x.grad.double() for x in (poses, trans, rest)]


def test_backends_agree_with_reference_in_float64(grad_backend):
    want = grads("reference", torch.float64, frames=8)
    for got, ref in zip(grads(grad_backend, torch.float64, frames=8), want):
        torch.testing.assert_close(got, ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", [b for b in ("numba", "cpp") if b in HAVE])
def test_float32_gradients_near_float64(name):
    for got, want in zip(grads(name, torch.float32), grads(name, torch.float64)):
        assert got.dtype == torch.float64  # (compared in float64)
        err = (got - want).abs().max() / want.abs().max()
        assert err < 2e-4, f"{name}: float32 gradient off by {err:.2e} of the largest"


def test_loss_through_fk_trains():
    """The gradient reaches a model's parameters (it is not detached) and one step lowers a joint loss."""
    torch.manual_seed(0)
    parents, rest = skeleton(22), torch.randn(22, 3, dtype=torch.float64) * 0.3
    head = torch.nn.Linear(4, 69, dtype=torch.float64)
    x = torch.randn(32, 4, dtype=torch.float64)
    target = kernels.fk(torch.randn(32, 66, dtype=torch.float64) * 0.3, torch.zeros(32, 3, dtype=torch.float64),
                        rest, parents)

    def loss():
        y = head(x)
        return ((kernels.fk(y[:, :66], y[:, 66:], rest, parents) - target) ** 2).mean()

    before = loss()
    before.backward()
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    with torch.no_grad():
        for p in head.parameters():
            p -= 0.05 * p.grad
    assert loss() < before


def test_second_derivative_is_refused():
    """create_graph=True gives the exact first derivatives; differentiating them again (fk's second derivative,
    not built) raises instead of returning a wrong zero."""
    parents = skeleton(22)
    poses, trans, rest = inputs(2, 22, 0.5)
    g, = torch.autograd.grad(kernels.fk(poses, trans, rest, parents).sum(), poses, create_graph=True)
    torch.testing.assert_close(g, torch.autograd.grad(kernels.fk(poses, trans, rest, parents).sum(), poses)[0])
    with pytest.raises(RuntimeError, match="second derivative"):
        g.sum().backward()


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_gradients_match_cpp(dtype):
    """On a GPU: fk's backward kernel on CUDA tensors gives cpp's gradients (float64 within 1e-9; float32 within
    1e-4 of the largest gradient)."""
    if "cuda" not in HAVE or "cpp" not in HAVE:
        pytest.skip("no GPU or amass_fast._cuda not built")
    want = grads("cpp", dtype, frames=256)
    parents = skeleton(52)
    poses, trans, rest = (x.detach().cuda().requires_grad_(True) for x in inputs(256, 52, 1.0, seed=4, dtype=dtype))
    w = torch.randn(256, 52, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64).to(dtype).cuda()
    out = kernels.fk(poses, trans, rest, parents)
    assert out.is_cuda
    (out * w).sum().backward()
    for got, ref in zip((poses.grad, trans.grad, rest.grad), want):
        err = (got.double().cpu() - ref).abs().max() / ref.abs().max()
        assert err < (1e-4 if dtype == torch.float32 else 1e-9), f"fk {dtype}: cuda gradient off by {err:.2e}"
