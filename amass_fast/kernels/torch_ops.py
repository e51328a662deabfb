"""torch custom ops (torch.library) behind amass_fast.kernels for torch tensors: fk, convert_batch and
convert_joints_batch, with fake (meta) implementations, so that torch.compile(fullgraph=True) traces a model that
calls them without a graph break and torch.export sees them as ops; fk and convert_joints_batch have analytic
backwards (autograd).

    amass_fast::fk(poses, trans, rest_joints, parents, backend) -> joints [F, J, 3]            (differentiable)
    amass_fast::fk_backward(grad, poses, trans, rest_joints, parents, backend, with_rest)
        -> (grad_poses [F, P], grad_trans [F, 3], grad_rest [J, 3])
    amass_fast::convert_batch(...) -> stick5 [C, window, 20]                                  (no backward)
    amass_fast::convert_joints_batch(...) -> joints3d [C, window, 22, 3] / joints2d [C, window, 22, 2]
                                                                       (differentiable w.r.t. poses, trans)
    amass_fast::convert_joints_batch_backward(grad, ...) -> (grad_poses [N, P], grad_trans [N, 3])

Call them through amass_fast.kernels (af.fk, af.convert_batch), which routes torch tensors here and NumPy arrays
straight to the backends, as before. The ops wrap the same backends from Python (prepared checks, then the
backend's adapter): the compiled extension does not link libtorch. Where an op has no backward, a tensor that
requires grad is refused (amass_fast.kernels.prepared.no_grad_needed), never detached. docs/TORCH.md.

Importing this module imports torch and registers the ops (once per process).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from amass_fast.kernels.backends import adapter
from amass_fast.kernels import prepared
from amass_fast.kernels.reference import NUM_BODY_JOINTS, STICK_DIM


def _out_dtype(poses: Tensor) -> torch.dtype:
    """The compute dtype of a call (prepared.place): float64 stays, other floats compute in float32."""
    return torch.float64 if poses.dtype == torch.float64 else torch.float32


def _result(place: prepared.Placement, a) -> Tensor:
    """A backend's output as a torch tensor on the caller's device (the ops' results are tensors)."""
    out = place.result(a)
    return out if isinstance(out, Tensor) else torch.from_numpy(np.ascontiguousarray(out))


# ---------------------------------------------------------------------------------------------------------------
# fk, with its backward.

@torch.library.custom_op("amass_fast::fk", mutates_args=())
def fk_op(poses: Tensor, trans: Tensor, rest_joints: Tensor, parents: Tensor, backend: str) -> Tensor:
    """kernels.fk of tensors (prepared checks, then the backend)."""
    p = prepared.fk(poses.detach(), trans.detach(), rest_joints.detach(), parents, backend)
    adapter(p.place.backend).fk(p)
    return _result(p.place, p.out)


@fk_op.register_fake
def _(poses, trans, rest_joints, parents, backend):
    return poses.new_empty((poses.shape[0], rest_joints.shape[0], 3), dtype=_out_dtype(poses))


@torch.library.custom_op("amass_fast::fk_backward", mutates_args=())
def fk_backward_op(grad: Tensor, poses: Tensor, trans: Tensor, rest_joints: Tensor, parents: Tensor, backend: str,
                   with_rest: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """fk's gradients: grad [F, J, 3] -> (grad_poses [F, P], grad_trans [F, 3], grad_rest [J, 3]; zeros unless
    with_rest), in fk's compute dtype."""
    p = prepared.fk_backward(poses.detach(), trans.detach(), rest_joints.detach(), parents, grad, backend, with_rest)
    adapter(p.fwd.place.backend).fk_backward(p)
    place = p.fwd.place
    grad_poses, grad_trans = _result(place, p.grad_poses), _result(place, p.grad_trans)
    if p.grad_rest is None:
        grad_rest = grad_poses.new_zeros((rest_joints.shape[0], 3))
    else:
        grad_rest = _result(place, p.grad_rest).sum(0)
    return grad_poses, grad_trans, grad_rest


@fk_backward_op.register_fake
def _(grad, poses, trans, rest_joints, parents, backend, with_rest):
    dtype = _out_dtype(poses)
    return (poses.new_empty(poses.shape, dtype=dtype), poses.new_empty((poses.shape[0], 3), dtype=dtype),
            poses.new_empty((rest_joints.shape[0], 3), dtype=dtype))


def _no_second_derivative(ctx, *grads):
    raise RuntimeError("fk: its second derivative (the backward of fk's backward) is not built; the first "
                       "derivatives are exact. Differentiate fk's gradients with torch.func on a plain-torch "
                       "forward kinematics instead (amass_fast.harness.baselines)")


fk_backward_op.register_autograd(_no_second_derivative, setup_context=lambda ctx, inputs, output: None)


def _fk_setup_context(ctx, inputs, output):
    poses, trans, rest_joints, parents, backend = inputs
    ctx.save_for_backward(poses, trans, rest_joints, parents)
    ctx.backend = backend


def _fk_backward(ctx, grad):
    poses, trans, rest_joints, parents = ctx.saved_tensors
    grad_poses, grad_trans, grad_rest = fk_backward_op(grad, poses, trans, rest_joints, parents, ctx.backend,
                                                       ctx.needs_input_grad[2])
    return (grad_poses.to(poses.dtype) if ctx.needs_input_grad[0] else None,
            grad_trans.to(trans.dtype) if ctx.needs_input_grad[1] else None,
            grad_rest.to(rest_joints.dtype) if ctx.needs_input_grad[2] else None, None, None)


fk_op.register_autograd(_fk_backward, setup_context=_fk_setup_context)


# ---------------------------------------------------------------------------------------------------------------
# convert_batch (stick5 by clip yaw) and convert_joints_batch (joints3d, joints2d through cameras): no backward.

@torch.library.custom_op("amass_fast::convert_batch", mutates_args=())
def convert_batch_op(poses: Tensor, trans: Tensor, seq_offsets: Tensor, seq_fps: Tensor, rest_joints: Tensor,
                     parents: Tensor, clip_seq: Tensor, clip_start: Tensor, clip_len: Tensor,
                     clip_yaw: Optional[Tensor], clip_scale: Optional[Tensor], dst_fps: float, window: int, top: bool,
                     backend: str) -> Tensor:
    """kernels.convert_batch of tensors, stick5 by clip yaw -> [C, window, 20]."""
    p = prepared.convert_batch(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start,
                               clip_len, clip_yaw, dst_fps, window, top, backend, None, "stick5", None, "z",
                               clip_scale)
    adapter(p.place.backend).convert_batch(p)
    return _result(p.place, p.out)


@convert_batch_op.register_fake
def _(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len, clip_yaw, clip_scale,
      dst_fps, window, top, backend):
    return poses.new_empty((clip_seq.shape[0], window, STICK_DIM), dtype=_out_dtype(poses))


@torch.library.custom_op("amass_fast::convert_joints_batch", mutates_args=())
def convert_joints_batch_op(poses: Tensor, trans: Tensor, seq_offsets: Tensor, seq_fps: Tensor, rest_joints: Tensor,
                            parents: Tensor, clip_seq: Tensor, clip_start: Tensor, clip_len: Tensor,
                            clip_yaw: Optional[Tensor], cameras: Optional[Tensor], clip_scale: Optional[Tensor],
                            dst_fps: float, window: int, top: bool, schema: str, up: str, backend: str) -> Tensor:
    """kernels.convert_batch of tensors for schema joints3d -> [C, window, 22, 3]; joints2d (and the line schemas,
    whose lines the caller gathers from it) -> joints2d [C, window, 22, 2]. Differentiable w.r.t. poses and trans."""
    p = prepared.convert_batch(poses.detach(), trans.detach(), seq_offsets, seq_fps, rest_joints, parents, clip_seq,
                               clip_start, clip_len, clip_yaw, dst_fps, window, top, backend, None, schema, cameras,
                               up, clip_scale)
    adapter(p.place.backend).convert_joints_batch(p)
    return _result(p.place, p.out)


@convert_joints_batch_op.register_fake
def _(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len, clip_yaw, cameras,
      clip_scale, dst_fps, window, top, schema, up, backend):
    dim = 3 if schema == "joints3d" else 2
    return poses.new_empty((clip_seq.shape[0], window, NUM_BODY_JOINTS, dim), dtype=_out_dtype(poses))


@torch.library.custom_op("amass_fast::convert_joints_batch_backward", mutates_args=())
def convert_joints_batch_backward_op(grad: Tensor, poses: Tensor, trans: Tensor, seq_offsets: Tensor,
                                     seq_fps: Tensor, rest_joints: Tensor, parents: Tensor, clip_seq: Tensor,
                                     clip_start: Tensor, clip_len: Tensor, clip_yaw: Optional[Tensor],
                                     cameras: Optional[Tensor], clip_scale: Optional[Tensor], dst_fps: float,
                                     window: int, top: bool, schema: str, up: str,
                                     backend: str) -> Tuple[Tensor, Tensor]:
    """convert_joints_batch's gradients: grad [C, window, 22, 3 or 2] -> (grad_poses [N, P] (columns past 66
    zero), grad_trans [N, 3]), in the op's compute dtype."""
    p = prepared.convert_batch(poses.detach(), trans.detach(), seq_offsets, seq_fps, rest_joints, parents, clip_seq,
                               clip_start, clip_len, clip_yaw, dst_fps, window, top, backend, None, schema, cameras,
                               up, clip_scale)
    place = p.place
    g = grad.detach().to(_out_dtype(poses)).contiguous()
    if place.backend != "cuda":
        g = g.cpu().numpy()
    b = prepared.convert_joints_batch_backward(p, g)
    adapter(place.backend).convert_joints_batch_backward(b)
    return _result(place, b.grad_poses), _result(place, b.grad_trans)


@convert_joints_batch_backward_op.register_fake
def _(grad, poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len, clip_yaw,
      cameras, clip_scale, dst_fps, window, top, schema, up, backend):
    dtype = _out_dtype(poses)
    return poses.new_empty(poses.shape, dtype=dtype), poses.new_empty((poses.shape[0], 3), dtype=dtype)


def _no_second_derivative_joints(ctx, *grads):
    raise RuntimeError("convert_batch: its second derivative (the backward of its backward) is not built; the first "
                       "derivatives are exact")


convert_joints_batch_backward_op.register_autograd(_no_second_derivative_joints,
                                                   setup_context=lambda ctx, inputs, output: None)


def _joints_setup_context(ctx, inputs, output):
    ctx.save_for_backward(*inputs[:12])
    ctx.rest = inputs[12:]


def _joints_backward(ctx, grad):
    saved = ctx.saved_tensors
    poses, trans = saved[0], saved[1]
    grad_poses, grad_trans = convert_joints_batch_backward_op(grad, *saved, *ctx.rest)
    return (grad_poses.to(poses.dtype) if ctx.needs_input_grad[0] else None,
            grad_trans.to(trans.dtype) if ctx.needs_input_grad[1] else None) + (None,) * 16


convert_joints_batch_op.register_autograd(_joints_backward, setup_context=_joints_setup_context)


# ---------------------------------------------------------------------------------------------------------------
# The calls amass_fast.kernels makes for torch tensors.

def _array(x) -> np.ndarray:
    """A NumPy view of `x`, copied when read-only (the shared tables, e.g. schemas.skeleton.BODY_PARENTS, are):
    torch warns about tensors over memory it may not write."""
    a = np.asarray(x)
    return a if a.flags.writeable else a.copy()


def _tensor(x, like: Tensor) -> Tensor:
    """A float input as a tensor on `like`'s device (NumPy arrays and lists are copied there)."""
    return x if isinstance(x, Tensor) else torch.as_tensor(_array(x), device=like.device)


def _host(x) -> Optional[Tensor]:
    """An index / rate input (or None) as a tensor; NumPy arrays become CPU tensors (prepared checks them)."""
    if x is None or isinstance(x, Tensor):
        return x
    return torch.as_tensor(_array(x))


def fk(poses: Tensor, trans, rest_joints, parents, backend: str) -> Tensor:
    """kernels.fk for a torch `poses`: the differentiable op."""
    return fk_op(poses, _tensor(trans, poses), _tensor(rest_joints, poses), _host(parents), backend)


def convert_batch(poses: Tensor, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len,
                  clip_yaw, dst_fps: float, window: int, top: bool, backend: str, schema: str, cameras, up: str,
                  clip_scale) -> Tensor:
    """kernels.convert_batch for a torch `poses`: stick5 by yaw -> [C, window, 20] (no backward); any other schema
    (and stick5 through cameras) -> joints2d or joints3d (the caller gathers the lines from joints2d), with a
    backward w.r.t. poses and trans. Other tensors that require grad are refused, naming the argument."""
    op = "convert_batch"
    joints = schema != "stick5" or cameras is not None  # convert_joints_batch_op: poses and trans differentiable
    checked = (("rest_joints", rest_joints), ("clip_yaw", clip_yaw), ("cameras", cameras), ("clip_scale", clip_scale))
    for name, x in checked if joints else (("poses", poses), ("trans", trans)) + checked:
        if isinstance(x, Tensor):
            prepared.no_grad_needed(op, x, name)
    args = (poses, _tensor(trans, poses), _host(seq_offsets), _host(seq_fps), _tensor(rest_joints, poses),
            _host(parents), _host(clip_seq), _host(clip_start), _host(clip_len), _host(clip_yaw))
    if schema == "stick5" and cameras is None:
        return convert_batch_op(*args, _host(clip_scale), float(dst_fps), int(window), bool(top), backend)
    return convert_joints_batch_op(*args, _host(cameras), _host(clip_scale), float(dst_fps), int(window), bool(top),
                                   str(schema), str(up), backend)


__all__ = ["fk_op", "fk_backward_op", "convert_batch_op", "convert_joints_batch_op", "convert_joints_batch_backward_op",
           "fk", "convert_batch"]
