"""The labeler: combines the label sources, best first (see amass_fast.labels and docs/LABELS.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

import numpy as np

from amass_fast.labels.actions import ACTION_INDEX, ACTION_TYPES, IDLE, main_action, sentence, stable_seed, \
    template_description
from amass_fast.labels.babel import babel_index
from amass_fast.labels.cmu import cmu_action_and_sentence
from amass_fast.labels.humanml3d import HUMANML3D_FPS, HUMANML3D_TRIM, humanml3d_captions, humanml3d_index
from amass_fast.labels.identity import is_smplx_name, sequence_key
from amass_fast.labels.keywords import path_action
from amass_fast.labels.motion import ClipMotion, classify_motion

LABEL_SOURCES = ("babel", "cmu", "keywords", "motion", "idle")
DESCRIPTION_SOURCES = ("humanml3d", "cmu", "motion", "template")
_RATE_MISMATCH = 0.05  # an SMPL-X file whose length differs from BABEL's dur by more than this has another rate


@dataclass
class ClipLabel:
    """One clip's labels: ``action`` (main ActionType value), ``actions`` int64 [window] per frame, ``description``,
    ``source`` (LABEL_SOURCES), ``description_source`` (DESCRIPTION_SOURCES), ``measures`` (the motion source's
    measurements, empty otherwise)."""
    action: str
    actions: np.ndarray
    description: str
    source: str
    description_source: str = "template"
    measures: dict = field(default_factory=dict)


class Labeler:
    """Labels clips. Building one is free: the BABEL and HumanML3D indexes load on the first clip that needs them,
    once per process, and are shared by every Labeler with the same folders."""

    def __init__(self, babel_dir: Optional[str] = None, humanml3d_dir: Optional[str] = None, seed: int = 0):
        self.babel_dir = None if babel_dir is None else os.path.abspath(os.fspath(babel_dir))
        self.humanml3d_dir = None if humanml3d_dir is None else os.path.abspath(os.fspath(humanml3d_dir))
        self.seed = seed

    def check(self) -> None:
        """Load the BABEL and HumanML3D indexes now, so that a wrong folder is reported before any work starts.
        Raises FileNotFoundError or ValueError naming the file and what to do."""
        if self.babel_dir is not None:
            babel_index(self.babel_dir)
        if self.humanml3d_dir is not None:
            humanml3d_index(self.humanml3d_dir)

    def label(self, rel_path: str, start_s: float, valid_frames: int, window: int, fps: float, *,
              source_fps: Optional[float] = None, source_frames: Optional[int] = None,
              motion: Union[ClipMotion, Callable[[], ClipMotion], None] = None) -> ClipLabel:
        """Label the clip of ``rel_path`` (relative to the AMASS root) starting at ``start_s`` seconds with
        ``valid_frames`` real frames of ``window`` at ``fps``. ``source_fps`` / ``source_frames`` (the file's own
        rate and length) make annotation times exact; ``motion`` (a ClipMotion, or a function giving one, called only
        when needed) lets clips no other source labels be labelled from the motion itself (source "motion")."""
        valid = max(1, min(int(valid_frames), int(window)))
        times = start_s + np.arange(valid) / fps
        key = sequence_key(rel_path)
        scale = self._time_scale(rel_path, key, source_fps, source_frames)
        frame_actions, source = self._frame_actions(rel_path, key, times, scale)
        measured = None
        if source == "idle" and motion is not None:
            measured = classify_motion(motion() if callable(motion) else motion, fps)
            frame_actions, source = np.full(valid, ACTION_INDEX[measured.action], dtype=np.int64), "motion"
        actions = np.full(window, frame_actions[-1], dtype=np.int64)
        actions[:valid] = frame_actions
        action = ACTION_TYPES[main_action(frame_actions)]

        rng = np.random.default_rng(stable_seed(self.seed, rel_path, f"{start_s:.6f}"))
        clip_span = (float(times[0]), float(times[0]) + valid / fps)
        description, description_source = self._caption(key, clip_span, source_fps, scale, rng), "humanml3d"
        if description is None:
            description, description_source = cmu_action_and_sentence(rel_path)[1], "cmu"
        if description is None and measured is not None:
            description, description_source = measured.description, "motion"
        if description is None:
            description, description_source = template_description(action, rng), "template"
        return ClipLabel(action, actions, description, source, description_source,
                         measured.measures if measured is not None else {})

    def _time_scale(self, rel_path: str, key: str, source_fps: Optional[float],
                    source_frames: Optional[int]) -> float:
        """How much longer the file's clock runs than the annotated SMPL+H file's: 1, except for an SMPL-X file
        with another frame rate than its SMPL+H twin (same frames), found from BABEL's duration."""
        if self.babel_dir is None or not source_fps or not source_frames or not is_smplx_name(rel_path):
            return 1.0
        sequence = babel_index(self.babel_dir).sequences.get(key)
        if sequence is None or sequence.duration <= 0:
            return 1.0
        ratio = (source_frames / source_fps) / sequence.duration
        return ratio if abs(ratio - 1.0) > _RATE_MISMATCH else 1.0

    def _frame_actions(self, rel_path: str, key: str, times: np.ndarray, scale: float) -> tuple[np.ndarray, str]:
        if self.babel_dir is not None:
            sequence = babel_index(self.babel_dir).sequences.get(key)
            if sequence is not None:
                return sequence.frame_actions(times, scale), "babel"
        for source, action in (("cmu", cmu_action_and_sentence(rel_path)[0]), ("keywords", path_action(rel_path))):
            if action is not None:
                return np.full(len(times), ACTION_INDEX[action], dtype=np.int64), source
        return np.full(len(times), IDLE, dtype=np.int64), "idle"

    def _caption(self, key: str, clip: tuple[float, float], source_fps: Optional[float], scale: float,
                 rng: np.random.Generator) -> Optional[str]:
        """A HumanML3D caption for the clip [start, end) seconds, or None: the span that overlaps the clip most,
        when the overlap covers at least half of the shorter of clip and span."""
        if self.humanml3d_dir is None:
            return None
        index = humanml3d_index(self.humanml3d_dir)
        spans = index.spans.get(key)
        if not spans:
            return None
        frame_s = 1.0 / HUMANML3D_FPS
        annotated_fps = source_fps * scale if source_fps else None  # the SMPL+H file's rate
        if annotated_fps:  # HumanML3D took every int(fps / 20)-th frame of the file
            frame_s = max(1, int(annotated_fps / HUMANML3D_FPS)) / annotated_fps
        frame_s *= scale
        offset = HUMANML3D_TRIM.get(key.split("/")[0], 0)
        best, best_overlap = None, 0.0
        for span in spans:
            start, end = (offset + span.start) * frame_s, (offset + span.end) * frame_s
            overlap = min(end, clip[1]) - max(start, clip[0])
            if overlap > best_overlap and overlap >= 0.5 * min(end - start, clip[1] - clip[0]):
                captions = humanml3d_captions(str(index.texts), span.name)
                if captions:
                    best, best_overlap = (start, captions), overlap
        if best is None:
            return None
        start, captions = best
        # Captions of a part of the span (start/end seconds on HumanML3D's clock) count where they meet the clip.
        step = frame_s * HUMANML3D_FPS
        fitting = [c for c, s, e in captions
                   if (s == 0.0 and e == 0.0) or (start + s * step < clip[1] and start + e * step > clip[0])]
        choices = fitting or [c for c, _, _ in captions]
        return sentence(choices[int(rng.integers(len(choices)))])
