"""Reduce: the shards, in task order, -> the final output (the stick-gen-compatible .pt, or manifest.json for
--format shards), the errors file, and the totals for the summary. --max-samples keeps the first N clips in task
order.

A finished .pt gets a small JSON record beside it, ``<output>.run.json`` (see ``record_path``): the flags it was
made with and its counts, so that --resume can tell a finished output made with other flags from one made with
the same. A shards folder keeps the same record in its manifest.json.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from amass_fast.io import atomic
from amass_fast.outputs import writers
from amass_fast.process.mapping import COUNT_KEYS


def record_path(output: Path) -> Path:
    """The record of a finished .pt: ``<output>.run.json``."""
    return Path(f"{output}.run.json")


def errors_path(output: Path) -> Path:
    """The per-file errors of a run: ``<output>.errors.jsonl`` (one JSON object per line: file, reason)."""
    return Path(f"{output}.errors.jsonl")


def take_counts(infos: list[dict], max_samples: Optional[int]) -> list[tuple[dict, int]]:
    """(task info, clips to keep) for the tasks the output uses: all, or the first ones up to max_samples clips."""
    used, left = [], max_samples
    for info in infos:
        if left is not None and left <= 0:
            break
        n = info["clips"] if left is None else min(info["clips"], left)
        used.append((info, n))
        left = None if left is None else left - n
    return used


def totals_of(used: list[tuple[dict, int]], work_dir: Path) -> tuple[dict, list[dict]]:
    """(the counts of the tasks used, with "clips" and "label_sources" of the clips kept; their errors)."""
    totals = dict.fromkeys(COUNT_KEYS, 0)
    label_sources: dict[str, int] = {}
    errors = []
    for info, n in used:
        for key in COUNT_KEYS:
            totals[key] += info["counts"].get(key, 0)  # shards of older versions lack the window costs
        errors += info["errors"]
        if n == info["clips"]:
            counts = info["label_sources"]
        else:  # the cap cuts into this task: count the sources of the clips kept
            counts = {}
            for clip in writers.read_shard_clips(work_dir / writers.SHARD_NAME.format(info["task"]))[:n]:
                counts[clip["label_source"]] = counts.get(clip["label_source"], 0) + 1
        for source, count in counts.items():
            label_sources[source] = label_sources.get(source, 0) + count
    totals["clips"] = sum(n for _, n in used)
    totals["label_sources"] = dict(sorted(label_sources.items()))
    return totals, errors


def clip_rows(used: list[tuple[dict, int]], work_dir: Path) -> list[tuple[str, str, str, str, str]]:
    """(file, dataset, label source, action, description source) of every clip kept, in output order: what the
    labels coverage report counts."""
    rows = []
    for info, n in used:
        for clip in writers.read_shard_clips(work_dir / writers.SHARD_NAME.format(info["task"]))[:n]:
            rows.append((clip["file"], clip["dataset"], clip["label_source"], clip["action"],
                         clip.get("description_source", "template")))
    return rows


def write_errors(output: Path, errors: list[dict]) -> None:
    """The errors file beside the output, or none when there are no errors (an old one is removed)."""
    path = errors_path(output)
    if not errors:
        path.unlink(missing_ok=True)
        return
    atomic.write_json_lines(path, errors)


def reduce(infos: list[dict], work_dir: Path, output: Path, fmt: str, max_samples: Optional[int],
           manifest: dict) -> tuple[dict, list[tuple[str, str, str, str, str]]]:
    """Write the final output from the shards (in task order) and the errors file; returns the totals and the
    clip rows of the coverage report (``clip_rows``)."""
    used = take_counts(infos, max_samples)
    totals, errors = totals_of(used, work_dir)
    rows = clip_rows(used, work_dir)
    shard_files = [(work_dir / writers.SHARD_NAME.format(info["task"]), n) for info, n in used]
    write_errors(output, errors)
    if fmt == "pt":
        writers.write_json(record_path(output), {**manifest, "counts": totals})  # before the .pt: see run()
        writers.write_pt(output, shard_files, manifest.get("fps", 25.0))
        shutil.rmtree(work_dir)
    else:
        keep = {path.name for path, _ in shard_files}
        for extra in work_dir.glob(writers.SHARD_GLOB):  # mapped beyond the --max-samples cut
            if extra.name not in keep:
                extra.unlink()
        from amass_fast.labels import ACTION_TYPES

        writers.write_json(work_dir / writers.MANIFEST_NAME, {
            **manifest, "format": writers.MANIFEST_FORMAT, "format_version": 1,
            "actions_vocabulary": list(ACTION_TYPES), "counts": totals,
            "shards": [{"file": path.name, "clips": n} for path, n in shard_files],
        })
    return totals, rows


def summary_table(totals: dict, seconds: float, backend: str, output: Path, fps: float = 25.0) -> str:
    """The end-of-run table: files, clips, hours of motion, what the window plan cost (padded windows and their
    held frames, motion in no clip, motion in two clips), throughput, backend (the labels coverage report follows
    it)."""
    def minutes(frames: int) -> str:
        return f"{frames / fps / 60:,.1f} min"

    rows = [
        ("files seen", f"{totals['files']:,}"),
        ("converted", f"{totals['converted']:,}"),
        ("skipped (no motion)", f"{totals['no_motion']:,}"),
        ("failed", f"{totals['failed']:,}"),
        ("clips written", f"{totals['clips']:,}"),
        ("hours of motion", f"{totals['seconds'] / 3600:,.2f}"),
        ("windows padded", f"{totals.get('padded_windows', 0):,} ({minutes(totals.get('held_frames', 0))} of "
                           f"held frames)"),
        ("motion in no clip", minutes(totals.get("dropped_frames", 0))),
        ("motion in two clips", minutes(totals.get("overlap_frames", 0))),
        ("time", f"{seconds:,.1f} s"),
        ("throughput", f"{totals['converted'] / max(seconds, 1e-9):,.1f} sequences/s, "
                       f"{totals['frames'] / max(seconds, 1e-9):,.0f} source frames/s"),
        ("backend", backend),
        ("output", str(output)),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
