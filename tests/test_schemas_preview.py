"""`amass-fast preview` draws every schema: stick5, stick12, joints2d and joints3d (through the front camera)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import amass_fast as af
from amass_fast import cli
from amass_fast.harness import synthetic
from amass_fast.io.body_models import default_body_model
from amass_fast.outputs.preview import _MARGIN, _lines, _View, render_gif
from amass_fast.schemas import canonical_joints, layouts, project, skeleton, stick5, stick12
from amass_fast.schemas.joints import z_up_to

SIZE = 320


@pytest.fixture(scope="module")
def joints3d() -> np.ndarray:
    model = default_body_model(warn=False)
    poses, trans = synthetic.motion_curves("walk", 240, 120.0, np.random.default_rng(2))
    return canonical_joints(af.fk(*af.resample_poses(poses, trans, 120.0), model.rest_joints(), model.parents))


def frames(path) -> list[np.ndarray]:
    with Image.open(path) as image:
        out = []
        for k in range(image.n_frames):
            image.seek(k)
            out.append(np.array(image.convert("RGB"))[:SIZE])
        return out


def colour_columns(frame: np.ndarray) -> tuple[float, float]:
    """Mean pixel column of the blue (body's left) and of the orange (body's right) lines."""
    blue = np.argwhere((frame[..., 2] > 150) & (frame[..., 0] < 80))
    orange = np.argwhere((frame[..., 0] > 200) & (frame[..., 2] < 60))
    assert len(blue) > 20 and len(orange) > 20
    return blue[:, 1].mean(), orange[:, 1].mean()


def test_every_schema_is_drawn_with_the_left_on_screen_right(tmp_path, joints3d):
    j2 = project(joints3d)
    motions = {"stick5": stick5(j2), "stick12": stick12(j2), "joints2d": j2, "joints3d": joints3d}
    drawn = {}
    for name, motion in motions.items():
        assert render_gif(motion.astype(np.float32), 40, name, tmp_path / f"{name}.gif", size=SIZE) == 40
        drawn[name] = frames(tmp_path / f"{name}.gif")
        blue, orange = colour_columns(drawn[name][0])
        assert blue > orange + 3, name                    # front view: the body faces the camera
    assert all(np.array_equal(a, b) for a, b in zip(drawn["joints3d"], drawn["joints2d"]))
    y_up = render_gif(z_up_to(joints3d, "y"), 40, "y", tmp_path / "y.gif", size=SIZE, up="y")
    assert y_up == 40 and all(np.array_equal(a, b) for a, b in zip(frames(tmp_path / "y.gif"), drawn["joints2d"]))


@pytest.mark.parametrize("schema,joint,colour", [("stick12", layouts.L_ELBOW, "blue"),
                                                 ("joints2d", layouts.R_KNEE, "orange"),
                                                 ("joints2d", skeleton.SPINE2, "black")])
def test_joints_are_drawn_where_they_are(tmp_path, joints3d, schema, joint, colour):
    """A joint only the schema's own segments pass through (an elbow, a knee, the spine) is drawn in its colour."""
    j2 = project(joints3d)
    motion = stick12(j2) if schema == "stick12" else j2
    render_gif(motion, 40, schema, tmp_path / "a.gif", size=SIZE)
    lines, style = _lines(motion, 40)
    view = _View(lines, (_MARGIN, _MARGIN, SIZE - _MARGIN, SIZE - _MARGIN), style)
    k = 10
    x, y = view.mapper(lines[k])(*j2[k, joint])
    patch = frames(tmp_path / "a.gif")[k][int(round(y)) - 2:int(round(y)) + 3, int(round(x)) - 2:int(round(x)) + 3]
    r, g, b = (patch[..., i].astype(int) for i in range(3))
    hit = {"blue": (b > 150) & (r < 80), "orange": (r > 200) & (b < 60), "black": r + g + b < 200}[colour]
    assert hit.any(), (schema, joint)


def test_preview_command_draws_stick12_and_joints3d_outputs(tmp_path, joints3d, capsys):
    j2 = project(joints3d)
    for name, motion, meta in (("stick12", stick12(j2), {}), ("joints3d", z_up_to(joints3d, "y"), {"up": "y"})):
        samples = [{"motion": torch.from_numpy(motion.astype(np.float32)), "action": "walk",
                    "description": "A person walks.", "meta": {"valid_length": len(motion), **meta}}] * 3
        torch.save(samples, tmp_path / f"{name}.pt")
        assert cli.main(["preview", str(tmp_path / f"{name}.pt"), "--grid", "3",
                         "--out", str(tmp_path / f"{name}.png")]) == 0
        assert cli.main(["preview", str(tmp_path / f"{name}.pt"), "--out", str(tmp_path / f"{name}.gif")]) == 0
        assert len(frames(tmp_path / f"{name}.gif")) == len(motion)
    with pytest.raises(ValueError, match=r"\[frames, 48\] \(stick12\)"):
        render_gif(np.zeros((5, 22, 4)), 5, "x", tmp_path / "bad.gif")
