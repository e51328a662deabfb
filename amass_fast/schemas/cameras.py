"""Cameras: joints3d (canonical, z up) -> joints2d on screen (docs/SCHEMAS.md, "Cameras").

A camera looks at the body from yaw and elevation angles. Its axes in the canonical frame (z up, the body's left
+x and facing -y at the first frame; amass_fast.schemas.joints):

    right   r = (cos yaw, sin yaw, 0)
    forward d = (-sin yaw cos elev, cos yaw cos elev, -sin elev)      (from the camera into the scene)
    up      u = r x d

yaw 0 faces the body (its left on screen right); positive yaw orbits the camera counter-clockwise seen from above,
positive elevation raises it to look down. Screen coordinates are metres, x right, y up:

- orthographic (default): s = (P . r, P . u). At elevation 0 this is stick5's ``yaw:DEG`` view exactly
  (docs/CONVENTIONS.md, "Views"): screen x = 0 at the first frame's pelvis, y = height above the floor.
- perspective: a pinhole ``distance_m`` from its target, a point ``target_height_m`` above the pelvis's ground
  position at each frame (the camera travels with the body, without turning). With t = that target,
  q = P - t, depth z_c = q . d + distance_m (at least NEAR_M):

      s = (distance_m / z_c) (q . r, q . u) + (t . r, t . u)

  so the target plane keeps its metric size, and s tends to the orthographic view as distance_m grows.

Intrinsics for pixels (:func:`intrinsics`): focal length f = focal_mm / 36 x image width (a 35 mm-equivalent
lens on a 36 mm wide sensor), principal point at the image centre, square pixels, image rows downwards:
pixel = (cx + f q.r / z_c, cy - f q.u / z_c).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import astuple, dataclass, fields
from typing import Tuple, Union

import numpy as np

from amass_fast import finite
from amass_fast.schemas.layouts import L_HIP, NUM_JOINTS, R_HIP

KINDS = ("orthographic", "perspective")
#: Nearest depth a perspective camera divides by, metres.
NEAR_M = 0.1
#: Sensor width of the 35 mm-equivalent focal length, mm.
SENSOR_WIDTH_MM = 36.0
#: Packed camera layout, float64 [..., 6] (what the torch transforms and kernels take): perspective is 0 or 1.
CAMERA_FIELDS = ("perspective", "yaw_deg", "elevation_deg", "distance_m", "focal_mm", "target_height_m")


@dataclass(frozen=True)
class Camera:
    """One camera. ``distance_m``, ``focal_mm`` and ``target_height_m`` matter to perspective cameras only
    (``focal_mm`` only to pixels)."""

    kind: str = "orthographic"
    yaw_deg: float = 0.0
    elevation_deg: float = 0.0
    distance_m: float = 4.0
    focal_mm: float = 35.0
    target_height_m: float = 1.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"camera kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        for f in fields(self)[1:]:  # numbers, finite: a string or NaN is named here, not met later
            finite.number(getattr(self, f.name), f"Camera.{f.name}")
        if not -90.0 <= self.elevation_deg <= 90.0:
            raise ValueError(f"elevation_deg must lie in -90..90, got {self.elevation_deg}")
        if self.distance_m <= 0.0 or self.focal_mm <= 0.0:
            raise ValueError(f"distance_m and focal_mm must be > 0, got {self.distance_m}, {self.focal_mm}")

    def packed(self) -> np.ndarray:
        """float64 [6] in the order of CAMERA_FIELDS."""
        return np.array([float(self.kind == "perspective"), *astuple(self)[1:]], dtype=np.float64)

    @classmethod
    def unpack(cls, values) -> "Camera":
        """Inverse of :meth:`packed`."""
        v = [float(x) for x in np.asarray(values, dtype=np.float64).reshape(-1)]
        if len(v) != len(CAMERA_FIELDS):
            raise ValueError(f"a packed camera has {len(CAMERA_FIELDS)} values {CAMERA_FIELDS}, got {len(v)}")
        return cls(KINDS[int(v[0] != 0.0)], *v[1:])


@dataclass(frozen=True)
class CameraRanges:
    """Ranges that :func:`random_cameras` draws from uniformly, (low, high) each; low == high fixes a value."""

    yaw_deg: tuple = (-180.0, 180.0)
    elevation_deg: tuple = (-10.0, 30.0)
    distance_m: tuple = (3.0, 8.0)
    focal_mm: tuple = (24.0, 70.0)
    target_height_m: tuple = (1.0, 1.0)

    def __post_init__(self):
        """Every range two finite numbers, low <= high, within what a Camera accepts (named when not)."""
        bounds = {"elevation_deg": (-90.0, 90.0, False), "distance_m": (0.0, None, True),
                  "focal_mm": (0.0, None, True)}
        for f in fields(self):
            lo, hi, lo_open = bounds.get(f.name, (None, None, False))
            finite.value_range(getattr(self, f.name), f"CameraRanges.{f.name}", lo, hi, lo_open=lo_open)


def parse_view(view: Union[str, float, int]) -> Tuple[bool, float]:
    """View name -> (top, yaw_deg): "front" -> (False, 0), "side" -> (False, 90), "top" -> (True, 0),
    "yaw:30" / "30" / 30 -> (False, 30). The yaw turns the camera counter-clockwise (seen from above) around the
    body from its front."""
    if isinstance(view, (int, float, np.integer, np.floating)) and not isinstance(view, bool):
        yaw = float(view)
    elif isinstance(view, str):
        name = view.strip().lower()
        named = {"front": (False, 0.0), "side": (False, 90.0), "top": (True, 0.0)}
        if name in named:
            return named[name]
        try:
            yaw = float(name[4:] if name.startswith("yaw:") else name)
        except ValueError:
            yaw = math.nan
    else:
        raise TypeError(f"view must be a str or a number of degrees, got {type(view).__name__}")
    if not math.isfinite(yaw):
        raise ValueError(f"view must be 'front', 'side', 'top', 'yaw:DEGREES' or a number of degrees, got {view!r}")
    return False, yaw


def view_camera(view: Union[str, float]) -> Camera:
    """The orthographic camera of a stick5 view name: "front" (yaw 0), "side" (90), "yaw:DEG" or a number."""
    top, yaw = parse_view(view)
    if top:
        raise ValueError("view 'top' is the world ground plane, not a camera on the body; for a view from above "
                         "the body use Camera(elevation_deg=90)")
    return Camera(yaw_deg=yaw)


def clip_key(file: str, start_frame: int) -> int:
    """A stable 32-bit key of a clip (its AMASS-relative file and first 25 fps frame), for :func:`random_cameras`:
    the same clip gets the same cameras whatever order clips are converted in."""
    return zlib.crc32(f"{file}@{int(start_frame)}".encode("utf-8"))


def random_cameras(n: int, seed: int, kind: str = "orthographic", ranges: CameraRanges = CameraRanges(),
                   key: int = 0) -> list[Camera]:
    """``n`` cameras drawn deterministically: ``numpy.random.default_rng([seed, key])`` draws ``n`` values
    uniformly per field, in the order yaw, elevation, distance, focal, target height. Same (seed, key), same
    cameras, on every machine."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if int(seed) < 0 or int(key) < 0:
        raise ValueError(f"seed and key must be whole numbers >= 0, got seed {seed}, key {key}")
    rng = np.random.default_rng([int(seed), int(key)])
    names = [f.name for f in fields(CameraRanges)]
    draws = {name: rng.uniform(*getattr(ranges, name), size=n) for name in names}
    return [Camera(kind, *(float(draws[name][i]) for name in names)) for i in range(n)]


