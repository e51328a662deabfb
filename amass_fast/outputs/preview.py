"""Look at clips: an animated GIF of one clip, or a PNG contact sheet of several (`amass-fast preview`).

    amass-fast preview data/amass_stick_data.pt --index 3 --out clip.gif
    amass-fast preview data/amass_stick_shards --grid 16 --out sheet.png

Every schema is drawn (docs/SCHEMAS.md), recognised by the shape of a clip's ``motion``, in screen metres with x
right and y up:

- stick5 ``[T, 20]``: five lines (docs/CONVENTIONS.md, "Stick layout"): head->neck, neck->left wrist,
  neck->right wrist, pelvis->left ankle, pelvis->right ankle; the spine (neck->pelvis) is implied and drawn thin;
- stick12 ``[T, 48]``: stick-gen's twelve segments;
- joints2d ``[T, 22, 2]``: the 22 body joints, drawn as the skeleton's 21 bones;
- joints3d ``[T, 22, 3]``: through the orthographic front camera (the sample's ``meta.up`` says its up axis).

The body's left is drawn blue, its right orange. One scale serves all valid frames of a clip, so the figure does
not breathe as it moves (a clip that travels far is followed by panning, see _View); y = 0 (the clip's lowest
ankle) is drawn as the ground.
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from amass_fast.schemas import layouts, skeleton

# Palette indices (images are drawn in "P" mode: small GIFs, no colour quantisation).
_WHITE, _BLACK, _GREY, _LEFT, _RIGHT, _PALE, _TEXT = range(7)
_PALETTE = [255, 255, 255, 20, 20, 20, 150, 150, 150, 31, 119, 180, 230, 115, 20, 215, 215, 215, 60, 60, 60]
_LINE_COLOURS = (_BLACK, _LEFT, _RIGHT, _LEFT, _RIGHT)  # head, left arm, right arm, left leg, right leg
_MARGIN = 12
_LINE_HEIGHT = 12
MAX_GRID = 1000       # clips on one contact sheet
MAX_GIF_FPS = 100.0   # GIF frame times are whole hundredths of a second


def _canvas(width: int, height: int) -> Image.Image:
    image = Image.new("P", (width, height), _WHITE)
    image.putpalette(_PALETTE + [0] * (768 - len(_PALETTE)))
    return image


@dataclass(frozen=True)
class _Style:
    """How a schema's lines [S, 4] are drawn: a colour per line, where the head and the pelvis are (line, end:
    0 = (x1, y1), 1 = (x2, y2)), and an implied line drawn thin (from, to), if any."""

    colours: tuple
    head: tuple
    pelvis: tuple
    implied: Optional[tuple] = None


def _side_colour(name: str) -> int:
    return _LEFT if name.startswith(("l_", "left_")) else _RIGHT if name.startswith(("r_", "right_")) else _BLACK


_STICK5 = _Style(_LINE_COLOURS, head=(0, 0), pelvis=(3, 0), implied=((0, 1), (3, 0)))
_STICK12 = _Style(tuple(_side_colour(name) for name, _, _ in layouts.STICK12),
                  head=(0, 1), pelvis=([name for name, _, _ in layouts.STICK12].index("lower_torso"), 1))
_JOINTS2D = _Style(tuple(_side_colour(skeleton.JOINT_NAMES[child]) for _, child in layouts.BONES),
                   head=([c for _, c in layouts.BONES].index(skeleton.HEAD), 1),
                   pelvis=([p for p, _ in layouts.BONES].index(skeleton.PELVIS), 0))


def _lines(motion, valid_length: int, up: str = "z") -> tuple[np.ndarray, _Style]:
    """The valid frames of a clip's ``motion`` (numpy arrays or torch tensors, any schema) as lines
    [valid, S, 4] float64 and how to draw them."""
    values = np.asarray(motion, dtype=np.float64)
    valid = max(1, min(int(valid_length), len(values)))
    values = values[:valid]
    if values.ndim == 3 and values.shape[1:] == (layouts.NUM_JOINTS, 3):
        from amass_fast.schemas import cameras, joints

        values = cameras.project(joints.to_z_up(values, up))
    if values.ndim == 3 and values.shape[1:] == (layouts.NUM_JOINTS, 2):
        bones = np.array(layouts.BONES)
        return np.concatenate([values[:, bones[:, 0]], values[:, bones[:, 1]]], axis=-1), _JOINTS2D
    if values.ndim == 2 and values.shape[1] in (20, 48):
        return values.reshape(valid, -1, 4), _STICK5 if values.shape[1] == 20 else _STICK12
    raise ValueError(f"motion must be [frames, 20] (stick5), [frames, 48] (stick12), [frames, 22, 2] (joints2d) "
                     f"or [frames, 22, 3] (joints3d), got shape {np.shape(motion)}")


def _point(pose: np.ndarray, where: tuple) -> np.ndarray:
    line, end = where
    return pose[line, 2 * end:2 * end + 2]


class _View:
    """Maps a clip's metres onto a box of pixels with one scale for all its frames (y up -> pixel rows down).

    The scale fits the whole clip, unless the figure would then be under half the box's height (a clip that
    travels far): then the figure keeps a readable size and the view pans with the pelvis; ticks on the ground
    every metre show the travel."""

    def __init__(self, lines: np.ndarray, box: tuple[int, int, int, int], style: _Style = _STICK5):
        self.box, self.style = box, style
        x0, y0, x1, y1 = box
        xs, ys = lines[..., 0::2], lines[..., 1::2]
        finite = np.isfinite(xs) & np.isfinite(ys)
        xs, ys = (xs[finite], ys[finite]) if finite.any() else (np.zeros(1), np.zeros(1))
        lo_y = min(float(ys.min()), 0.0)  # keep the ground in view
        span_x, span_y = max(float(xs.max() - xs.min()), 0.5), max(float(ys.max()) - lo_y, 0.5)
        fit = min((x1 - x0) / span_x, (y1 - y0) / span_y)
        self.pan = fit < 0.5 * (y1 - y0) / span_y
        self.scale = 0.9 * (y1 - y0) / span_y if self.pan else fit
        self.cx, self.cy = (float(xs.max() + xs.min())) / 2, (float(ys.max()) + lo_y) / 2
        self.px, self.py = (x0 + x1) / 2, (y0 + y1) / 2

    def _pelvis_x(self, pose: np.ndarray) -> float:
        x = float(_point(pose, self.style.pelvis)[0])
        return x if np.isfinite(x) else self.cx

    def mapper(self, pose: np.ndarray, px: Optional[float] = None):
        """metres -> pixels for drawing ``pose`` [S, 4]; when panning, its pelvis goes to pixel column ``px``
        (default: the middle of the box)."""
        cx = self._pelvis_x(pose) if self.pan else self.cx
        px = self.px if px is None or not self.pan else px
        return lambda x, y: (px + (x - cx) * self.scale, self.py - (y - self.cy) * self.scale)

    def draw_ground(self, draw: ImageDraw.ImageDraw, pose: np.ndarray) -> None:
        to_px = self.mapper(pose)
        _, gy = to_px(0.0, 0.0)
        draw.line([(self.box[0], gy), (self.box[2], gy)], fill=_PALE, width=1)
        if self.pan:
            centre = self._pelvis_x(pose)
            half = (self.box[2] - self.box[0]) / 2 / self.scale
            for metre in range(math.floor(centre - half), math.ceil(centre + half) + 1):
                x, _ = to_px(metre, 0.0)
                if self.box[0] <= x <= self.box[2]:
                    draw.line([(x, gy), (x, gy + 5)], fill=_GREY, width=1)


def _draw_figure(draw: ImageDraw.ImageDraw, to_px, scale: float, pose: np.ndarray, style: _Style = _STICK5,
                 colours: Optional[tuple] = None, width: int = 3) -> None:
    """Draw one pose [S, 4] with ``to_px`` (metres -> pixels) at ``scale`` pixels per metre, in ``colours``
    (default: the style's)."""
    if not np.isfinite(pose).all():
        return
    colours = colours or style.colours
    if style.implied:
        a, b = (_point(pose, where) for where in style.implied)
        draw.line([to_px(*a), to_px(*b)], fill=_GREY, width=max(1, width - 1))
    for (x1, y1, x2, y2), colour in zip(pose, colours):
        draw.line([to_px(x1, y1), to_px(x2, y2)], fill=colour, width=width)
    hx, hy = to_px(*_point(pose, style.head))
    r = max(3.0, 0.1 * scale)  # a head of about 10 cm radius
    draw.ellipse([hx - r, hy - r, hx + r, hy + r], outline=colours[style.head[0]], width=max(1, width - 1))


def _wrap(text: str, width_px: int, max_lines: int) -> list[str]:
    lines = textwrap.wrap(" ".join(text.split()), width=max(8, width_px // 6)) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(0, len(lines[-1]) - 3)] + "..."
    return lines


def _draw_caption(draw: ImageDraw.ImageDraw, caption: str, box: tuple[int, int, int, int]) -> None:
    font = ImageFont.load_default()
    max_lines = max(1, (box[3] - box[1]) // _LINE_HEIGHT)
    for i, line in enumerate(_wrap(caption, box[2] - box[0], max_lines)):
        draw.text((box[0], box[1] + i * _LINE_HEIGHT), line, fill=_TEXT, font=font)


def caption_of(sample: Mapping) -> str:
    """"walk: A person walks." from a sample's action and description."""
    return f"{sample.get('action', '?')}: {sample.get('description', '')}"


def render_gif(motion, valid_length: int, caption: str, path, fps: float = 25.0, size: int = 320,
               up: str = "z") -> int:
    """Animate one clip (``motion`` of any schema; ``up``: the up axis of joints3d) as a GIF: one GIF frame per
    valid motion frame, played at ``fps``, with ``caption`` under the figure and a progress bar (which also keeps
    consecutive frames distinct, so none are merged). Returns the number of frames written."""
    lines, style = _lines(motion, valid_length, up)
    caption_h = 4 * _LINE_HEIGHT + 8
    view = _View(lines, (_MARGIN, _MARGIN, size - _MARGIN, size - _MARGIN), style)
    images = []
    for k, pose in enumerate(lines):
        image = _canvas(size, size + caption_h)
        draw = ImageDraw.Draw(image)
        view.draw_ground(draw, pose)
        _draw_figure(draw, view.mapper(pose), view.scale, pose, style)
        bar = round((size - 2 * _MARGIN) * (k + 1) / len(lines))
        draw.rectangle([_MARGIN, size - 4, _MARGIN + bar, size - 1], fill=_GREY)
        _draw_caption(draw, caption, (_MARGIN, size + 4, size - _MARGIN, size + caption_h))
        images.append(image)
    duration = max(10, round(1000.0 / fps))
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0,
                   optimize=False, disposal=1)
    return len(images)


def _sheet_cell(sample: Mapping, index: int, cell: int, caption_h: int, poses: int) -> Image.Image:
    meta = sample.get("meta", {})
    lines, style = _lines(sample["motion"], int(meta.get("valid_length", len(sample["motion"]))),
                          meta.get("up", "z"))
    image = _canvas(cell, cell + caption_h)
    draw = ImageDraw.Draw(image)
    view = _View(lines, (_MARGIN, _MARGIN, cell - _MARGIN, cell - _MARGIN), style)
    picks = np.unique(np.linspace(0, len(lines) - 1, num=max(1, poses)).round().astype(int))
    last = lines[picks[-1]]
    _, ground_y = view.mapper(last)(0.0, 0.0)
    draw.line([(_MARGIN, ground_y), (cell - _MARGIN, ground_y)], fill=_PALE, width=1)
    # Poses where they are, earlier ones pale; a clip that travels too far for one view becomes a filmstrip.
    slot = (cell - 2 * _MARGIN) / len(picks)
    for n, j in enumerate(picks):
        to_px = view.mapper(lines[j], px=_MARGIN + (n + 0.5) * slot)
        colours = None if j == picks[-1] else (_PALE,) * len(lines[j])
        _draw_figure(draw, to_px, view.scale, lines[j], style, colours, width=2)
    draw.rectangle([0, 0, cell - 1, cell + caption_h - 1], outline=_PALE)
    _draw_caption(draw, f"#{index} {caption_of(sample)}", (6, cell, cell - 6, cell + caption_h))
    return image


def render_sheet(samples: Sequence[Mapping], path, columns: int | None = None, cell: int = 240,
                 poses: int = 6) -> tuple[int, int]:
    """A contact sheet: each sample in a cell of ``cell`` x (``cell`` + caption) pixels showing ``poses`` frames
    spread over the clip (earlier ones pale, the last in colour) and its action and description.
    ``columns`` defaults to ceil(sqrt(len(samples))). Returns the image size (width, height)."""
    if not samples:
        raise ValueError("render_sheet needs at least one sample")
    columns = columns or math.ceil(math.sqrt(len(samples)))
    rows = math.ceil(len(samples) / columns)
    caption_h = 3 * _LINE_HEIGHT + 8
    sheet = _canvas(columns * cell, rows * (cell + caption_h))
    for i, sample in enumerate(samples):
        corner = ((i % columns) * cell, (i // columns) * (cell + caption_h))
        sheet.paste(_sheet_cell(sample, i, cell, caption_h, poses), corner)
    sheet.save(path, format="PNG", optimize=True)
    return sheet.size


def load_clips(output: str):
    """The samples of a `process` output: a ``.pt`` file or a shards folder (see amass_fast.outputs.dataset.StickClips)."""
    from amass_fast.outputs.dataset import StickClips

    return StickClips(output)
