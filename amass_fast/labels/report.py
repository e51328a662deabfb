"""Coverage of a labelling run: clips per label source, per dataset and per action, and for each annotation folder
how much of the tree it covers, with warnings that name the likely cause when it covers little.

    text, data = coverage_report(clips, tree_paths, labeler)

``clips``: (rel_path, dataset, label_source, action, description_source) per clip; ``tree_paths``: every motion
file of the tree relative to the AMASS root; ``data`` is JSON-able, ``data["warnings"]`` lists the warnings (also in
``text``).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable, Mapping, Optional, Sequence

from amass_fast.labels.actions import ACTION_TYPES
from amass_fast.labels.babel import babel_index
from amass_fast.labels.humanml3d import humanml3d_index
from amass_fast.labels.identity import dataset_folder, is_smplx_name, sequence_key
from amass_fast.labels.labeler import DESCRIPTION_SOURCES, LABEL_SOURCES, Labeler

LOW_COVERAGE = 0.5   # an annotation folder covering less of its datasets' files than this is a warning
EXAMPLES = 5         # unmatched paths listed per annotation folder

ClipRow = tuple[str, str, str, str, str]


def coverage_table(counts: Mapping[str, int], rows: Sequence[str] = LABEL_SOURCES,
                   title: str = "action from") -> str:
    """A table of clip counts and percentages per source (rows in this order, then any other keys, then total)."""
    names = list(rows) + sorted(k for k in counts if k not in rows)
    total = sum(counts.get(name, 0) for name in names)
    width = max(len(title), *(len(n) for n in names), len("total"))
    lines = [f"{title:<{width}}  {'clips':>9}  {'%':>6}"]
    for name in names + ["total"]:
        n = total if name == "total" else counts.get(name, 0)
        lines.append(f"{name:<{width}}  {n:>9,}  {100.0 * n / total if total else 0.0:>6.1f}")
    return "\n".join(lines)


def _dataset_table(per_dataset: Mapping[str, Mapping[str, int]]) -> str:
    sources = [s for s in LABEL_SOURCES if any(s in c for c in per_dataset.values())]
    width = max([len("dataset")] + [len(d) for d in per_dataset])
    lines = [f"{'dataset':<{width}}" + "".join(f"  {s:>9}" for s in sources) + f"  {'total':>9}"]
    for dataset in sorted(per_dataset):
        counts = per_dataset[dataset]
        lines.append(f"{dataset:<{width}}" + "".join(f"  {counts.get(s, 0):>9,}" for s in sources)
                     + f"  {sum(counts.values()):>9,}")
    return "\n".join(lines)


def annotation_coverage(name: str, annotated: Mapping[str, str], tree_paths: Sequence[str]) -> dict:
    """How an annotation set (sequence_key -> its own path spelling) meets a tree: sequences found, tree files
    covered (of all files and of the files of the datasets it annotates), first unmatched paths of both sides, and
    a warning naming the likely cause when it covers under LOW_COVERAGE of those files."""
    tree_keys = {sequence_key(p): p for p in tree_paths}
    annotated_datasets = {dataset_folder(p).lower() for p in annotated.values()}
    tree_datasets = {dataset_folder(p).lower() for p in tree_paths}
    common = annotated_datasets & tree_datasets
    found = [k for k in annotated if k in tree_keys]
    in_common = [p for p in tree_paths if dataset_folder(p).lower() in common]
    covered = [p for p in in_common if sequence_key(p) in annotated]
    share = len(covered) / len(in_common) if in_common else 0.0
    result = {
        "annotation": name, "sequences": len(annotated), "found_in_tree": len(found),
        "tree_files": len(tree_paths), "tree_files_covered": len(covered),
        "files_of_its_datasets": len(in_common), "coverage_of_its_datasets": round(share, 4),
        "unmatched_annotations": [annotated[k] for k in annotated
                                  if k not in tree_keys and dataset_folder(annotated[k]).lower() in common][:EXAMPLES],
        "unmatched_tree_files": [p for p in in_common if sequence_key(p) not in annotated][:EXAMPLES],
        "warning": None,
    }
    if not tree_paths:
        return result
    if not covered or share < LOW_COVERAGE:
        what = "matches no file of the tree" if not covered else \
            f"covers only {100 * share:.0f}% of the files of the datasets it annotates"
        if not common:
            cause = (f"none of the datasets it annotates ({', '.join(sorted(annotated_datasets)[:6]) or 'none'}) is "
                     f"in the tree ({', '.join(sorted(tree_datasets)[:6])}): a wrong folder for {name}, or "
                     "--amass-root not the folder that holds the dataset folders")
        elif sum(map(is_smplx_name, in_common)) > len(in_common) / 2:
            cause = ("the tree holds SMPL-X files (_stageii.npz): the annotations were made on the SMPL+H release, "
                     "whose files are not all in the SMPL-X one; use the SMPL+H archives for full coverage")
        else:
            cause = ("its paths and the tree's differ below the dataset folder: check that --amass-root is the "
                     "folder holding the dataset folders (or their archive-name folders, nested) and that the "
                     f"{name} release matches this AMASS release")
        result["warning"] = f"warning: {name} {what}; likely cause: {cause}"
    return result


def coverage_report(clips: Iterable[ClipRow], tree_paths: Sequence[str], labeler: Optional[Labeler] = None,
                    *, motion_available: bool = True) -> tuple[str, dict]:
    """The printable coverage report and its JSON-able data (module docstring). ``motion_available`` False (the
    `labels` command, which does not convert) adds a line saying how many clips `process` labels from the motion."""
    sources, descriptions, actions = Counter(), Counter(), Counter()
    per_dataset: dict[str, Counter] = defaultdict(Counter)
    for _, dataset, source, action, description_source in clips:
        sources[source] += 1
        descriptions[description_source] += 1
        actions[action] += 1
        per_dataset[dataset][source] += 1
    annotations = []
    if labeler is not None and labeler.babel_dir is not None:
        annotations.append(annotation_coverage(f"BABEL ({labeler.babel_dir})",
                                               babel_index(labeler.babel_dir).annotated, tree_paths))
    if labeler is not None and labeler.humanml3d_dir is not None:
        annotations.append(annotation_coverage(f"HumanML3D ({labeler.humanml3d_dir})",
                                               humanml3d_index(labeler.humanml3d_dir).annotated, tree_paths))
    warnings = [a["warning"] for a in annotations if a["warning"]]
    data = {
        "clips": sum(sources.values()), "label_sources": dict(sources), "description_sources": dict(descriptions),
        "actions": {a: actions[a] for a in ACTION_TYPES if actions[a]},
        "datasets": {d: dict(c) for d, c in sorted(per_dataset.items())},
        "annotations": annotations, "warnings": warnings,
    }
    parts = [coverage_table(sources), coverage_table(descriptions, DESCRIPTION_SOURCES, "description from"),
             _dataset_table(per_dataset) if per_dataset else "",
             "actions: " + ", ".join(f"{a} {n:,}" for a, n in data["actions"].items())]
    if not motion_available and sources.get("idle"):
        parts.append(f"{sources['idle']:,} clips have no annotation, CMU description or name keyword: `process` "
                     "labels them from the motion itself (label source \"motion\").")
    for a in annotations:
        lines = [f"{a['annotation']}: {a['found_in_tree']:,} of {a['sequences']:,} sequences found in the tree; "
                 f"covers {a['tree_files_covered']:,} of {a['tree_files']:,} files "
                 f"({100 * a['coverage_of_its_datasets']:.1f}% of the {a['files_of_its_datasets']:,} files of the "
                 "datasets it annotates)"]
        if a["unmatched_annotations"]:
            lines.append("  annotated, not in the tree: " + "; ".join(a["unmatched_annotations"]))
        if a["unmatched_tree_files"]:
            lines.append("  in the tree, not annotated: " + "; ".join(a["unmatched_tree_files"]))
        parts.append("\n".join(lines))
    parts.extend(warnings)
    return "\n\n".join(p for p in parts if p), data
