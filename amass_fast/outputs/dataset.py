"""StickClips: a torch Dataset over `amass-fast process` output, either format.

    clips = StickClips("data/amass_stick_data.pt")     # the .pt list of samples
    clips = StickClips("data/amass_stick_shards")      # a shards folder (manifest.json + shard-*.npz)
    clips[i] -> {"motion": float32 [250, 20], "actions": int64 [250], "action", "description", "source", "meta"}
    clips = StickClips(path, transform=ToSchema("stick12"))   # each sample passed through a transform

A ``transform`` is any callable taking and returning a sample dict; amass_fast.schemas has RandomCamera, Mirror,
ToSchema and Compose, which turn stored joints3d into any 2D schema (docs/SCHEMAS.md, "Transforms").

Shards are memory-mapped, and opened lazily in each process that reads them, so a DataLoader with several workers
shares the page cache instead of copying the dataset into every worker.
"""
from __future__ import annotations

import bisect
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from amass_fast.io import guarded
from amass_fast.outputs import writers


def _samples_problem(samples: Any) -> Optional[str]:
    """What makes a loaded .pt not a list of our samples (None when it is one): each a dict with ``motion`` a float
    tensor [T, ...], ``actions`` (where present) an integer tensor [T], ``action`` and ``description`` strings, ``meta`` a dict."""
    if not isinstance(samples, list):
        return f"holds a {type(samples).__name__}, expected a list of samples"
    for i, sample in enumerate(samples):
        if not isinstance(sample, dict):
            return f"sample {i} is a {type(sample).__name__}, not a dict"
        motion, actions = sample.get("motion"), sample.get("actions")
        if not (isinstance(motion, torch.Tensor) and motion.is_floating_point() and motion.ndim >= 2
                and motion.shape[0] > 0):
            return f"sample {i} has no float tensor 'motion' [T, ...]"
        if actions is not None and not (isinstance(actions, torch.Tensor) and not actions.is_floating_point()
                                        and actions.ndim == 1 and len(actions) == len(motion)):
            return f"sample {i} has no integer tensor 'actions' [T] beside its motion"
        if not (isinstance(sample.get("action"), str) and isinstance(sample.get("description"), str)
                and isinstance(sample.get("meta", {}), dict)):
            return f"sample {i} lacks the strings 'action', 'description' or the dict 'meta'"
    return None


class StickClips(Dataset):
    """Samples of a ``.pt`` file or a shards folder written by ``amass-fast process``; ``transform`` (optional) is
    applied to each sample as it is read."""

    def __init__(self, path: Union[str, os.PathLike], transform: Optional[Callable[[dict], Any]] = None):
        self.path = Path(path)
        self.transform = transform
        if self.path.is_dir():
            if not (self.path / writers.MANIFEST_NAME).exists():
                raise FileNotFoundError(f"{self.path}: no {writers.MANIFEST_NAME}; the run that writes it has not "
                                        f"finished: rerun `amass-fast process --format shards --resume` with its flags")
            self.manifest, self._shards = writers.read_manifest(self.path)
            self._ends = np.cumsum([n for _, n in self._shards]).tolist()
            self._samples = None
            self._opened: dict = {}
            self._pid = None
        elif self.path.is_file():
            self.manifest = None
            again = ("pass the .pt output or shards folder of `amass-fast process`, or write it again with "
                     "`amass-fast process --overwrite`")
            try:
                with guarded.open_regular(self.path, "clips") as f:
                    self._samples = torch.load(f, weights_only=True)
            except (PermissionError, guarded.ReadRefused):
                raise
            except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, TypeError,
                    AttributeError, ImportError) as exc:  # never with weights_only=False
                raise ValueError(f"{self.path}: not a clips file written by `amass-fast process`, or a damaged one "
                                 f"(torch.load: {type(exc).__name__}); {again}") from None
            problem = _samples_problem(self._samples)
            if problem:
                raise ValueError(f"{self.path}: {problem}, not the samples `amass-fast process` writes; {again}")
        else:
            raise FileNotFoundError(f"{self.path}: no such file or folder; run `amass-fast process` to write it")

    @property
    def actions_vocabulary(self) -> list[str]:
        """ActionType values; ``actions`` holds indices into this list."""
        if self.manifest is not None:
            return list(self.manifest["actions_vocabulary"])
        from amass_fast.labels import ACTION_TYPES

        return list(ACTION_TYPES)

    def __len__(self) -> int:
        return len(self._samples) if self._samples is not None else (self._ends[-1] if self._ends else 0)

    def __getitem__(self, index: int) -> dict:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"clip {index} out of range for {n} clips in {self.path}")
        sample = self._samples[index] if self._samples is not None else self._read(index)
        return sample if self.transform is None else self.transform(sample)

    def _read(self, index: int) -> dict:
        shard = bisect.bisect_right(self._ends, index)
        row = index - (self._ends[shard - 1] if shard else 0)
        motion, actions, clips = self._open(shard)
        return writers.make_sample(torch.from_numpy(np.array(motion[row])), torch.from_numpy(np.array(actions[row])),
                                   clips[row], float(self.manifest.get("fps", 25.0)))

    def _open(self, shard: int):
        # Memory maps and open files do not survive fork/pickling into workers: each process opens its own.
        if self._pid != os.getpid():
            self._opened, self._pid = {}, os.getpid()
        if shard not in self._opened:
            path, clips = self._shards[shard]
            try:
                opened = (*writers.open_shard(path, len(self.actions_vocabulary)), writers.read_shard_clips(path))
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                raise ValueError(f"{path}: damaged or missing shard ({type(exc).__name__}: {exc}); write it again "
                                 f"with `amass-fast process --format shards --resume` and the run's flags") from None
            if not len(opened[0]) == len(opened[1]) == len(opened[2]) >= clips:
                raise ValueError(f"{path}: holds {len(opened[2])} clips where {writers.MANIFEST_NAME} says {clips}; "
                                 f"write the output again with `amass-fast process --overwrite`")
            self._opened[shard] = opened
        return self._opened[shard]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_opened": {}, "_pid": None}
