"""process --archives: each member is loaded (every check) as it is decoded, and only what the kernels read is
spooled; the sequences come back in the tree's order."""
from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from amass_fast.harness import synthetic
from amass_fast.io.formats import FormatError, NoMotion, Sequence, load_sequence
from amass_fast.process import plan

pytest.importorskip("amass_fast.io.archive")


def _tree_with_a_broken_file(root):
    paths = synthetic.make_tree(root, ["CMU"], files_per_dataset=3, seconds=(1.0, 2.0), seed=4)
    motion = [p for p in paths if p.name.endswith("_poses.npz")]
    broken = motion[1]
    with np.load(broken) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["poses"][2, 5] = np.nan
    np.savez(broken, **arrays)
    return paths, broken


def test_members_arrive_loaded_in_tree_order_with_body_poses_only(tmp_path, monkeypatch):
    root = tmp_path / "amass"
    paths, broken = _tree_with_a_broken_file(root)
    synthetic.make_archive(root, "CMU", tmp_path / "downloads" / "CMU.tar.bz2", compresslevel=1)
    spools = []
    real = tempfile.TemporaryFile

    def recording(*args, **kwargs):
        spools.append(real(*args, **kwargs))
        return spools[-1]
    monkeypatch.setattr(plan.tempfile, "TemporaryFile", recording)

    items = []
    for rel, source in plan.source_items(archives=str(tmp_path / "downloads"), spool_dir=tmp_path):
        if isinstance(source, Sequence):
            spooled = os.fstat(spools[0].fileno()).st_size  # still open while the members are handed out
        items.append((rel, source))
    tree_order = [rel for rel, _ in plan.source_items(amass_root=str(root))]
    assert [rel for rel, _ in items] == tree_order
    frames = 0
    for rel, source in items:
        path = root / rel
        if path == broken:
            assert isinstance(source, FormatError) and "NaN" in str(source) and str(source).startswith(rel)
        elif isinstance(source, NoMotion):
            assert isinstance(load_sequence(path), NoMotion)
        else:
            whole = load_sequence(path)
            assert source.poses.shape == (whole.num_frames, 66) and source.poses.dtype == np.float32
            np.testing.assert_array_equal(source.poses, whole.poses[:, :66].astype(np.float32))
            np.testing.assert_array_equal(source.trans, whole.trans.astype(np.float32))
            assert (source.fps, source.kind, source.gender, source.path) == (whole.fps, whole.kind, whole.gender, rel)
            np.testing.assert_array_equal(source.betas, whole.betas)
            frames += whole.num_frames
    assert frames and spooled == frames * (66 + 3) * 4  # the body poses and trans in float32, nothing more
