"""`amass-fast demo`: the whole pipeline on a small synthetic AMASS tree, with no account and no model files.

Writes, under --out (default ./amass_fast_demo):

    amass/                    ~20 synthetic sequences in AMASS's real layouts (SMPL+H, SMPL-X, shape.npz, ...),
                              marked as synthetic by amass/.amass_fast_demo
    amass_stick_data.pt       the clips, as `amass-fast process` writes them (built-in skeleton), and its record
                              amass_stick_data.pt.run.json
    stick_gen_canonical.pt    the same tree as stick-gen's canonical v3 samples (`--preset stick-gen`), and its record
    demo_clip.gif, demo_sheet.png   previews, when amass_fast.outputs.preview is installed

Nothing already there is replaced without --overwrite, and --overwrite replaces only what an earlier demo wrote:
a tree without the demo's mark (real AMASS data, say) and clips made from another tree are never touched.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Optional

from amass_fast.cli.args import output_problem

DEFAULT_OUT = "amass_fast_demo"
SHOWN_CLIPS = 5
MARK = ".amass_fast_demo"  # in the synthetic tree: this tree is the demo's own
TREE, CLIPS, GIF, SHEET = "amass", "amass_stick_data.pt", "demo_clip.gif", "demo_sheet.png"
CANONICAL = "stick_gen_canonical.pt"  # --preset stick-gen


#: Shown at the end of `amass-fast demo --help`.
EXAMPLES = [
    "amass-fast demo",
    "amass-fast demo --out /tmp/demo --backend numba",
    "amass-fast demo --overwrite                 # again, replacing what the last demo wrote",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"folder for the synthetic tree, the clips and the previews (default ./{DEFAULT_OUT})")
    from amass_fast.process import BACKENDS

    parser.add_argument("--backend", choices=BACKENDS, default="auto", help="kernel backend (default auto)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace what an earlier demo wrote in --out (never a tree or clips it did not write)")


def written_paths(out: Path) -> list[Path]:
    """Everything demo writes under ``out``."""
    from amass_fast.process import errors_path, record_path

    outputs = [out / CLIPS, out / CANONICAL]
    return [out / TREE, *(p for clips in outputs for p in (clips, record_path(clips), errors_path(clips))), out / GIF,
            out / SHEET]


def _made_by_demo(out: Path) -> Optional[str]:
    """Why what is in ``out`` is not the demo's own to replace, or None."""
    tree = out / TREE
    if tree.exists() and not (tree / MARK).is_file():
        return f"{tree} was not written by demo (it may be your AMASS data)"
    for clips in (out / CLIPS, out / CANONICAL):
        if clips.exists():
            from amass_fast.outputs import writers
            from amass_fast.process import record_path

            try:
                flags = writers.read_json(record_path(clips), "").get("flags", {})
            except (OSError, ValueError, AttributeError):
                flags = {}
            if flags.get("amass_root") != os.path.normpath(tree.absolute()):
                return f"{clips} was not made from demo's synthetic tree"
    return None


def check_out(out: Path, overwrite: bool) -> Optional[str]:
    """Why demo must not write into ``out``, or None."""
    problem = output_problem(out, kind="folder", flag="--out")
    if problem:
        return problem
    there = [p for p in written_paths(out) if p.exists()]
    if not there:
        return None
    if not overwrite:
        return (f"--out {out}: already holds {', '.join(p.name for p in there)}; nothing replaced. Pass another "
                f"--out, or --overwrite to replace what an earlier demo wrote there")
    problem = _made_by_demo(out)
    if problem:
        return f"--out {out}: {problem}; nothing replaced, even with --overwrite: pass another --out"
    return None


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    problem = check_out(out, args.overwrite)
    if problem:
        print(f"amass-fast demo: {problem}", file=sys.stderr)
        return 2
    import torch

    from amass_fast import process
    from amass_fast.harness import synthetic

    try:  # every check before the first write: a backend that cannot run here leaves --out untouched
        process.resolve_backend(args.backend)
    except ValueError as exc:
        print(f"amass-fast demo: {exc}; nothing written", file=sys.stderr)
        return 2
    tree, output = out / TREE, out / CLIPS
    if tree.exists():  # the demo's own tree (check_out made sure), rewritten whole
        shutil.rmtree(tree)
    files = synthetic.make_demo_tree(tree)
    (tree / MARK).write_text("a synthetic AMASS tree written by `amass-fast demo`\n", encoding="utf-8")
    print(f"wrote a synthetic AMASS tree: {len(files)} files in {tree}")

    status = _process(tree, output, args.backend)
    if status != 0:
        return status

    samples = torch.load(output, weights_only=True)
    print(f"\n{len(samples)} clips in {output}; the first {min(SHOWN_CLIPS, len(samples))}:")
    for i, s in enumerate(samples[:SHOWN_CLIPS]):
        meta = s["meta"]
        print(f"  [{i}] {s['action']:<8} {meta['valid_length'] / 25.0:5.1f} s  {meta['file']}\n"
              f"      {s['description']}")
    show_schemas(files[0])
    canonical = out / CANONICAL
    print(f"\nthe same tree as stick-gen's canonical v3 samples: amass-fast process --preset stick-gen")
    status = _process(tree, canonical, args.backend, "--preset", "stick-gen")
    if status != 0:
        return status
    show_stick_gen(torch.load(canonical, weights_only=True), canonical)
    previews = write_previews(samples, out)
    print("\nwhere everything is:")
    print(f"  synthetic AMASS tree   {tree}")
    print(f"  clips (.pt)            {output}   load: torch.load(path)  or  amass_fast.StickClips(path)")
    print(f"  stick-gen samples      {canonical}   (docs/STICKGEN.md: stick-gen's build and train steps)")
    for name, path in previews:
        print(f"  {name:<22} {path}")
    print("next: `amass-fast download` for the real archives, then `amass-fast process` (see the README)")
    return 0


