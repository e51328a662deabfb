"""Schemas beyond stick5: stick-gen's v3 ``stick12``, ``joints2d``, canonical ``joints3d``; cameras; mirroring;
torch transforms that turn stored joints3d into any 2D schema (docs/SCHEMAS.md).

NumPy float64 reference (the specification):
    canonical_joints, clip_frame, height_scale, skeleton_height   (joints: world joints -> joints3d)
    Camera, CameraRanges, random_cameras, view_camera, project     (cameras: joints3d -> joints2d)
    stick5, stick12, physics, to_schema                            (layouts: joints2d -> a 2D schema)
    mirror_params, mirror_joints, mirror_text                      (mirror)
Torch transforms: RandomCamera, Mirror, ToSchema, Compose (transforms; torch is imported on first use).

The lowest layer: may import only amass_fast.finite (and torch, in transforms).
"""
from __future__ import annotations

import importlib
from typing import Any

from amass_fast.schemas.cameras import Camera, CameraRanges, project, random_cameras, view_camera
from amass_fast.schemas.joints import canonical_joints, clip_frame, height_scale, skeleton_height
from amass_fast.schemas.layouts import SCHEMAS, SCHEMAS_2D, physics, stick5, stick12, to_schema
from amass_fast.schemas.mirror import mirror_joints, mirror_params, mirror_text

_TRANSFORMS = ("RandomCamera", "Mirror", "ToSchema", "Compose")

__all__ = ["Camera", "CameraRanges", "project", "random_cameras", "view_camera", "canonical_joints", "clip_frame",
           "height_scale", "skeleton_height", "SCHEMAS", "SCHEMAS_2D", "physics", "stick5", "stick12", "to_schema",
           "mirror_joints", "mirror_params", "mirror_text", *_TRANSFORMS]


def __getattr__(name: str) -> Any:
    if name in _TRANSFORMS:
        return getattr(importlib.import_module("amass_fast.schemas.transforms"), name)
    raise AttributeError(f"module 'amass_fast.schemas' has no attribute {name!r}")
