"""The torch custom ops (amass_fast.kernels.torch_ops): af.fk and af.convert_batch on tensors run them; a small model that
calls both (its losses differentiate through fk and through convert_batch's joints3d / joints2d) compiles with
torch.compile(fullgraph=True) (no graph break), gives the eager numbers and gradients (forward and backward),
and exports with torch.export; torch.library.opcheck checks the ops' schemas, fake kernels and autograd
registration. NumPy callers do not go through them."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import amass_fast as af  # noqa: E402
from amass_fast.kernels import reference, torch_ops  # noqa: E402
from amass_fast.schemas.cameras import Camera  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")

PARENTS = reference.BODY_PARENTS.copy()


def clips():
    """Two sequences (60 and 30 fps) and three clips over them: convert_batch's index arguments."""
    frames, fps = np.array([48, 20]), np.array([60.0, 30.0])
    T = [reference.resampled_length(int(F), f, 25.0) for F, f in zip(frames, fps)]
    return dict(seq_offsets=np.concatenate([[0], np.cumsum(frames)]), seq_fps=fps, clip_seq=np.array([0, 0, 1]),
                clip_start=np.array([0, 5, 0]), clip_len=np.array([8, T[0] - 5, T[1]]), window=max(T))


class MotionModel(torch.nn.Module):
    """A motion model's geometric losses: predicted SMPL poses -> FK joints, and the clips' joints3d/2d."""

    def __init__(self, frames: int):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.head = torch.nn.Linear(6, 69, dtype=torch.float64)
        self.register_buffer("rest", torch.randn(22, 3, generator=g, dtype=torch.float64) * 0.3)
        self.register_buffer("rests", torch.randn(2, 22, 3, generator=g, dtype=torch.float64) * 0.3)
        self.register_buffer("parents", torch.as_tensor(PARENTS))
        self.index = {k: torch.as_tensor(v) for k, v in clips().items() if k != "window"}
        self.window = clips()["window"]
        self.register_buffer("camera", torch.as_tensor(Camera(kind="perspective", yaw_deg=30.0, elevation_deg=10.0).packed()))
        # A learned correction of the motion: the joints3d / joints2d losses train it through convert_batch.
        self.motion_delta = torch.nn.Parameter(torch.zeros(int(clips()["seq_offsets"][-1]), 69, dtype=torch.float64))

    def forward(self, x, motion_poses, motion_trans):
        y = self.head(x)
        joints = af.fk(y[:, :66], y[:, 66:], self.rest, self.parents)
        i = self.index
        idx = (i["seq_offsets"], i["seq_fps"], self.rests, self.parents, i["clip_seq"], i["clip_start"], i["clip_len"])
        pred_poses = motion_poses + self.motion_delta[:, :66]
        pred_trans = motion_trans + self.motion_delta[:, 66:]
        j3 = af.convert_batch(pred_poses, pred_trans, *idx, window=self.window, schema="joints3d")
        j2 = af.convert_batch(pred_poses, pred_trans, *idx, window=self.window, schema="joints2d", cameras=self.camera)
        sticks = af.convert_batch(motion_poses, motion_trans, *idx, window=self.window)  # stick5 by yaw: no backward
        return joints.square().mean() + j3.square().mean() + j2.square().mean() + sticks.mean(), joints, j3, j2, sticks


def model_inputs():
    g = torch.Generator().manual_seed(1)
    N = int(clips()["seq_offsets"][-1])
    return (torch.randn(16, 6, generator=g, dtype=torch.float64),
            torch.randn(N, 66, generator=g, dtype=torch.float64) * 0.4,
            torch.randn(N, 3, generator=g, dtype=torch.float64))


def test_tensors_run_the_ops_and_numpy_does_not():
    m, x = MotionModel(16), model_inputs()
    _, joints, j3, j2, sticks = m(*x)
    i = clips()
    want = af.convert_batch(x[1].numpy(), x[2].numpy(), i["seq_offsets"], i["seq_fps"], m.rests.numpy(), PARENTS,
                            i["clip_seq"], i["clip_start"], i["clip_len"], window=i["window"], schema="joints3d")
    assert isinstance(want, np.ndarray)
    np.testing.assert_array_equal(j3.detach().numpy(), want)
    assert joints.shape == (16, 22, 3) and j2.shape == (3, i["window"], 22, 2) and sticks.shape == (3, i["window"], 20)
    assert isinstance(af.fk(np.zeros((2, 66)), np.zeros((2, 3)), np.zeros((22, 3)), PARENTS), np.ndarray)


