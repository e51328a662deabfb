"""`amass-fast demo`: the whole pipeline on a small synthetic AMASS tree, with no account and no model files.

Writes, under --out (default ./amass_fast_demo):

    amass/                    ~20 synthetic sequences in AMASS's real layouts (SMPL+H, SMPL-X, shape.npz, ...)
    amass_stick_data.pt       the clips, as `amass-fast process` writes them (built-in skeleton)
    demo_clip.gif, demo_sheet.png   previews, when amass_fast.preview is installed
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUT = "amass_fast_demo"
SHOWN_CLIPS = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"folder for the synthetic tree, the clips and the previews (default ./{DEFAULT_OUT})")
    from amass_fast.process import BACKENDS

    parser.add_argument("--backend", choices=BACKENDS, default="auto", help="kernel backend (default auto)")


def run(args: argparse.Namespace) -> int:
    import torch

    from amass_fast import process, synthetic

    out = Path(args.out)
    tree, output = out / "amass", out / "amass_stick_data.pt"
    files = synthetic.make_demo_tree(tree)
    print(f"wrote a synthetic AMASS tree: {len(files)} files in {tree}")

    parser = argparse.ArgumentParser()
    process.add_arguments(parser)
    status = process.run(parser.parse_args(["--amass-root", str(tree), "--output", str(output), "--overwrite",
                                            "--backend", args.backend]))
    if status != 0:
        print(f"amass-fast demo: processing failed (exit status {status}); see the messages above", file=sys.stderr)
        return status

    samples = torch.load(output, weights_only=True)
    print(f"\n{len(samples)} clips in {output}; the first {min(SHOWN_CLIPS, len(samples))}:")
    for i, s in enumerate(samples[:SHOWN_CLIPS]):
        meta = s["meta"]
        print(f"  [{i}] {s['action']:<8} {meta['valid_length'] / 25.0:5.1f} s  {meta['file']}\n"
              f"      {s['description']}")
    previews = write_previews(samples, out)
    print("\nwhere everything is:")
    print(f"  synthetic AMASS tree   {tree}")
    print(f"  clips (.pt)            {output}   load: torch.load(path)  or  amass_fast.StickClips(path)")
    for name, path in previews:
        print(f"  {name:<22} {path}")
    print("next: `amass-fast download` for the real archives, then `amass-fast process` (see the README)")
    return 0


def write_previews(samples: list[dict], out: Path) -> list[tuple[str, Path]]:
    """A GIF of the first clip and a contact sheet, if the preview module is there; returns what was written."""
    try:
        from amass_fast import preview
    except ImportError:
        return []
    gif, sheet = out / "demo_clip.gif", out / "demo_sheet.png"
    first = samples[0]
    preview.render_gif(first["motion"].numpy(), first["meta"]["valid_length"],
                       f"{first['action']}: {first['description']}", gif, 25)
    preview.render_sheet(samples[:12], sheet)
    return [("preview GIF", gif), ("contact sheet", sheet)]
