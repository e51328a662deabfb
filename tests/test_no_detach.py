"""A torch tensor that requires grad is never detached silently: where an op has no backward for an argument, the
call is refused with a message naming the argument; under torch.no_grad() (or with .detach()) it runs as before."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from amass_fast import kernels
from amass_fast.kernels import reference  # noqa: E402
from amass_fast.schemas.cameras import Camera  # noqa: E402


def batch(dtype=torch.float64) -> dict:
    """convert_batch's keyword arguments for two short sequences (torch float tensors, NumPy index arrays)."""
    rng = np.random.default_rng(3)
    frames, fps = (40, 12), (60.0, 30.0)
    offsets = np.concatenate([[0], np.cumsum(frames)]).astype(np.int64)
    N = int(offsets[-1])
    T = [reference.resampled_length(F, f, 25.0) for F, f in zip(frames, fps)]
    return dict(poses=torch.tensor(rng.normal(0, 0.4, (N, 66)), dtype=dtype),
                trans=torch.tensor(rng.normal(0, 1, (N, 3)), dtype=dtype), seq_offsets=offsets,
                seq_fps=np.array(fps), rest_joints=torch.tensor(rng.normal(0, 0.3, (2, 22, 3)), dtype=dtype),
                parents=reference.BODY_PARENTS.copy(), clip_seq=np.array([0, 1]), clip_start=np.array([0, 0]),
                clip_len=np.array([T[0], T[1]]), clip_yaw=np.array([0.0, 30.0]), window=max(T))


def grad_of(args: dict, name: str) -> dict:
    args = dict(args)
    args[name] = torch.as_tensor(args[name], dtype=torch.float64).clone().requires_grad_(True)
    return args


@pytest.mark.parametrize("name", ["poses", "trans", "rest_joints", "clip_yaw"])
def test_convert_batch_stick5_refuses_grad(name):
    with pytest.raises(ValueError, match=rf"convert_batch: `{name}` requires grad.*{name}\.detach\(\)"):
        kernels.convert_batch(**grad_of(batch(), name), backend="cpp" if "cpp" in kernels.available_backends()
                              else "reference")


def test_convert_batch_cameras_and_scale_refuse_grad():
    args = batch()
    cams = torch.tensor(Camera(yaw_deg=20.0).packed(), requires_grad=True)
    with pytest.raises(ValueError, match=r"`cameras` requires grad"):
        kernels.convert_batch(**args, schema="joints2d", cameras=cams)
    with pytest.raises(ValueError, match=r"`clip_scale` requires grad"):
        kernels.convert_batch(**args, schema="joints3d", clip_scale=torch.ones(2, requires_grad=True))


def test_resample_project_convert_refuse_grad():
    args = batch()
    poses = args["poses"][:40].clone().requires_grad_(True)
    with pytest.raises(ValueError, match=r"resample_poses: `poses` requires grad"):
        kernels.resample_poses(poses, args["trans"][:40], 60.0)
    joints = torch.zeros((5, 22, 3), dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match=r"project: `joints` requires grad"):
        kernels.project(joints)
    with pytest.raises(ValueError, match=r"convert_batch: `poses` requires grad"):
        kernels.convert(poses, args["trans"][:40], args["rest_joints"][0], args["parents"], 60.0)


def test_no_grad_and_detach_still_run():
    """Not recording (torch.no_grad) or a detached tensor: the same numbers as a tensor that never required grad."""
    args = batch()
    want = kernels.convert_batch(**args)
    with torch.no_grad():
        got = kernels.convert_batch(**grad_of(args, "poses"))
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    detached = grad_of(args, "trans")
    detached["trans"] = detached["trans"].detach()
    torch.testing.assert_close(kernels.convert_batch(**detached), want, rtol=0, atol=0)
