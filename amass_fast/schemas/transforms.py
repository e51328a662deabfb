"""Torch transforms from stored joints3d to any 2D schema, per sample or on a whole batch, CPU or GPU
(docs/SCHEMAS.md, "Transforms").

    from amass_fast import StickClips
    from amass_fast.schemas import Compose, Mirror, RandomCamera, ToSchema

    clips = StickClips("data/amass_joints3d_shards",
                       transform=Compose([Mirror(p=0.5), RandomCamera("perspective"), ToSchema("stick12")]))

    batch = next(iter(loader))                                          # or on a batch, on the GPU
    batch["motion"] = batch["motion"].cuda()
    batch = ToSchema("joints2d")(RandomCamera()(batch))

A transform takes a tensor or a sample dict and returns the same kind. Tensors: joints3d [T, 22, 3] or
[B, T, 22, 3] (canonical frame, amass_fast.schemas.joints), joints2d [T, 22, 2] or [B, T, 22, 2]. A dict's
``motion`` is transformed; the rest of the sample is kept and what the transform adds is said below. Each function
here computes, in the tensor's dtype and on its device, what the float64 NumPy function of the same name computes
(amass_fast.schemas.cameras.project, .mirror.mirror_joints, .layouts.to_schema and .physics).
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch


from amass_fast import finite
from amass_fast.schemas import layouts, mirror
from amass_fast.schemas.cameras import CAMERA_FIELDS, KINDS, NEAR_M, Camera, CameraRanges
from amass_fast.schemas.joints import UPS
from amass_fast.schemas.mirror import mirror_text

_YAW, _ELEV, _DIST, _TARGET = (CAMERA_FIELDS.index(n) for n in
                               ("yaw_deg", "elevation_deg", "distance_m", "target_height_m"))


# ---------------------------------------------------------------------------------------------------------------
# Functions on tensors.

def _check(joints: torch.Tensor, dims: tuple, what: str) -> None:
    if not isinstance(joints, torch.Tensor) or joints.ndim not in (3, 4) or tuple(joints.shape[-2:]) != dims:
        shape = tuple(joints.shape) if isinstance(joints, torch.Tensor) else type(joints).__name__
        raise ValueError(f"{what} must be a tensor [T, {dims[0]}, {dims[1]}] or [B, T, {dims[0]}, {dims[1]}], "
                         f"got {shape}")


def to_z_up(joints3d: torch.Tensor, up: str) -> torch.Tensor:
    """Canonical joints3d [..., 3] stored with ``up`` -> ``up="z"`` (amass_fast.schemas.joints.to_z_up)."""
    if up == "z":
        return joints3d
    if up == "y":
        return torch.stack([joints3d[..., 0], -joints3d[..., 2], joints3d[..., 1]], dim=-1)
    raise ValueError(f"up must be one of {', '.join(UPS)}, got {up!r}")


def project(joints3d: torch.Tensor, cameras: torch.Tensor) -> torch.Tensor:
    """joints3d [T, 22, 3] or [B, T, 22, 3] (canonical, z up) and packed cameras [6] (one for all) or [B, 6]
    (amass_fast.schemas.cameras.CAMERA_FIELDS) -> joints2d [..., T, 22, 2] screen metres. Each sample of a batch
    may have its own camera, orthographic or perspective."""
    _check(joints3d, (layouts.NUM_JOINTS, 3), "joints3d")
    batch = joints3d.shape[:-3]
    cams = torch.as_tensor(cameras, dtype=joints3d.dtype, device=joints3d.device)
    if tuple(cams.shape) not in ((len(CAMERA_FIELDS),), (*batch, len(CAMERA_FIELDS))):
        raise ValueError(f"cameras must be [{len(CAMERA_FIELDS)}] (one for all) or [B, {len(CAMERA_FIELDS)}] "
                         f"{CAMERA_FIELDS}, got {tuple(cams.shape)} for joints3d {tuple(joints3d.shape)}")
    cams = cams.expand(*batch, len(CAMERA_FIELDS))
    c = cams[..., None, :]                                   # [..., 1, 6]: one camera for all T frames
    yaw, elev = torch.deg2rad(c[..., _YAW]), torch.deg2rad(c[..., _ELEV])
    cy, sy, ce, se = torch.cos(yaw), torch.sin(yaw), torch.cos(elev), torch.sin(elev)
    right = torch.stack([cy, sy, torch.zeros_like(cy)], dim=-1)
    forward = torch.stack([-sy * ce, cy * ce, -se], dim=-1)
    axes = torch.stack([right, torch.linalg.cross(right, forward, dim=-1), forward], dim=-2)   # [..., 1, 3, 3]
    local = joints3d @ axes.transpose(-1, -2)                # [..., T, 22, 3]: (P . r, P . u, P . d)
    ortho = local[..., :2]
    perspective = c[..., 0, 0] != 0
    if not bool(perspective.any()):
        return ortho
    pelvis = 0.5 * (joints3d[..., layouts.L_HIP, :] + joints3d[..., layouts.R_HIP, :])      # [..., T, 3]
    target = torch.cat([pelvis[..., :2], c[..., _TARGET:_TARGET + 1].expand(*pelvis.shape[:-1], 1)], dim=-1)
    target_local = (target[..., None, :] @ axes.transpose(-1, -2))                            # [..., T, 1, 3]
    q = local - target_local                                 # (q . r, q . u, q . d)
    distance = c[..., _DIST, None, None]
    depth = torch.clamp(q[..., 2:] + distance, min=NEAR_M)
    persp = (distance / depth) * q[..., :2] + target_local[..., :2]
    return torch.where(perspective.reshape(*perspective.shape, *([1] * 3)), persp, ortho)


def mirror_joints(joints: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Joints [T, 22, 2|3] or [B, T, 22, 2|3] mirrored: x negated, left and right swapped. ``mask`` bool [B]
    (batches): mirror only those samples."""
    if not isinstance(joints, torch.Tensor) or joints.ndim not in (3, 4) or joints.shape[-2] != layouts.NUM_JOINTS \
            or joints.shape[-1] not in (2, 3):
        raise ValueError(f"Mirror works on joints3d or joints2d ([B,] T, 22, 3|2), got "
                         f"{tuple(joints.shape) if isinstance(joints, torch.Tensor) else type(joints).__name__}; "
                         f"apply Mirror before ToSchema")
    perm = torch.tensor(mirror.BODY_MIRROR, device=joints.device)
    out = joints.index_select(-2, perm)
    sign = torch.ones(joints.shape[-1], dtype=joints.dtype, device=joints.device)
    sign[0] = -1
    out = out * sign
    if mask is None:
        return out
    return torch.where(mask.reshape(-1, *([1] * (joints.ndim - 1))).to(joints.device), out, joints)


