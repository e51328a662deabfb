"""`amass-fast process` end to end on tiny synthetic trees (amass_fast.process)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from amass_fast.io import atomic
from amass_fast import process
from amass_fast.process import mapping
from amass_fast.harness import synthetic
from amass_fast.outputs import writers
from amass_fast.cli import main
from amass_fast.process.clips import plan_windows
from amass_fast.io.formats import NoMotion, load_sequence
from amass_fast.labels import ACTION_TYPES

# Tiny clips keep the float64 reference backend fast: 1.5-3 s sequences, 1 s windows.
FAST = ["--window", "25", "--backend", "reference", "--jobs", "1", "--batch-files", "3"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("amass")
    synthetic.make_tree(root, ["CMU", "BMLmovi", "KIT"], files_per_dataset=3, seconds=(1.5, 3.0), seed=1)
    return root


def run(*argv):
    return main(["process", *map(str, argv)])


def expected_clips(root, window=25):
    count = 0
    for path in sorted(root.rglob("*.npz")):
        seq = load_sequence(path)
        if not isinstance(seq, NoMotion):
            count += len(plan_windows(seq.num_frames, seq.fps, window=window))
    return count


def shard_arrays(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    motion = np.concatenate([writers.open_shard(folder / s["file"])[0][: s["clips"]] for s in manifest["shards"]])
    clips = [c for s in manifest["shards"] for c in writers.read_shard_clips(folder / s["file"])[: s["clips"]]]
    return manifest, motion, clips


def interrupt_at_task(monkeypatch, index):
    """Ctrl-C when task `index` is finished (the tasks before it are done); monkeypatch.undo() restores."""
    real_finish = mapping.finish_task

    def interrupted(loaded, opts, work_dir):
        if loaded.index == index:
            raise KeyboardInterrupt
        return real_finish(loaded, opts, work_dir)

    monkeypatch.setattr(mapping, "finish_task", interrupted)


def test_pt_output_has_the_contract(tree, tmp_path, capsys):
    out = tmp_path / "amass_stick_data.pt"
    assert run("--amass-root", tree, "--output", out, *FAST) == 0
    table = capsys.readouterr().out
    assert "skipped (no motion)  2" in table  # BMLmovi's two shape.npz
    assert "backend              reference" in table
    # Plain torch.load(weights_only=True) in an interpreter without amass_fast on its path.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import sys, torch; print(len(torch.load(sys.argv[1], weights_only=True)))"
    n = int(subprocess.run([sys.executable, "-c", code, str(out)], env=env, cwd=tmp_path, capture_output=True,
                           text=True, check=True).stdout)
    assert n == expected_clips(tree) > 9
    samples = torch.load(out, weights_only=True)
    for s in samples:
        assert s["motion"].dtype == torch.float32 and tuple(s["motion"].shape) == (25, 20)
        assert s["actions"].dtype == torch.int64 and tuple(s["actions"].shape) == (25,)
        assert s["action"] in ACTION_TYPES and isinstance(s["description"], str) and s["source"] == "amass"
        meta = s["meta"]
        assert meta["file"].startswith(meta["dataset"] + "/") and meta["view"] == "front"
        assert 1 <= meta["valid_length"] <= 25 and meta["source_fps"] > 0 and meta["start_s"] >= 0
        assert torch.isfinite(s["motion"]).all()
        # Padded frames hold the last valid frame.
        v = meta["valid_length"]
        assert torch.equal(s["motion"][v:], s["motion"][v - 1].expand(25 - v, 20))
    assert not (tmp_path / "amass_stick_data.pt.parts").exists()
    assert not (tmp_path / "amass_stick_data.pt.errors.jsonl").exists()


def test_shards_equal_pt(tree, tmp_path):
    assert run("--amass-root", tree, "--output", tmp_path / "a.pt", *FAST) == 0
    assert run("--amass-root", tree, "--output", tmp_path / "sh", "--format", "shards", *FAST) == 0
    samples = torch.load(tmp_path / "a.pt", weights_only=True)
    manifest, motion, clips = shard_arrays(tmp_path / "sh")
    assert manifest["counts"]["clips"] == len(samples) == len(motion)
    assert manifest["counts"]["converted"] == 9 and manifest["counts"]["no_motion"] == 2  # 3 datasets x 3 files
    assert manifest["actions_vocabulary"] == list(ACTION_TYPES) and manifest["backend"] == "reference"
    np.testing.assert_array_equal(motion, np.stack([s["motion"].numpy() for s in samples]))
    assert [c["file"] for c in clips] == [s["meta"]["file"] for s in samples]
    assert sorted(p.name for p in (tmp_path / "sh").iterdir()) == sorted(
        ["manifest.json", "run.json"] + [s["file"] for s in manifest["shards"]])


def test_resume_after_interruption_equals_an_uninterrupted_run(tree, tmp_path, monkeypatch):
    full = tmp_path / "full"
    assert run("--amass-root", tree, "--output", full, "--format", "shards", *FAST) == 0

    part = tmp_path / "part"
    real_finish, calls = mapping.finish_task, []

    def interrupted(loaded, opts, work_dir):  # Ctrl-C while the third task converts
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(loaded.index)
        return real_finish(loaded, opts, work_dir)

    monkeypatch.setattr(mapping, "finish_task", interrupted)
    assert run("--amass-root", tree, "--output", part, "--format", "shards", *FAST) == 130
    monkeypatch.setattr(mapping, "finish_task", real_finish)
    assert sorted(p.name for p in part.glob("shard-*")) == ["shard-000000.npz", "shard-000001.npz"]
    assert not (part / "manifest.json").exists()
    # Damage what is there: a half-written temp file and a truncated shard.
    Path(atomic.temporary_name(part / "shard-000002.npz")).write_bytes(b"PK\x03\x04 half")
    data = (part / "shard-000001.npz").read_bytes()
    (part / "shard-000001.npz").write_bytes(data[:100])

    assert run("--amass-root", tree, "--output", part, "--format", "shards", *FAST) == 2  # refused without --resume
    assert run("--amass-root", tree, "--output", part, "--format", "shards", *FAST, "--resume") == 0
    for name in sorted(p.name for p in full.iterdir()):
        assert (part / name).read_bytes() == (full / name).read_bytes(), name
    assert sorted(p.name for p in part.iterdir()) == sorted(p.name for p in full.iterdir())


def test_resume_pt_and_refuse_other_flags(tree, tmp_path, monkeypatch):
    full = tmp_path / "full.pt"
    assert run("--amass-root", tree, "--output", full, *FAST) == 0
    out = tmp_path / "out.pt"

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(writers, "write_pt", boom)  # interrupted in the reduce: every shard is done
    assert run("--amass-root", tree, "--output", out, *FAST) == 130
    monkeypatch.undo()
    assert not out.exists() and (tmp_path / "out.pt.parts").is_dir()
    # What a run killed while writing the .pt (say by the OOM killer) leaves beside it: removed on the next run.
    Path(atomic.temporary_name(tmp_path / "out.pt")).write_bytes(b"PK\x03\x04 half")
    Path(atomic.temporary_name(tmp_path / "out.pt.errors.jsonl")).write_text("{")
    other = Path(atomic.temporary_name(tmp_path / "other.pt"))
    other.write_bytes(b"not ours")
    assert run("--amass-root", tree, "--output", out, *FAST, "--resume", "--stride", "10") == 2
    assert run("--amass-root", tree, "--output", out, *FAST, "--resume") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["full.pt", "full.pt.run.json", other.name, "out.pt", "out.pt.run.json"])
    a, b = torch.load(full, weights_only=True), torch.load(out, weights_only=True)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert torch.equal(x["motion"], y["motion"]) and torch.equal(x["actions"], y["actions"])
        assert (x["description"], x["meta"]) == (y["description"], y["meta"])


def test_resume_on_a_finished_pt_compares_its_recorded_flags(tree, tmp_path, capsys):
    out = tmp_path / "out.pt"
    assert run("--amass-root", tree, "--output", out, *FAST) == 0
    record = json.loads((tmp_path / "out.pt.run.json").read_text())
    assert record["flags"]["views"] == 1 and record["counts"]["clips"] == len(torch.load(out, weights_only=True))
    finished = out.read_bytes()
    capsys.readouterr()
    for other in (["--views", "2"], ["--max-samples", "3"], ["--stride", "10"]):
        assert run("--amass-root", tree, "--output", out, *FAST, "--resume", *other) == 2
        err = capsys.readouterr().err
        assert str(out) in err and "other flags" in err and "--overwrite" in err, err
        assert out.read_bytes() == finished
    assert run("--amass-root", tree, "--output", out, *FAST, "--resume") == 0
    assert "nothing to do" in capsys.readouterr().out and out.read_bytes() == finished
    (tmp_path / "out.pt.run.json").write_text("{ half")
    assert run("--amass-root", tree, "--output", out, *FAST, "--resume") == 2
    assert "out.pt.run.json: damaged" in capsys.readouterr().err and out.read_bytes() == finished
    (tmp_path / "out.pt.run.json").unlink()
    assert run("--amass-root", tree, "--output", out, *FAST, "--resume") == 2
    assert "out.pt.run.json" in capsys.readouterr().err and out.read_bytes() == finished


def test_max_samples_is_deterministic_and_stops_early(tree, tmp_path):
    assert run("--amass-root", tree, "--output", tmp_path / "all", "--format", "shards", *FAST) == 0
    _, motion_all, clips_all = shard_arrays(tmp_path / "all")
    n = 5
    assert run("--amass-root", tree, "--output", tmp_path / "cap1", "--format", "shards", *FAST,
               "--max-samples", n) == 0
    manifest, motion, clips = shard_arrays(tmp_path / "cap1")
    assert len(motion) == n and clips == clips_all[:n]
    np.testing.assert_array_equal(motion, motion_all[:n])
    assert manifest["counts"]["files"] < 11  # stopped before reading every file
    # Two worker processes (tasks finishing out of order) give the same bytes.
    argv = [a if a != "1" else "2" for a in FAST]
    assert run("--amass-root", tree, "--output", tmp_path / "cap2", "--format", "shards", *argv,
               "--max-samples", n) == 0
    for f in ["manifest.json"] + [s["file"] for s in manifest["shards"]]:
        assert (tmp_path / "cap2" / f).read_bytes() == (tmp_path / "cap1" / f).read_bytes()


def test_bad_file_is_recorded_and_exit_status_is_1(tree, tmp_path, capsys):
    root = tmp_path / "amass"
    synthetic.make_tree(root, ["CMU"], files_per_dataset=2, seconds=(1.5, 2.0), seed=2)
    good_clips = expected_clips(root)
    (root / "CMU" / "01" / "01_05_poses.npz").write_bytes(b"this is not a zip file")
    out = tmp_path / "out.pt"
    assert run("--amass-root", root, "--output", out, *FAST) == 1
    errors = [json.loads(line) for line in (tmp_path / "out.pt.errors.jsonl").read_text().splitlines()]
    assert [e["file"] for e in errors] == ["CMU/01/01_05_poses.npz"]
    assert "01_05_poses.npz" in errors[0]["reason"]
    assert "failed               1" in capsys.readouterr().out
    assert len(torch.load(out, weights_only=True)) == good_clips  # the good files are all there


def test_seed_flags_and_existing_output(tree, tmp_path, capsys):
    out = tmp_path / "seed.pt"
    assert run("--amass_root", tree, "--output", out, "--max_samples", 4, "--batch_size", 100, *FAST) == 0
    assert "batching is automatic" in capsys.readouterr().err
    assert len(torch.load(out, weights_only=True)) == 4
    assert run("--amass_root", tree, "--output", out, *FAST) == 2
    assert "already exists" in capsys.readouterr().err
    assert run("--amass_root", tree, "--output", out, "--overwrite", "--max_samples", 2, *FAST) == 0
    assert len(torch.load(out, weights_only=True)) == 2


def test_views_and_datasets(tree, tmp_path):
    out = tmp_path / "v.pt"
    assert run("--amass-root", tree, "--output", out, "--datasets", "cmu", "--views", "2", "--stride", "25",
               *FAST) == 0
    samples = torch.load(out, weights_only=True)
    assert {s["meta"]["dataset"] for s in samples} == {"CMU"}
    assert [s["meta"]["view"] for s in samples[:4]] == ["front", "yaw:180", "front", "yaw:180"]
    # Turning the camera half way round mirrors screen x about the first-frame pelvis and keeps heights.
    a, b = samples[0]["motion"].reshape(25, 10, 2), samples[1]["motion"].reshape(25, 10, 2)
    torch.testing.assert_close(a[..., 0], -b[..., 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(a[..., 1], b[..., 1], atol=1e-5, rtol=0)


def test_archives_read_in_place_equal_the_extracted_tree(tree, tmp_path):
    pytest.importorskip("amass_fast.io.archive")
    archives = tmp_path / "downloads"
    for folder in ("CMU", "BMLmovi", "KIT"):
        synthetic.make_archive(tree, folder, archives / f"{folder}.tar.bz2", compresslevel=1)
    assert run("--archives", archives, "--output", tmp_path / "a", "--format", "shards", *FAST) == 0
    assert run("--amass-root", tree, "--output", tmp_path / "t", "--format", "shards", *FAST) == 0
    _, motion_a, clips_a = shard_arrays(tmp_path / "a")
    _, motion_t, clips_t = shard_arrays(tmp_path / "t")
    # Archives are read in archive-name order (BMLmovi, CMU, KIT), as the tree is.
    assert clips_a == clips_t
    np.testing.assert_array_equal(motion_a, motion_t)


def test_a_cut_archive_keeps_what_was_read_and_is_recorded(tree, tmp_path):
    pytest.importorskip("amass_fast.io.archive")
    archives = tmp_path / "downloads"
    whole = synthetic.make_archive(tree, "CMU", archives / "CMU.tar.bz2", compresslevel=1)
    data = whole.read_bytes()
    whole.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "cut.pt"
    assert run("--archives", archives, "--output", out, *FAST) == 1
    errors = [json.loads(line) for line in (tmp_path / "cut.pt.errors.jsonl").read_text().splitlines()]
    assert [e["file"] for e in errors] == ["CMU.tar.bz2"]
    # The run finished: whatever members were decoded before the cut are in the output (bzip2 decodes whole
    # blocks, so a small archive cut anywhere may yield none).
    assert isinstance(torch.load(out, weights_only=True), list)


def _motion_with(tree, tmp_path, backend):
    out = tmp_path / f"{backend}.pt"
    argv = [a if a != "reference" else backend for a in FAST]
    assert run("--amass-root", tree, "--output", out, "--datasets", "KIT", *argv) == 0
    return torch.stack([s["motion"] for s in torch.load(out, weights_only=True)])


@pytest.mark.parametrize("backend", ["auto", "numba"])
def test_compiled_backends_agree_with_the_reference(tree, tmp_path, backend):
    from amass_fast.kernels import available_backends

    if backend != "auto" and backend not in available_backends():
        pytest.skip(f"{backend} backend not available here")
    expected = _motion_with(tree, tmp_path, "reference")
    torch.testing.assert_close(_motion_with(tree, tmp_path, backend), expected, atol=1e-4, rtol=0)


@pytest.mark.cuda
def test_cuda_backend_agrees_with_the_reference(tree, tmp_path):
    from amass_fast.kernels import available_backends

    if "cuda" not in available_backends():
        pytest.skip("no CUDA backend here")
    expected = _motion_with(tree, tmp_path, "reference")
    torch.testing.assert_close(_motion_with(tree, tmp_path, "cuda"), expected, atol=1e-4, rtol=0)


def test_inputs_that_give_nothing_to_do_are_refused_before_any_work(tree, tmp_path, capsys):
    out = tmp_path / "out.pt"
    assert run("--archives", tmp_path / "nowhere", "--output", out, *FAST) == 2
    assert "nowhere: no such archive or folder" in capsys.readouterr().err
    assert run("--amass-root", tree, "--datasets", "CMU", "Nope", "--output", out, *FAST) == 2
    err = capsys.readouterr().err
    assert "--datasets: unknown name(s) Nope" in err and "CMU" in err and "KIT" in err and "HumanEva" in err
    # A known AMASS name that the tree does not hold: nothing to do, said so.
    assert run("--amass-root", tree, "--datasets", "HumanEva", "--output", out, *FAST) == 2
    assert "no .npz files of --datasets HumanEva" in capsys.readouterr().err
    assert run("--amass-root", tree, "--babel", tmp_path / "no_babel", "--output", out, *FAST) == 2
    assert "no_babel" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "out.pt.parts").exists()


def test_resume_redoes_tasks_whose_files_changed(tmp_path, monkeypatch):
    # Interrupted, then another dataset extracted (ACCAD sorts first, so every task's files shift): resuming must
    # not reuse shards made from other files; it ends equal to an uninterrupted run on the tree as it is now.
    root = tmp_path / "amass"
    synthetic.make_tree(root, ["CMU", "KIT"], files_per_dataset=2, seconds=(1.5, 2.0), seed=4)
    out = tmp_path / "out"
    interrupt_at_task(monkeypatch, 1)
    assert run("--amass-root", root, "--output", out, "--format", "shards", *FAST) == 130
    monkeypatch.undo()
    synthetic.make_tree(root, ["ACCAD"], files_per_dataset=2, seconds=(1.5, 2.0), seed=5)
    assert run("--amass-root", root, "--output", out, "--format", "shards", *FAST, "--resume") == 0
    assert run("--amass-root", root, "--output", tmp_path / "full", "--format", "shards", *FAST) == 0
    _, motion, clips = shard_arrays(out)
    _, motion_full, clips_full = shard_arrays(tmp_path / "full")
    assert clips == clips_full and [c["file"] for c in clips][0].startswith("ACCAD/")
    np.testing.assert_array_equal(motion, motion_full)


def test_archives_skip_hidden_members_as_the_extracted_tree_does(tmp_path):
    # macOS tar puts AppleDouble "._name.npz" files beside the real ones; the tree walk skips hidden files and
    # folders, so reading the same archive in place must skip them too instead of failing them.
    pytest.importorskip("amass_fast.io.archive")
    root = tmp_path / "amass"
    synthetic.make_tree(root, ["CMU"], files_per_dataset=2, seconds=(1.5, 2.0), seed=6)
    (root / "CMU" / "01" / "._01_01_poses.npz").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    synthetic.make_archive(root, "CMU", tmp_path / "downloads" / "CMU.tar.bz2", compresslevel=1)
    assert run("--amass-root", root, "--output", tmp_path / "t", "--format", "shards", *FAST) == 0
    assert run("--archives", tmp_path / "downloads", "--output", tmp_path / "a", "--format", "shards", *FAST) == 0
    assert not (tmp_path / "a.errors.jsonl").exists()
    manifest_a, motion_a, clips_a = shard_arrays(tmp_path / "a")
    manifest_t, motion_t, clips_t = shard_arrays(tmp_path / "t")
    assert clips_a == clips_t and manifest_a["counts"] == manifest_t["counts"]
    np.testing.assert_array_equal(motion_a, motion_t)


def test_archives_of_datasets_left_out_are_not_decompressed(tree, tmp_path, monkeypatch):
    from amass_fast.io import archive

    archives = tmp_path / "downloads"
    for folder in ("CMU", "KIT"):
        synthetic.make_archive(tree, folder, archives / f"{folder}_SMPLH_G.tar.bz2", compresslevel=1)
    opened, real = [], archive.iter_archive_members

    def recording(path, **kwargs):
        opened.append(path.name)
        return real(path, **kwargs)

    monkeypatch.setattr(archive, "iter_archive_members", recording)
    assert run("--archives", archives, "--datasets", "KIT", "--output", tmp_path / "k.pt", *FAST) == 0
    assert opened == ["KIT_SMPLH_G.tar.bz2"]
    assert {s["meta"]["dataset"] for s in torch.load(tmp_path / "k.pt", weights_only=True)} == {"KIT"}


def test_min_seconds_drops_short_tails_only(tree, tmp_path):
    # FAST windows are 25 frames (1 s); tree files are 1.5-3 s, so every file has one full window and a tail.
    out_all, out_min = tmp_path / "all.pt", tmp_path / "min.pt"
    assert run("--amass-root", tree, "--output", out_all, *FAST) == 0
    assert run("--amass-root", tree, "--output", out_min, "--min-seconds", "0.6", *FAST) == 0
    every = torch.load(out_all, weights_only=True)
    kept = torch.load(out_min, weights_only=True)
    key = lambda s: (s["meta"]["file"], s["meta"]["start_s"])  # noqa: E731
    expected = [key(s) for s in every if s["meta"]["valid_length"] >= 15]  # 0.6 s at 25 fps
    assert [key(s) for s in kept] == expected and len(expected) < len(every)
    with pytest.raises(SystemExit) as stop:
        run("--amass-root", tree, "--output", tmp_path / "bad.pt", "--min-seconds", "-1", *FAST)
    assert stop.value.code == 2


def _archive(tree, folder, path, reverse=False):
    """A .tar.bz2 of tree/folder as AMASS ships it, its members in sorted or in reversed order."""
    import tarfile

    path.parent.mkdir(parents=True, exist_ok=True)
    files = sorted((tree / folder).rglob("*.npz"), reverse=reverse)
    with tarfile.open(path, "w:bz2", compresslevel=1) as tar:
        for f in files:
            tar.add(f, arcname=f.relative_to(tree).as_posix(), recursive=False)
    return path


def test_archives_in_any_member_order_give_the_tree_order(tmp_path):
    # Members in reversed order, and archive names that sort otherwise than their folders (HDM05.tar.bz2
    # extracts to MPI_HDM05, after KIT): --max-samples picks the same clips from archives as from the tree.
    pytest.importorskip("amass_fast.io.archive")
    root = tmp_path / "amass"
    synthetic.make_tree(root, ["CMU", "KIT", "MPI_HDM05"], files_per_dataset=3, seconds=(1.5, 3.0), seed=8)
    for folder, name in (("CMU", "CMU.tar.bz2"), ("KIT", "KIT.tar.bz2"), ("MPI_HDM05", "HDM05.tar.bz2")):
        _archive(root, folder, tmp_path / "downloads" / name, reverse=True)
    for cap in ([], ["--max-samples", "7"]):
        out_t, out_a = tmp_path / f"t{len(cap)}", tmp_path / f"a{len(cap)}"
        assert run("--amass-root", root, "--output", out_t, "--format", "shards", *FAST, *cap) == 0
        assert run("--archives", tmp_path / "downloads", "--output", out_a, "--format", "shards", *FAST, *cap) == 0
        _, motion_t, clips_t = shard_arrays(out_t)
        _, motion_a, clips_a = shard_arrays(out_a)
        assert clips_a == clips_t and [c["dataset"] for c in clips_t][-1] == ("MPI_HDM05" if not cap else "CMU")
        np.testing.assert_array_equal(motion_a, motion_t)


def test_archives_that_hold_nothing_are_exit_2_with_nothing_written(tree, tmp_path, capsys):
    import tarfile

    pytest.importorskip("amass_fast.io.archive")
    empty_folder = tmp_path / "none"
    empty_folder.mkdir()
    out = tmp_path / "out.pt"
    assert run("--archives", empty_folder, "--output", out, *FAST) == 2
    assert f"--archives {empty_folder}: no .tar.bz2 archives" in capsys.readouterr().err
    empty = tmp_path / "downloads" / "CMU.tar.bz2"
    empty.parent.mkdir()
    with tarfile.open(empty, "w:bz2"):
        pass
    for fmt, target in (("pt", out), ("shards", tmp_path / "sh")):
        assert run("--archives", empty, "--output", target, "--format", fmt, *FAST) == 2
        assert "the archives hold no .npz files" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["downloads", "none"]


@pytest.mark.parametrize("flag, value", [
    ("--fps", "0"), ("--fps", "-25"), ("--stride", "0"), ("--window", "0"), ("--views", "0"), ("--views", "100000"),
    ("--jobs", "10000000"), ("--jobs", "0"), ("--batch-files", "0"), ("--max-samples", "0"), ("--min-seconds", "nan"),
])
def test_bad_numbers_are_refused_where_parsed_naming_the_flag(tree, tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as stop:
        run("--amass-root", tree, "--output", tmp_path / "out.pt", flag, value)
    assert stop.value.code == 2 and f"argument {flag}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_output_paths_are_checked_before_any_work(tree, tmp_path, capsys, monkeypatch):
    from amass_fast.process import plan

    def no_work(*args, **kwargs):
        raise AssertionError("the inputs were read before the output was checked")

    monkeypatch.setattr(plan, "iter_npz_files", no_work)
    folder = tmp_path / "a_folder"
    (folder / "mine").mkdir(parents=True)
    (tmp_path / "a_file").write_text("mine")
    cases = [(["--output", folder, "--overwrite"], "is a folder"),
             (["--output", tmp_path / "a_file", "--format", "shards", "--overwrite"], "is a file, not a folder"),
             (["--output", tmp_path / "a_file" / "out.pt"], "a_file is a file, not a folder"),
             (["--output", tree / "CMU" / "out", "--format", "shards"], "inside the input folder")]
    for argv, words in cases:
        assert run("--amass-root", tree, *argv, *FAST) == 2
        err = capsys.readouterr().err
        assert f"--output {argv[1]}" in err and words in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "a_folder"]
    assert [p.name for p in folder.iterdir()] == ["mine"] and (tmp_path / "a_file").read_text() == "mine"
    assert not (tree / "CMU" / "out").exists()


def test_a_damaged_run_file_is_named_on_resume(tree, tmp_path, capsys, monkeypatch):
    out = tmp_path / "sh"
    interrupt_at_task(monkeypatch, 1)
    assert run("--amass-root", tree, "--output", out, "--format", "shards", *FAST) == 130
    monkeypatch.undo()
    (out / "run.json").write_bytes(b"{\"fps\": 2")
    shard = (out / "shard-000000.npz").read_bytes()
    capsys.readouterr()
    assert run("--amass-root", tree, "--output", out, "--format", "shards", *FAST, "--resume") == 2
    err = capsys.readouterr().err
    assert f"{out / 'run.json'}: damaged" in err and "--overwrite" in err and "Traceback" not in err
    assert (out / "shard-000000.npz").read_bytes() == shard


def test_a_folder_of_the_tree_counts_as_a_dataset_name(tmp_path, capsys):
    root = tmp_path / "amass"
    synthetic.make_tree(root, ["CMU"], files_per_dataset=2, seconds=(1.5, 2.0), seed=9)
    synthetic.make_tree(tmp_path / "own", ["CMU"], files_per_dataset=1, seconds=(1.5, 2.0), seed=10)
    (tmp_path / "own" / "CMU").rename(root / "MyLab")
    assert run("--amass-root", root, "--datasets", "mylab", "--output", tmp_path / "o.pt", *FAST) == 0
    assert {s["meta"]["dataset"] for s in torch.load(tmp_path / "o.pt", weights_only=True)} == {"MyLab"}
    assert run("--amass-root", root, "--datasets", "MyLabs", "--output", tmp_path / "p.pt", *FAST) == 2
    err = capsys.readouterr().err
    assert "unknown name(s) MyLabs" in err and "MyLab, " in err  # listed among the valid names


def test_resume_with_overwrite_makes_a_finished_pt_again(tree, tmp_path):
    out = tmp_path / "out.pt"
    assert run("--amass-root", tree, "--output", out, *FAST) == 0
    assert run("--amass-root", tree, "--output", out, *FAST, "--resume", "--overwrite", "--max-samples", 2) == 0
    assert len(torch.load(out, weights_only=True)) == 2
    assert json.loads((tmp_path / "out.pt.run.json").read_text())["flags"]["max_samples"] == 2