def camera_axes(yaw_deg: float, elevation_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(right, up, forward), float64 [3] each, in the canonical frame (z up)."""
    y, e = math.radians(yaw_deg), math.radians(elevation_deg)
    right = np.array([math.cos(y), math.sin(y), 0.0])
    forward = np.array([-math.sin(y) * math.cos(e), math.cos(y) * math.cos(e), -math.sin(e)])
    return right, np.cross(right, forward), forward


def _check_joints3d(joints3d) -> np.ndarray:
    joints3d = np.asarray(joints3d, dtype=np.float64)
    if joints3d.ndim < 3 or joints3d.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints3d must be [..., T, {NUM_JOINTS}, 3], got shape {joints3d.shape}")
    return joints3d


def _targets(joints3d: np.ndarray, camera: Camera) -> np.ndarray:
    """Per-frame perspective target [..., T, 1, 3]: the pelvis's ground position raised by target_height_m."""
    pelvis = 0.5 * (joints3d[..., L_HIP, :] + joints3d[..., R_HIP, :])
    target = np.stack([pelvis[..., 0], pelvis[..., 1], np.full(pelvis.shape[:-1], camera.target_height_m)], -1)
    return target[..., None, :]


def camera_coordinates(joints3d, camera: Camera) -> np.ndarray:
    """Perspective camera coordinates [..., T, 22, 3] = (q . r, q . u, z_c), z_c clamped at NEAR_M."""
    joints3d = _check_joints3d(joints3d)
    right, up, forward = camera_axes(camera.yaw_deg, camera.elevation_deg)
    q = joints3d - _targets(joints3d, camera)
    depth = np.maximum(q @ forward + camera.distance_m, NEAR_M)
    return np.stack([q @ right, q @ up, depth], axis=-1)


def project(joints3d, camera: Camera = Camera()) -> np.ndarray:
    """joints3d [..., T, 22, 3] (canonical, z up) -> joints2d [..., T, 22, 2] screen metres, float64."""
    joints3d = _check_joints3d(joints3d)
    right, up, _ = camera_axes(camera.yaw_deg, camera.elevation_deg)
    if camera.kind == "orthographic":
        return np.stack([joints3d @ right, joints3d @ up], axis=-1)
    cam = camera_coordinates(joints3d, camera)
    target = _targets(joints3d, camera)
    scale = camera.distance_m / cam[..., 2:]
    return scale * cam[..., :2] + np.stack([target @ right, target @ up], axis=-1)


def intrinsics(camera: Camera, width_px: int, height_px: int) -> np.ndarray:
    """Pinhole intrinsics K [3, 3] of a perspective camera for an image of width_px x height_px pixels."""
    f = camera.focal_mm / SENSOR_WIDTH_MM * width_px
    return np.array([[f, 0.0, width_px / 2.0], [0.0, f, height_px / 2.0], [0.0, 0.0, 1.0]])


def to_pixels(joints3d, camera: Camera, width_px: int, height_px: int) -> np.ndarray:
    """joints3d [..., T, 22, 3] -> pixel coordinates [..., T, 22, 2] (column, row; rows downwards) through a
    perspective camera: (cx + f x_c / z_c, cy - f y_c / z_c) with K = :func:`intrinsics`."""
    if camera.kind != "perspective":
        raise ValueError("pixels need a perspective camera (an orthographic one has no focal length)")
    cam = camera_coordinates(joints3d, camera)
    K = intrinsics(camera, width_px, height_px)
    return np.stack([K[0, 2] + K[0, 0] * cam[..., 0] / cam[..., 2], K[1, 2] - K[1, 1] * cam[..., 1] / cam[..., 2]],
                    axis=-1)