def test_compile_fullgraph_matches_eager_with_gradients():
    torch._dynamo.reset()
    m, x = MotionModel(16), model_inputs()
    want = m(*x)
    want[0].backward()
    want_grad, want_delta = m.head.weight.grad.clone(), m.motion_delta.grad.clone()
    assert want_delta[:, :66].abs().sum() > 0 and want_delta[:, 66:].abs().sum() > 0  # through convert_batch
    m.head.weight.grad = m.motion_delta.grad = None
    compiled = torch.compile(m, fullgraph=True)  # fullgraph: any graph break raises
    got = compiled(*x)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    got[0].backward()
    torch.testing.assert_close(m.head.weight.grad, want_grad, rtol=0, atol=1e-12)
    torch.testing.assert_close(m.motion_delta.grad, want_delta, rtol=0, atol=1e-12)


def test_export_sees_the_ops():
    m, x = MotionModel(16), model_inputs()
    exported = torch.export.export(m, x)
    code = exported.graph_module.code
    for op in ("amass_fast.fk", "amass_fast.convert_batch", "amass_fast.convert_joints_batch"):
        assert f"torch.ops.{op}.default" in code, op
    # The exported module trains: its gradients are the eager model's (the ops' autograd goes with them).
    em = exported.module()
    em(*x)[0].backward()
    m(*x)[0].backward()
    torch.testing.assert_close(dict(em.named_parameters())["motion_delta"].grad, m.motion_delta.grad, rtol=0,
                               atol=1e-12)
    for a, b in zip(exported.module()(*x), m(*x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_opcheck():
    """Schemas, fake (meta) kernels against the real ones, and autograd registration (torch.library.opcheck)."""
    g = torch.Generator().manual_seed(2)
    poses, trans = torch.randn(5, 69, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g)
    rest, parents = torch.randn(22, 3, generator=g), torch.as_tensor(PARENTS)
    torch.library.opcheck(torch_ops.fk_op, (poses.requires_grad_(), trans, rest, parents, "auto"))
    grad = torch.randn(5, 22, 3, generator=g, dtype=torch.float64)
    torch.library.opcheck(torch_ops.fk_backward_op, (grad, poses.detach(), trans, rest, parents, "auto", True),
                          test_utils=("test_schema", "test_faketensor"))
    i = {k: torch.as_tensor(v) for k, v in clips().items() if k != "window"}
    N = int(i["seq_offsets"][-1])
    src = (torch.randn(N, 66, generator=g), torch.randn(N, 3, generator=g), i["seq_offsets"], i["seq_fps"],
           torch.randn(2, 22, 3, generator=g), parents, i["clip_seq"], i["clip_start"], i["clip_len"], None)
    W = clips()["window"]
    torch.library.opcheck(torch_ops.convert_batch_op, src + (None, 25.0, W, False, "auto"))
    torch.library.opcheck(torch_ops.convert_joints_batch_op, src + (None, None, 25.0, W, False, "joints3d", "y",
                                                                    "auto"))
    diff = (src[0].double().requires_grad_(), src[1].double().requires_grad_()) + src[2:]
    cams = torch.as_tensor(Camera(kind="perspective", yaw_deg=30.0).packed())
    torch.library.opcheck(torch_ops.convert_joints_batch_op, diff + (cams, None, 25.0, W, False, "joints2d", "z",
                                                                     "auto"))
    grad = torch.randn(3, W, 22, 2, generator=g, dtype=torch.float64)
    torch.library.opcheck(torch_ops.convert_joints_batch_backward_op,
                          (grad, src[0].double(), src[1].double()) + src[2:] + (cams, None, 25.0, W, False,
                                                                                "joints2d", "z", "auto"),
                          test_utils=("test_schema", "test_faketensor"))