def to_schema(joints2d: torch.Tensor, schema: str) -> torch.Tensor:
    """joints2d [..., T, 22, 2] -> stick5 [..., T, 20], stick12 [..., T, 48] or joints2d as it is."""
    _check(joints2d, (layouts.NUM_JOINTS, 2), "joints2d")
    if schema == "joints2d":
        return joints2d
    if schema not in ("stick5", "stick12"):
        raise ValueError(f"unknown 2D schema {schema!r}; choose one of {', '.join(layouts.SCHEMAS_2D)}")
    return layouts.lines(joints2d, schema)


def physics(motion: torch.Tensor, fps: float = 25.0, method: str = "backward") -> torch.Tensor:
    """motion [..., T, 4S] -> (vx, vy, ax, ay, mx, my) [..., T, 6] in motion's dtype: the finite differences of
    amass_fast.schemas.layouts.physics (``method="backward"``: stick-gen's; ``"central"``), computed in float64."""
    if method not in layouts.PHYSICS_METHODS:
        raise ValueError(f"physics method must be one of {', '.join(layouts.PHYSICS_METHODS)}, got {method!r}")
    c = motion.double().reshape(*motion.shape[:-1], -1, 2).mean(dim=-2)

    def backward(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.zeros_like(x[..., :1, :]), (x[..., 1:, :] - x[..., :-1, :]) * fps], dim=-2)

    def central(x: torch.Tensor) -> torch.Tensor:
        inner = (x[..., 2:, :] - x[..., :-2, :]) * (0.5 * fps)
        first = (x[..., 1:2, :] - x[..., :1, :]) * fps
        last = (x[..., -1:, :] - x[..., -2:-1, :]) * fps
        return torch.cat([first, inner, last], dim=-2)

    if c.shape[-2] < 2:
        v = a = torch.zeros_like(c)
    else:
        diff = backward if method == "backward" else central
        v = diff(c)
        a = diff(v)
    return torch.cat([v, a, v], dim=-1).to(motion.dtype)


