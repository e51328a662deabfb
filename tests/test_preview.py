"""Preview: GIF of one clip, PNG contact sheet, and the `amass-fast preview` command on a .pt output."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from amass_fast import cli
from amass_fast.outputs.preview import render_gif, render_sheet

WINDOW = 250


def walking_motion(speed: float = 1.0, frames: int = WINDOW) -> np.ndarray:
    """Stick lines [frames, 20] of a figure striding along screen x at ``speed`` m/s (25 fps)."""
    t = np.arange(frames) / 25.0
    x, swing = speed * t, 0.3 * np.sin(2 * np.pi * t)
    head, neck, pelvis = (x, np.full_like(t, 1.7)), (x, np.full_like(t, 1.45)), (x, np.full_like(t, 0.95))
    one, ground = np.ones_like(t), np.zeros_like(t)
    lines = [(*head, *neck), (*neck, x + swing, one), (*neck, x - swing, one),
             (*pelvis, x - swing, ground), (*pelvis, x + swing, ground)]
    return np.stack([np.stack(line, axis=1) for line in lines], axis=1).reshape(frames, 20).astype(np.float32)


def sample(i: int, valid: int) -> dict:
    motion = walking_motion(0.2 * i)
    motion[valid:] = motion[valid - 1]  # padded frames hold the last valid one, as the pipeline writes them
    return {"motion": torch.from_numpy(motion), "actions": torch.full((WINDOW,), 1, dtype=torch.int64),
            "action": "walk", "description": f"A person walks, clip {i}.", "source": "amass",
            "meta": {"dataset": "CMU", "file": f"CMU/07/07_{i:02d}_poses.npz", "start_s": 0.0, "source_fps": 120.0,
                     "view": "front", "valid_length": valid, "label_source": "cmu"}}


def gif_frames(path) -> list[np.ndarray]:
    with Image.open(path) as image:
        assert image.format == "GIF"
        frames = []
        for k in range(image.n_frames):
            image.seek(k)
            frames.append(np.array(image.convert("RGB")))
        return frames


def test_gif_has_one_frame_per_valid_motion_frame(tmp_path):
    path = tmp_path / "clip.gif"
    assert render_gif(walking_motion(), 180, "walk: A person walks.", path, fps=25.0) == 180
    frames = gif_frames(path)
    assert len(frames) == 180
    with Image.open(path) as image:
        assert image.info["duration"] == 40  # ms per frame at 25 fps


def test_gif_keeps_frames_of_a_motionless_clip(tmp_path):
    still = np.tile(walking_motion()[:1], (30, 1))  # identical poses: GIF writers merge equal frames
    render_gif(still, 30, "idle: A person stands still.", tmp_path / "still.gif")
    assert len(gif_frames(tmp_path / "still.gif")) == 30


def _blue_pixels(frame: np.ndarray, size: int) -> np.ndarray:
    """(row, column) of the left limbs, drawn in blue, in the drawing area of a GIF frame."""
    area = frame[:size]
    return np.argwhere((area[..., 2] > 150) & (area[..., 0] < 80))


def test_gif_uses_one_scale_for_the_whole_clip(tmp_path):
    size, a, b = 320, 6, WINDOW - 19  # frames with the limbs apart
    motion = walking_motion(speed=0.1)
    render_gif(motion, WINDOW, "walk", tmp_path / "walk.gif", size=size)
    frames = gif_frames(tmp_path / "walk.gif")
    blue_a, blue_b = _blue_pixels(frames[a], size), _blue_pixels(frames[b], size)
    assert len(blue_a) > 20 and len(blue_b) > 20
    # The whole clip (x and y extents, y from the ground) fits the square drawing area (size minus 12 px
    # margins), so the 0.9 m travelled between the frames moves the figure by 0.9 m at that one scale.
    lines = motion.reshape(WINDOW, 5, 4)
    xs, ys = lines[..., 0::2], lines[..., 1::2]
    scale = (size - 24) / max(xs.max() - xs.min(), ys.max() - min(ys.min(), 0.0))
    expected = (motion[b, 0] - motion[a, 0]) * scale
    assert abs((blue_b[:, 1].mean() - blue_a[:, 1].mean()) - expected) < 6  # pixels


def test_gif_pans_with_a_figure_that_travels_far(tmp_path):
    size = 320
    render_gif(walking_motion(speed=1.5), WINDOW, "run", tmp_path / "run.gif", size=size)  # 15 m of travel
    frames = gif_frames(tmp_path / "run.gif")
    blue_a, blue_b = _blue_pixels(frames[6], size), _blue_pixels(frames[WINDOW - 19], size)
    assert abs(blue_b[:, 1].mean() - blue_a[:, 1].mean()) < 10  # the view follows the pelvis
    dark = np.argwhere(frames[6][:size].sum(axis=2) < 200)  # head and neck lines, drawn black
    assert dark[:, 0].min() < 0.3 * size  # the figure stays tall (head in the top third), not shrunk to fit


def test_sheet_size_follows_the_grid(tmp_path):
    path = tmp_path / "sheet.png"
    samples = [sample(i, valid=100 + 30 * i) for i in range(5)]
    width, height = render_sheet(samples, path, cell=200)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (width, height)
    assert width == 3 * 200  # ceil(sqrt(5)) = 3 columns
    rows = 2
    assert height % rows == 0 and height // rows > 200  # each row: a 200 px cell plus its caption
    width4, height4 = render_sheet(samples[:4], tmp_path / "four.png", cell=200)
    assert (width4, height4) == (2 * 200, height)  # 2 x 2: same rows, fewer columns


def test_bad_motion_shape_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"\[frames, 20\]"):
        render_gif(np.zeros((10, 18)), 10, "x", tmp_path / "bad.gif")


@pytest.fixture
def pt_output(tmp_path):
    path = tmp_path / "amass_stick_data.pt"
    torch.save([sample(i, valid=60 + 10 * i) for i in range(7)], path)
    return path


def test_preview_command_animates_one_clip(pt_output, tmp_path, capsys):
    out = tmp_path / "one.gif"
    assert cli.main(["preview", str(pt_output), "--index", "3", "--out", str(out)]) == 0
    assert len(gif_frames(out)) == 90  # clip 3's valid_length
    assert "clip 3" in capsys.readouterr().out


def test_preview_command_writes_a_contact_sheet(pt_output, tmp_path):
    out = tmp_path / "grid.png"
    assert cli.main(["preview", str(pt_output), "--grid", "6", "--out", str(out)]) == 0
    with Image.open(out) as image:
        reference = render_sheet([sample(i, valid=60 + 10 * i) for i in range(6)], tmp_path / "ref.png")
        assert image.size == reference and image.size[0] == 3 * 240  # 3 x 2 cells of the default 240 px


def test_preview_command_reports_a_bad_index(pt_output, capsys):
    assert cli.main(["preview", str(pt_output), "--index", "7"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_preview_command_names_negative_indexes_and_creates_the_folder(pt_output, tmp_path, capsys):
    out = tmp_path / "new" / "folder" / "last.gif"
    assert cli.main(["preview", str(pt_output), "--index", "-1", "--out", str(out)]) == 0
    assert len(gif_frames(out)) == 120  # clip 6, the last: valid_length 60 + 10 * 6
    assert "clip 6," in capsys.readouterr().out


@pytest.mark.parametrize("flags, name, fmt", [(["--index", "1"], "clip.jpg", ".gif"),
                                              (["--grid", "2"], "sheet.gif", ".png")])
def test_preview_command_refuses_an_extension_it_would_not_write(pt_output, tmp_path, capsys, flags, name, fmt):
    out = tmp_path / name
    assert cli.main(["preview", str(pt_output), *flags, "--out", str(out)]) == 2
    assert f"written as {fmt}" in capsys.readouterr().err and not out.exists()


def test_preview_command_explains_a_file_that_is_not_an_output(tmp_path, capsys):
    not_clips = tmp_path / "clip.gif"
    not_clips.write_bytes(b"GIF89a" + bytes(64))
    assert cli.main(["preview", str(not_clips)]) == 1
    err = capsys.readouterr().err
    assert "not a clips file written by `amass-fast process`" in err and "weights_only" not in err
    assert cli.main(["preview", str(tmp_path / "missing.pt")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_preview_command_checks_its_out_before_reading(pt_output, tmp_path, capsys):
    (tmp_path / "a_file").write_text("mine")
    assert cli.main(["preview", str(pt_output), "--out", str(tmp_path / "a_file" / "clip.gif")]) == 2
    err = capsys.readouterr().err
    assert "a_file is a file, not a folder" in err and "Traceback" not in err
    (tmp_path / "folder.gif").mkdir()
    assert cli.main(["preview", str(pt_output), "--out", str(tmp_path / "folder.gif")]) == 2
    assert "is a folder" in capsys.readouterr().err
    existing = tmp_path / "mine.gif"
    existing.write_bytes(b"my picture")
    assert cli.main(["preview", str(pt_output), "--out", str(existing)]) == 2
    assert "--overwrite" in capsys.readouterr().err and existing.read_bytes() == b"my picture"
    assert cli.main(["preview", str(pt_output), "--out", str(existing), "--overwrite"]) == 0
    assert len(gif_frames(existing)) == 60


@pytest.mark.parametrize("flag, value", [("--fps", "0"), ("--fps", "-5"), ("--fps", "inf"), ("--grid", "0")])
def test_preview_command_refuses_bad_numbers_naming_the_flag(pt_output, tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as stop:
        cli.main(["preview", str(pt_output), flag, value, "--out", str(tmp_path / "x.gif")])
    assert stop.value.code == 2 and f"argument {flag}" in capsys.readouterr().err
    assert not (tmp_path / "x.gif").exists()


def test_preview_command_names_a_truncated_output(pt_output, tmp_path, capsys):
    data = pt_output.read_bytes()
    pt_output.write_bytes(data[: len(data) // 2])
    assert cli.main(["preview", str(pt_output), "--out", str(tmp_path / "x.gif")]) == 1
    err = capsys.readouterr().err
    assert f"{pt_output}: not a clips file written by `amass-fast process`, or a damaged one" in err
    assert "Traceback" not in err and not (tmp_path / "x.gif").exists()