def _process(tree: Path, output: Path, backend: str, *flags: str) -> int:
    """`amass-fast process` of the demo tree into ``output`` (replacing the demo's own earlier output)."""
    from amass_fast.cli import process

    parser = argparse.ArgumentParser()
    process.add_arguments(parser)
    status = process.run(parser.parse_args(["--amass-root", str(tree.absolute()), "--output", str(output),
                                            "--overwrite", "--backend", backend, *flags]))
    if status != 0:
        print(f"amass-fast demo: processing failed (exit status {status}); see the messages above", file=sys.stderr)
    return status


def show_stick_gen(samples: list[dict], path: Path) -> None:
    """What a stick-gen sample holds: its keys, shapes and enhanced_meta."""
    first = samples[0]
    print(f"\n{len(samples)} stick-gen samples in {path}; the first one:")
    for key in ("motion", "actions", "physics", "camera"):
        print(f"  {key:<14} {first[key].dtype} {list(first[key].shape)}")
    for key in ("action_label", "description", "source"):
        print(f"  {key:<14} {first[key]!r}")
    print(f"  meta           screen_x {first['meta']['screen_x']!r}, scale {first['meta']['scale']}, "
          f"physics {first['meta']['physics']!r}")
    print(f"  enhanced_meta  {first['enhanced_meta']}")


def show_schemas(path: Path) -> None:
    """The other schemas of one file (docs/SCHEMAS.md): stick-gen's v3 stick12 and joints2d through a perspective
    camera, with the calls that make them (`amass-fast process --schema stick12` does the same for every clip)."""
    import amass_fast as af
    from amass_fast.schemas import Camera

    seq = af.load_sequence(path)
    bm = af.default_body_model(warn=False)
    rest, parents = bm.rest_joints(seq.betas)[:22], bm.parents[:22]
    stick12 = af.convert(seq.poses, seq.trans, rest, parents, seq.fps, schema="stick12")
    joints2d = af.convert(seq.poses, seq.trans, rest, parents, seq.fps, schema="joints2d",
                          camera=Camera("perspective", yaw_deg=30.0))
    print(f"\nother schemas of {path.name} (af.convert(..., schema=...); --schema in amass-fast process):")
    print(f"  stick12   {tuple(stick12.shape)}   stick-gen's v3 motion: 12 segments (x1, y1, x2, y2)")
    print(f"  joints2d  {tuple(joints2d.shape)}   22 joints through Camera('perspective', yaw_deg=30)")


def write_previews(samples: list[dict], out: Path) -> list[tuple[str, Path]]:
    """A GIF of the first clip and a contact sheet, if the preview module is there; returns what was written."""
    try:
        from amass_fast.outputs import preview
    except ImportError:
        return []
    gif, sheet = out / GIF, out / SHEET
    first = samples[0]
    preview.render_gif(first["motion"].numpy(), first["meta"]["valid_length"],
                       f"{first['action']}: {first['description']}", gif, 25)
    preview.render_sheet(samples[:12], sheet)
    return [("preview GIF", gif), ("contact sheet", sheet)]