def flip_screen_x(values: torch.Tensor, schema: str) -> torch.Tensor:
    """amass_fast.schemas.layouts.flip_screen_x on a tensor: a 2D schema's screen x negated."""
    shape = layouts.FRAME_SHAPE[schema]
    flat = values.reshape(*values.shape[:values.ndim - len(shape)], -1)
    sign = torch.ones(flat.shape[-1], dtype=values.dtype, device=values.device)
    sign[torch.as_tensor(layouts.x_columns(schema), device=values.device)] = -1
    return (flat * sign).reshape(values.shape)


# ---------------------------------------------------------------------------------------------------------------
# Transforms.

def _motion(sample: Union[torch.Tensor, dict]) -> torch.Tensor:
    motion = sample["motion"] if isinstance(sample, dict) else sample
    if not isinstance(motion, torch.Tensor):
        raise TypeError(f"expected a tensor or a sample dict with a 'motion' tensor, got {type(motion).__name__}")
    return motion


def _with_motion(sample, motion: torch.Tensor, **extra):
    if not isinstance(sample, dict):
        return motion
    return {**sample, "motion": motion, **extra}


def _up(sample, up: Optional[str]) -> str:
    """The up axis of a sample's joints3d: the transform's ``up``, else meta["up"] (one value for a batch), else z."""
    if up is None and isinstance(sample, dict) and isinstance(sample.get("meta"), dict):
        value = sample["meta"].get("up", "z")
        values = set(value) if isinstance(value, (list, tuple)) else {value}
        if len(values) != 1:
            raise ValueError(f"a batch mixes joints3d stored with up {sorted(values)}; convert them alike")
        up = values.pop()
    return up or "z"


def _batch_size(motion: torch.Tensor) -> Optional[int]:
    return motion.shape[0] if motion.ndim == 4 else None


def _check_up(op: str, up: Optional[str]) -> Optional[str]:
    if up is not None and up not in UPS:
        raise ValueError(f"{op}: up must be one of {', '.join(UPS)} or None, got {up!r}")
    return up


