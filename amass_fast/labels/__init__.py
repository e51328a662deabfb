"""Per-clip action labels and descriptions (docs/LABELS.md is the user's guide).

CONTRACT used by the pipeline (amass_fast.process); keep it stable:

    labeler = Labeler(babel_dir=None, humanml3d_dir=None, seed=0)     # cheap to build in each worker process
    labeler.check()                                                    # FileNotFoundError / ValueError, say what to do
    lab = labeler.label(rel_path, start_s, valid_frames, window, fps, *, source_fps=None, source_frames=None,
                        motion=None)                                   # -> ClipLabel
    lab.action: str            ActionType value, e.g. "walk"
    lab.actions: np.ndarray    int64 [window], per-frame ActionType index (padded frames repeat the last one)
    lab.description: str
    lab.source: str            "babel" | "cmu" | "keywords" | "motion" | "idle"
    lab.description_source:    "humanml3d" | "cmu" | "motion" | "template"
    text, data = coverage_report(clips, tree_paths, labeler)           # amass_fast.labels.report

rel_path is the sequence file relative to the AMASS root, "/"-separated, in a flat tree ("CMU/01/01_01_poses.npz")
or one nested by archive name ("BMLrub/BioMotionLab_NTroje/..."); SMPL+H and SMPL-X spellings alike
(amass_fast.labels.identity). ``motion`` (amass_fast.labels.motion.ClipMotion) is the clip's front-view stick and
root translation; without it, a clip no other source labels is "idle".

Sources, best first: BABEL (amass_fast.labels.babel), the CMU index (.cmu), words in the file's path (.keywords),
the motion itself (.motion); descriptions: HumanML3D (.humanml3d), the CMU index, what the motion source measured,
a template sentence. The `labels` command lives in amass_fast.cli.labels.

May import amass_fast.io and amass_fast.schemas; never kernels, outputs, process or cli.
"""
from __future__ import annotations

from amass_fast.labels.actions import ACTION_INDEX, ACTION_TYPES, main_action, specificity, stable_seed, \
    template_description
from amass_fast.labels.babel import BabelSequence, babel_action_table, babel_index
from amass_fast.labels.cmu import cmu_action_and_sentence, cmu_descriptions, cmu_sentence
from amass_fast.labels.humanml3d import HUMANML3D_FPS, HUMANML3D_TRIM, humanml3d_captions, humanml3d_index
from amass_fast.labels.identity import dataset_folder, sequence_key
from amass_fast.labels.keywords import keyword_action, path_action, words
from amass_fast.labels.labeler import DESCRIPTION_SOURCES, LABEL_SOURCES, ClipLabel, Labeler
from amass_fast.labels.motion import ClipMotion, classify_motion
from amass_fast.labels.report import coverage_report, coverage_table

__all__ = [
    "ACTION_INDEX", "ACTION_TYPES", "DESCRIPTION_SOURCES", "LABEL_SOURCES", "HUMANML3D_FPS", "HUMANML3D_TRIM",
    "BabelSequence", "ClipLabel", "ClipMotion", "Labeler", "babel_action_table", "babel_index", "classify_motion",
    "cmu_action_and_sentence", "cmu_descriptions", "cmu_sentence", "coverage_report", "coverage_table",
    "dataset_folder", "humanml3d_captions", "humanml3d_index", "keyword_action", "main_action", "path_action",
    "sequence_key", "specificity", "stable_seed", "template_description", "words",
]
