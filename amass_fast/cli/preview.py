"""`amass-fast preview`: render clips of an output file as a GIF or a PNG contact sheet."""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

from amass_fast.cli.args import float_range, int_range, output_problem
from amass_fast.io import atomic
from amass_fast.outputs.preview import (caption_of, render_gif, render_sheet, load_clips, MAX_GRID, MAX_GIF_FPS)


#: Shown at the end of `amass-fast preview --help`.
EXAMPLES = [
    "amass-fast preview data/amass_stick_data.pt --index 3 --out walk.gif",
    "amass-fast preview data/amass_stick_shards --grid 12 --out sheet.png",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", metavar="OUTPUT", help="a .pt file or a shards folder written by amass-fast process")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--index", type=int, default=0,
                       help="the clip to animate as a GIF (default 0; -1 is the last)")
    which.add_argument("--grid", type=int_range(1, MAX_GRID), metavar="N",
                       help="a PNG contact sheet of the first N clips instead")
    parser.add_argument("--out", metavar="PATH",
                        help="image to write: a .gif (default clip.gif), or a .png with --grid (default sheet.png)")
    parser.add_argument("--fps", type=float_range(0.0, MAX_GIF_FPS, lo_open=True), default=25.0,
                        help="GIF playback rate (default 25, the clips' rate)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing image at --out")


def _fail(message: str, status: int = 2) -> int:
    print(f"amass-fast preview: {message}", file=sys.stderr)
    return status


def _out_path(out: str, suffix: str, what: str, overwrite: bool) -> Path:
    """The image path to write, checked before any work; refuses a name whose extension is not the format written,
    a path that cannot be a file, and an existing image without --overwrite. Its folder is created."""
    path = Path(out)
    if path.suffix.lower() != suffix:
        raise ValueError(f"--out {out}: {what} is written as {suffix}; name it e.g. {path.with_suffix(suffix).name}")
    problem = output_problem(path, kind="file", flag="--out")
    if problem:
        raise ValueError(problem)
    if path.exists() and not overwrite:
        raise ValueError(f"--out {out}: already exists; nothing replaced. Pass another --out, or --overwrite")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot create its folder ({exc.strerror or exc})") from None
    return path


def run(args: argparse.Namespace) -> int:
    grid = args.grid is not None
    try:
        out = _out_path(args.out or ("sheet.png" if grid else "clip.gif"), ".png" if grid else ".gif",
                        "a contact sheet (--grid)" if grid else "an animated clip (--index)", args.overwrite)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        clips = load_clips(args.output)
        if len(clips) == 0:
            return _fail(f"{args.output} holds no clips", 1)
        if grid:
            samples = [clips[i] for i in range(min(args.grid, len(clips)))]
        elif not -len(clips) <= args.index < len(clips):
            return _fail(f"--index {args.index} is out of range: {args.output} holds {len(clips)} clips "
                         f"(0 to {len(clips) - 1}; negative counts from the end)")
        else:
            index = args.index % len(clips)  # -1 -> the last clip, named by its number
            sample = clips[index]
    except FileNotFoundError as exc:
        return _fail(str(exc))
    except ValueError as exc:  # not a clips file, or a damaged one: named by the message
        return _fail(str(exc), 1)
    # Written under a temporary name and renamed when whole: a full disk or an error leaves the old image as it was.
    try:
        with atomic.replacing(out) as tmp:
            if grid:
                width, height = render_sheet(samples, tmp)
            else:
                valid = int(sample.get("meta", {}).get("valid_length", len(sample["motion"])))
                frames = render_gif(sample["motion"], valid, caption_of(sample), tmp, fps=args.fps,
                                    up=sample.get("meta", {}).get("up", "z"))
    except OSError as exc:
        return _fail(f"--out {out}: cannot be written ({exc.strerror or exc}); nothing replaced: free some space "
                     f"or choose another --out", 1)
    except (ValueError, TypeError, KeyError, IndexError) as exc:  # a sample that is not a clip of ours
        return _fail(f"{args.output}: a clip cannot be drawn ({exc}); nothing written: pass the output of "
                     f"`amass-fast process`", 1)
    if grid:
        print(f"wrote {out}: {len(samples)} clips, {width}x{height} px")
        return 0
    print(f"wrote {out}: clip {index}, {frames} frames at {args.fps:g} fps, {caption_of(sample)}")
    return 0