def _generator(op: str, seed: Optional[int]) -> Optional[torch.Generator]:
    """None (torch's global generator) or a generator seeded by the whole number ``seed`` >= 0."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2 ** 63:
        raise ValueError(f"{op}: seed must be None or a whole number in 0..2**63-1, got {seed!r:.40}")
    return torch.Generator().manual_seed(int(seed))


class RandomCamera:
    """Project joints3d through a random camera per sample -> joints2d; a dict gains ``camera_params`` (packed,
    float64 [6] or [B, 6], amass_fast.schemas.cameras.CAMERA_FIELDS).

    Values are drawn uniformly from ``ranges`` (CameraRanges, the same defaults as ``random_cameras``), one row of
    uniforms per sample in the order of CameraRanges' fields. ``seed=None`` draws from torch's global generator (which
    DataLoader seeds differently in each worker); an int seeds this transform's own generator. ``up``: the up axis
    of the stored joints3d (default: the sample's meta["up"], else z)."""

    def __init__(self, kind: str = "orthographic", ranges: CameraRanges = CameraRanges(),
                 seed: Optional[int] = None, up: Optional[str] = None):
        if kind not in KINDS:
            raise ValueError(f"RandomCamera: kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if not isinstance(ranges, CameraRanges):  # CameraRanges checks its own values (finite, low <= high)
            raise TypeError(f"RandomCamera: ranges must be a CameraRanges, got {type(ranges).__name__}")
        self.kind, self.ranges, self.up = kind, ranges, _check_up("RandomCamera", up)
        self.generator = _generator("RandomCamera", seed)

    def draw(self, n: int) -> torch.Tensor:
        """``n`` packed cameras, float64 [n, 6] on the CPU."""
        names = [f.name for f in fields(CameraRanges)]
        u = torch.rand(n, len(names), generator=self.generator, dtype=torch.float64)
        lo = torch.tensor([getattr(self.ranges, name)[0] for name in names], dtype=torch.float64)
        hi = torch.tensor([getattr(self.ranges, name)[1] for name in names], dtype=torch.float64)
        flag = torch.full((n, 1), float(self.kind == "perspective"), dtype=torch.float64)
        return torch.cat([flag, lo + (hi - lo) * u], dim=1)

    def __call__(self, sample):
        joints3d = to_z_up(_motion(sample), _up(sample, self.up))
        batch = _batch_size(joints3d)
        cams = self.draw(batch or 1)
        cams = cams if batch else cams[0]
        return _with_motion(sample, project(joints3d, cams), camera_params=cams.to(joints3d.device))


class Mirror:
    """Mirror joints3d or joints2d (x negated, left and right swapped), each sample with probability ``p``
    (default: always). A dict's description gets left/right words swapped (amass_fast.schemas.mirror.mirror_text)
    and ``mirrored`` (bool tensor [] or [B]) flips. ``seed`` as for RandomCamera."""

    def __init__(self, p: float = 1.0, seed: Optional[int] = None):
        self.p = finite.number(p, "Mirror: p", 0.0, 1.0)
        self.generator = _generator("Mirror", seed)

    def __call__(self, sample):
        joints = _motion(sample)
        batch = _batch_size(joints)
        if self.p >= 1.0:
            mask = torch.ones(batch or 1, dtype=torch.bool)
        else:
            mask = torch.rand(batch or 1, generator=self.generator) < self.p
        out = mirror_joints(joints, mask if batch else None) if batch or bool(mask[0]) else joints
        if not isinstance(sample, dict):
            return out
        flags = mask if batch else mask[0]
        previous = sample.get("mirrored", torch.zeros_like(flags))
        extra = {"mirrored": torch.logical_xor(torch.as_tensor(previous).cpu(), flags)}
        if "description" in sample:
            text = sample["description"]
            if isinstance(text, str):
                extra["description"] = mirror_text(text) if bool(flags.reshape(-1)[0]) else text
            else:  # a collated batch: a list of str
                extra["description"] = [mirror_text(t) if bool(m) else t for t, m in zip(text, flags.tolist())]
        return _with_motion(sample, out, **extra)


class ToSchema:
    """joints2d (or joints3d, through ``camera``, default the orthographic front view) -> ``schema``: stick5
    [T, 20], stick12 [T, 48] or joints2d [T, 22, 2] (with a leading batch axis for batches). ``screen_x="left"``
    negates screen x (stick-gen's lateral convention: the body's left at -x). For a stick12 dict the sample gains
    stick-gen v3's ``physics`` [T, 6] (:func:`physics` at ``fps`` by ``physics``: "backward", stick-gen's, or
    "central"), ``camera`` [T, 3] (zeros: the camera is already in ``motion``) and ``action_label`` (its
    ``action``)."""

    def __init__(self, schema: str, camera: Camera = Camera(), fps: float = 25.0, up: Optional[str] = None,
                 screen_x: str = "right", physics: str = "backward"):
        if schema not in layouts.SCHEMAS_2D:
            raise ValueError(f"ToSchema: schema must be one of {', '.join(layouts.SCHEMAS_2D)}, got {schema!r}")
        if not isinstance(camera, Camera):
            raise TypeError(f"ToSchema: camera must be a Camera, got {type(camera).__name__}")
        self.schema, self.camera, self.up = schema, camera, _check_up("ToSchema", up)
        self.fps = finite.number(fps, "ToSchema: fps", 0.0, lo_open=True)
        if screen_x not in layouts.SCREEN_X:
            raise ValueError(f"ToSchema: screen_x must be one of {', '.join(layouts.SCREEN_X)}, got {screen_x!r}")
        if physics not in layouts.PHYSICS_METHODS:
            raise ValueError(f"ToSchema: physics must be one of {', '.join(layouts.PHYSICS_METHODS)}, got {physics!r}")
        self.screen_x, self.physics = screen_x, physics

    def __call__(self, sample):
        motion = _motion(sample)
        if motion.ndim in (3, 4) and motion.shape[-1] == 3:
            joints3d = to_z_up(motion, _up(sample, self.up))
            motion = project(joints3d, torch.as_tensor(self.camera.packed()))
        out = to_schema(motion, self.schema)
        if self.screen_x == "left":
            out = flip_screen_x(out, self.schema)
        if self.schema != "stick12" or not isinstance(sample, dict):
            return _with_motion(sample, out)
        extra = {"physics": physics(out, self.fps, self.physics), "camera": out.new_zeros(*out.shape[:-1], 3)}
        if "action" in sample:
            extra["action_label"] = sample["action"]
        return _with_motion(sample, out, **extra)


class Compose:
    """Apply transforms in order: ``Compose([Mirror(p=0.5), RandomCamera(), ToSchema("stick12")])``."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]):
        if isinstance(transforms, (str, bytes)) or not hasattr(transforms, "__iter__"):
            raise TypeError(f"Compose: transforms must be a list of callables, got {type(transforms).__name__}")
        self.transforms = list(transforms)
        for i, transform in enumerate(self.transforms):
            if not callable(transform):
                raise TypeError(f"Compose: transforms[{i}] is a {type(transform).__name__}, not a callable")

    def __call__(self, sample):
        for transform in self.transforms:
            sample = transform(sample)
        return sample
