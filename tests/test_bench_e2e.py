"""benches/bench_e2e.py: its floors read what the pipeline reads (on a tiny corpus; timings are not checked)."""
from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import numpy as np

from amass_fast.io.formats import load_sequence

_SPEC = importlib.util.spec_from_file_location("bench_e2e", Path(__file__).resolve().parents[1] / "benches" /
                                               "bench_e2e.py")
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


def test_the_floors_and_the_load_count_the_same_frames(tmp_path):
    paths = bench.make_corpus(tmp_path / "corpus", 3, (1.0, 2.0))
    frames = sum(load_sequence(p).num_frames for p in paths)
    for measure in (bench.measure_floor, bench.measure_read_bytes, bench.measure_load):
        assert measure(paths) == {"sequences": 3, "frames": frames}, measure.__name__


def test_read_bytes_maps_exactly_the_stored_poses_and_trans(tmp_path):
    path = bench.make_corpus(tmp_path / "corpus", 1, (1.0, 1.0))[0]
    seq = load_sequence(path)
    with open(path, "rb") as f, zipfile.ZipFile(f) as z:
        np.testing.assert_array_equal(bench._stored_array(f, z, "poses"), seq.poses)
        np.testing.assert_array_equal(bench._stored_array(f, z, "trans"), seq.trans)


def test_members_in_order_reads_every_member_of_the_archive(tmp_path):
    corpus = tmp_path / "corpus"
    paths = bench.make_corpus(corpus, 3, (0.5, 1.0))
    archive = bench.make_archive(corpus, tmp_path / "archives")
    size = sum(p.stat().st_size for p in paths)
    frames = sum(load_sequence(p).num_frames for p in paths)
    assert bench.measure_decompress(archive, 1) == {"sequences": 3, "bytes": size}
    assert bench.measure_members_in_order(archive.parent, tmp_path) == {"sequences": 3, "frames": frames}
