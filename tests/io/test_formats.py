"""Format detection on every synthetic layout and on broken files."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest

from amass_fast.harness import synthetic
from amass_fast.io import npz
from amass_fast.io.formats import FormatError, NoMotion, Sequence, SequenceInfo, load_sequence, probe_sequence
from amass_fast.io.tree import dataset_of, iter_motion_files, iter_npz_files, rel_path

BOTH = pytest.mark.parametrize("reader", [load_sequence, probe_sequence], ids=["load", "probe"])


def smplh_keys(frames=10, width=156, fps=120.0, **overrides):
    keys = dict(trans=np.zeros((frames, 3)), gender=np.array("male"), mocap_framerate=np.array(fps),
                betas=np.zeros(16), dmpls=np.zeros((frames, 8)), poses=np.zeros((frames, width)))
    keys.update(overrides)
    return {k: v for k, v in keys.items() if v is not None}


def write(path, **keys):
    np.savez(path, **keys)
    return path


@pytest.mark.parametrize("kind, width, seconds, fps", [("smplh", 156, 1.0, 120.0), ("smplx", 165, 2.0, 60.0),
                                                       ("smpl", 72, 1.0, 100.0)])
def test_every_layout_is_detected(tmp_path, kind, width, seconds, fps):
    p = synthetic.write_sequence(tmp_path / "x_poses.npz", kind, "walk", seconds=seconds, fps=fps, gender="female")
    seq = load_sequence(p)
    assert isinstance(seq, Sequence)
    assert (seq.kind, seq.fps, seq.gender, seq.path) == (kind, fps, "female", str(p))
    assert seq.poses.shape == (round(seconds * fps), width) and seq.poses.dtype == np.float64
    assert seq.trans.shape == (seq.num_frames, 3) and seq.betas.ndim == 1
    assert seq.seconds == pytest.approx(seconds)
    with np.load(p) as raw:
        np.testing.assert_array_equal(seq.poses, raw["poses"])
    info = probe_sequence(p)
    assert isinstance(info, SequenceInfo)
    assert (info.kind, info.num_frames, info.fps, info.gender) == (kind, seq.num_frames, fps, "female")


def test_smplx_frame_rate_key_and_markers_never_unpickled(tmp_path, monkeypatch):
    import pickle

    p = synthetic.write_sequence(tmp_path / "a_stageii.npz", "smplx", "wave", seconds=1.0, fps=120.0)
    with np.load(p, allow_pickle=False) as raw:
        assert "markers_latent_vids" in raw.files  # a pickled dict in an object array, as in real SMPL-X files

    def no_unpickling(*args, **kwargs):
        raise AssertionError("something was unpickled")

    for fn in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, fn, no_unpickling)
    read, real_read = [], npz.Npz.read
    monkeypatch.setattr(npz.Npz, "read", lambda self, key: read.append(key) or real_read(self, key))
    seq = load_sequence(p)
    probe_sequence(p)
    assert seq.kind == "smplx" and seq.fps == 120.0
    # Only the keys a sequence needs are read; the marker dictionaries (object arrays) are never touched.
    assert set(read) <= {"poses", "trans", "betas", "gender", "mocap_frame_rate", "surface_model_type"}
    assert {"poses", "trans", "mocap_frame_rate"} <= set(read)


def test_fractional_rate_is_kept_exactly(tmp_path):
    p = synthetic.write_sequence(tmp_path / "s_poses.npz", seconds=1.0, fps=59.99999)
    assert load_sequence(p).fps == 59.99999


@pytest.mark.parametrize("gender, expected", [(np.array("male"), "male"), (np.array(b"female"), "female"),
                                              (np.array("Female "), "female"), (np.array(b"neutral"), "neutral"),
                                              (np.array("unknown"), "neutral"), (None, "neutral")])
def test_gender_is_normalised(tmp_path, gender, expected):
    p = write(tmp_path / "g.npz", **smplh_keys(gender=gender))
    assert load_sequence(p).gender == expected
    assert probe_sequence(p).gender == expected


@BOTH
def test_no_motion_files(tmp_path, reader):
    shape = synthetic.write_shape(tmp_path / "shape.npz", np.zeros(16), "female", gender_as_bytes=True)
    stagei = synthetic.write_stagei(tmp_path / "female_stagei.npz", np.zeros(16), "female")
    other = write(tmp_path / "body.npz", betas=np.zeros(10))
    for path, word in ((shape, "shape"), (stagei, "stage-i"), (other, "shape")):
        result = reader(path)
        assert isinstance(result, NoMotion) and result.path == str(path) and word in result.reason


def test_bytes_input_uses_the_given_name(tmp_path):
    p = synthetic.write_sequence(tmp_path / "a_poses.npz", seconds=0.5, fps=60.0)
    seq = load_sequence(p.read_bytes(), name="CMU/01/01_01_poses.npz")
    assert seq.path == "CMU/01/01_01_poses.npz" and seq.num_frames == 30
    with pytest.raises(FormatError, match="^CMU/02/x.npz: "):
        load_sequence(p.read_bytes()[:200], name="CMU/02/x.npz")


def test_float32_kept_and_trans_follows_poses(tmp_path):
    p = write(tmp_path / "f.npz", **smplh_keys(frames=5, poses=np.zeros((5, 156), np.float32)))
    seq = load_sequence(p)
    assert seq.poses.dtype == np.float32 and seq.trans.dtype == np.float32
    p16 = write(tmp_path / "h.npz", **smplh_keys(frames=5, poses=np.zeros((5, 156), np.float16)))
    assert load_sequence(p16).poses.dtype == np.float32


def test_per_frame_betas_take_the_first_row(tmp_path):
    betas = np.arange(30.0).reshape(3, 10)
    seq = load_sequence(write(tmp_path / "b.npz", **smplh_keys(betas=betas)))
    np.testing.assert_array_equal(seq.betas, np.arange(10.0))


def broken_cases():
    nan_poses = np.zeros((10, 156))
    nan_poses[4, 7] = np.nan
    inf_trans = np.zeros((10, 3))
    inf_trans[2, 1] = np.inf
    return {
        "wrong width": (smplh_keys(width=150), "150 values per frame"),
        "1-D poses": (smplh_keys(poses=np.zeros(156)), "shape"),
        "zero frames": (smplh_keys(frames=0), "zero frames"),
        "trans mismatch": (smplh_keys(trans=np.zeros((9, 3))), "trans has shape"),
        "no trans": (smplh_keys(trans=None), "no 'trans'"),
        "int poses": (smplh_keys(poses=np.zeros((10, 156), np.int64)), "dtype int64"),
        "no fps": (smplh_keys(mocap_framerate=None), "no frame rate"),
        "zero fps": (smplh_keys(fps=0.0), "frame rate"),
        "negative fps": (smplh_keys(fps=-120.0), "frame rate"),
        "absurd fps": (smplh_keys(fps=5000.0), "frame rate"),
        "nan fps": (smplh_keys(fps=np.nan), "frame rate"),
        "text fps": (smplh_keys(mocap_framerate=np.array("120")), "not a number"),
        "model mismatch": (smplh_keys(surface_model_type=np.array("smplx")), "inconsistent"),
        "object poses": (smplh_keys(poses=np.array([None, 1], dtype=object)), "object array"),
        "unknown layout": ({"foo": np.zeros(3)}, "unknown layout"),
    }


@pytest.mark.parametrize("case", list(broken_cases()))
def test_broken_layouts_raise_format_error_naming_the_file(tmp_path, case):
    keys, problem = broken_cases()[case]
    p = write(tmp_path / "broken_poses.npz", **keys)
    for reader in (load_sequence, probe_sequence):
        if case == "object poses" and reader is probe_sequence:
            continue  # the header alone is fine; the probe never touches the data
        with pytest.raises(FormatError) as err:
            reader(p)
        message = str(err.value)
        assert message.startswith(str(p) + ": ") and problem in message
        assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("key, frame", [("poses", 4), ("trans", 2)])
def test_nan_and_inf_are_refused_with_the_frame(tmp_path, key, frame):
    bad = np.zeros((10, 156) if key == "poses" else (10, 3))
    bad[frame, 1] = np.nan if key == "poses" else np.inf
    p = write(tmp_path / "n.npz", **smplh_keys(**{key: bad}))
    with pytest.raises(FormatError, match=f"{key} holds 1 NaN/infinite values \\(first at frame {frame}\\)"):
        load_sequence(p)


@BOTH
def test_truncated_not_a_zip_and_npy_files(tmp_path, reader):
    good = synthetic.write_sequence(tmp_path / "g_poses.npz", seconds=1.0, fps=120.0).read_bytes()
    truncated = tmp_path / "t_poses.npz"
    truncated.write_bytes(good[: len(good) // 2])
    text = tmp_path / "html_poses.npz"
    text.write_text("<html>please log in</html>")
    single = tmp_path / "single.npz"
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 156)))
    single.write_bytes(buf.getvalue())
    empty = tmp_path / "empty_poses.npz"
    empty.write_bytes(b"")
    for path, problem in ((truncated, "truncated or corrupt"), (text, "no zip signature"),
                          (single, "single .npy array"), (empty, "truncated or corrupt"),
                          (tmp_path / "missing.npz", "no such file")):
        with pytest.raises(FormatError, match=problem) as err:
            reader(path)
        assert str(path) in str(err.value)


def test_corrupted_pose_data_is_caught_by_load(tmp_path):
    p = synthetic.write_sequence(tmp_path / "c_poses.npz", seconds=1.0, fps=120.0)
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside poses: the zip CRC no longer matches
    p.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="c_poses.npz"):
        load_sequence(p)


def test_iteration_order_and_no_motion_names(tmp_path):
    synthetic.make_demo_tree(tmp_path)
    (tmp_path / ".amass_fast").mkdir()
    (tmp_path / ".amass_fast" / "x.npz").write_bytes(b"")
    (tmp_path / "CMU" / "notes.txt").write_text("not an npz")
    every = list(iter_npz_files(tmp_path))
    rel = [rel_path(p, tmp_path) for p in every]
    assert rel == sorted(rel) and not any(r.startswith(".") for r in rel)
    motion = [rel_path(p, tmp_path) for p in iter_motion_files(tmp_path)]
    assert set(rel) - set(motion) == {"BMLmovi/Subject_1_F_MoSh/shape.npz", "BMLmovi/Subject_2_F_MoSh/shape.npz",
                                      "DFaust_67/50002/male_stagei.npz"}
    kinds = {}
    for p in every:
        result = load_sequence(p)
        probed = probe_sequence(p)
        assert type(result) is not SequenceInfo
        assert isinstance(result, NoMotion) == isinstance(probed, NoMotion)
        if isinstance(result, Sequence):
            assert (probed.kind, probed.num_frames, probed.fps) == (result.kind, result.num_frames, result.fps)
            kinds[result.kind] = kinds.get(result.kind, 0) + 1
    assert kinds == {"smplh": len(motion) - 1, "smplx": 1}
    with pytest.raises(FileNotFoundError, match="amass-fast extract"):
        list(iter_npz_files(tmp_path / "nowhere"))


@pytest.mark.parametrize("rel, dataset", [("CMU/01/01_01_poses.npz", "CMU"), ("./KIT/3/x_poses.npz", "KIT"),
                                          ("ACCAD\\Male1Walking_c3d\\Walk B10_poses.npz", "ACCAD"),
                                          ("lonely_poses.npz", "")])
def test_dataset_of(rel, dataset):
    assert dataset_of(rel) == dataset


def linked_cmu_tree(tmp_path):
    """An AMASS root whose CMU folder is a link to bigdisk/CMU holding one sequence: (root, the 01 folder)."""
    disk = tmp_path / "bigdisk" / "CMU" / "01"
    disk.mkdir(parents=True)
    synthetic.write_sequence(disk / "01_01_poses.npz", "smplh", "walk", seconds=0.5, fps=60.0, seed=0)
    root = tmp_path / "amass"
    root.mkdir()
    (root / "CMU").symlink_to(tmp_path / "bigdisk" / "CMU")
    return root, disk


def test_linked_dataset_folders_are_followed_once(tmp_path):
    """data/amass/CMU is often a link to a bigger disk: its files count; a link back up does not loop."""
    from amass_fast.io.tree import iter_npz_files

    root, disk = linked_cmu_tree(tmp_path)
    (disk / "loop").symlink_to(root)  # a cycle: amass/CMU/01/loop -> amass
    found = [p.relative_to(root).as_posix() for p in iter_npz_files(root)]
    assert found == ["CMU/01/01_01_poses.npz"]


def test_linked_dataset_folder_keeps_its_name_in_rel_path(tmp_path):
    """rel_path of a file found under a linked dataset folder names the folder, not the link's target
    (labels, verify and process all see "CMU/01/...")."""
    root, disk = linked_cmu_tree(tmp_path)
    found = list(iter_motion_files(root))
    assert [rel_path(p, root) for p in found] == ["CMU/01/01_01_poses.npz"]
    assert rel_path(disk / "01_01_poses.npz", tmp_path / "bigdisk") == "CMU/01/01_01_poses.npz"


@pytest.mark.parametrize("special", ["fifo", "broken link", "link to /dev/zero"])
def test_tree_walk_yields_only_regular_files_and_reports_the_rest(tmp_path, special):
    import os

    root = tmp_path / "amass"
    (root / "CMU" / "01").mkdir(parents=True)
    good = write(root / "CMU" / "01" / "01_01_poses.npz", **smplh_keys())
    odd = root / "CMU" / "01" / "01_02_poses.npz"
    if special == "fifo":
        os.mkfifo(odd)
    elif special == "broken link":
        odd.symlink_to(tmp_path / "nowhere.npz")
    else:
        odd.symlink_to("/dev/zero")
    skipped = []
    assert list(iter_npz_files(root, on_skip=lambda p, why: skipped.append((p, why)))) == [good]
    assert [p for p, _ in skipped] == [odd] and skipped[0][1].startswith(f"{odd}: ")
    with pytest.warns(UserWarning, match="01_02_poses.npz"):  # without on_skip: a warning, never silence
        assert list(iter_motion_files(root)) == [good]


@BOTH
def test_readers_refuse_special_files_without_blocking(tmp_path, reader):
    import os

    fifo = tmp_path / "pipe_poses.npz"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes: it must not be opened that way
    with pytest.raises(FormatError, match=r"pipe_poses.npz: not a regular file but a FIFO"):
        reader(fifo)
    with pytest.raises(FormatError, match="not a regular file but a folder"):
        reader(tmp_path)
    with pytest.raises(FormatError, match="not a regular file but a character device"):
        reader("/dev/zero")


@BOTH
@pytest.mark.parametrize("fps", [1e-9, 0.5, 5e-324, 1000.5, 1e6, np.nan])
def test_frame_rates_outside_1_to_1000_are_refused(tmp_path, reader, fps):
    p = write(tmp_path / "a_poses.npz", **smplh_keys(fps=fps))
    with pytest.raises(FormatError, match=r"a_poses.npz: frame rate mocap_framerate=.* not between 1 and 1000"):
        reader(p)


@BOTH
@pytest.mark.parametrize("fps", [1.0, 1000.0])
def test_frame_rate_bounds_are_accepted(tmp_path, reader, fps):
    assert reader(write(tmp_path / "a_poses.npz", **smplh_keys(fps=fps))).fps == fps


@BOTH
def test_a_sequence_longer_than_a_day_is_refused(tmp_path, reader):
    # 100,000 frames at 1 fps is 27.8 hours; only the headers matter (zeros compress to nothing).
    p = tmp_path / "long_poses.npz"
    np.savez_compressed(p, **smplh_keys(frames=100_000, width=72, fps=1.0))
    with pytest.raises(FormatError, match=r"long_poses.npz: 100,000 frames at 1 fps last 27.8 hours"):
        reader(p)


@pytest.mark.parametrize("key, value, words", [("poses", 1e300, "poses holds 1 values beyond"),
                                               ("trans", -1e300, "trans holds 1 values beyond"),
                                               ("betas", 1e39, "betas holds 1 values beyond"),
                                               ("poses", 1e20, "poses holds 1 values beyond +-1e+04")])
def test_values_beyond_the_compute_dtype_are_refused(tmp_path, key, value, words):
    keys = smplh_keys()
    keys[key][(4, 2) if key != "betas" else 2] = value
    p = write(tmp_path / "big_poses.npz", **keys)
    with pytest.raises(FormatError, match="big_poses.npz: " + re.escape(words)) as exc:
        load_sequence(p)
    assert key != "betas" or "frame" not in str(exc.value)
    assert key == "betas" or "first at frame 4" in str(exc.value)
    from amass_fast.io.formats import check_sequence
    with pytest.raises(FormatError):
        check_sequence(p)
    assert isinstance(probe_sequence(p), SequenceInfo)  # headers only: values are not read


def test_float32_extremes_that_fit_are_kept(tmp_path):
    keys = smplh_keys()
    keys["trans"][1, 1] = 3e38  # fits float32
    keys["poses"][1, 1] = -9999.0
    seq = load_sequence(write(tmp_path / "ok_poses.npz", **keys))
    assert seq.trans[1, 1] == 3e38 and seq.poses[1, 1] == -9999.0


@BOTH
def test_small_keys_may_not_declare_big_arrays(tmp_path, reader):
    p = write(tmp_path / "a_poses.npz", **smplh_keys(gender=np.array(["male"] * 20_000)))
    with pytest.raises(FormatError, match=r"a_poses.npz: 'gender' declares .* limit for this key"):
        reader(p)


def test_check_sequence_is_load_sequence_without_the_data(tmp_path):
    from amass_fast.io.formats import check_sequence

    p = synthetic.write_sequence(tmp_path / "w_poses.npz", "smplx", "walk", seconds=1.0, fps=60.0, seed=0)
    seq, info = load_sequence(p), check_sequence(p)
    assert (info.kind, info.num_frames, info.fps, info.gender, info.path) == \
        (seq.kind, seq.num_frames, seq.fps, seq.gender, seq.path)
    shape = write(tmp_path / "shape.npz", betas=np.zeros(16), gender=np.array("female"))
    assert isinstance(check_sequence(shape), NoMotion)


# --- the reader: one pass per member ----------------------------------------------------------------------------

def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _zip_members(path, members: dict, compression=None):
    import zipfile

    with zipfile.ZipFile(path, "w", compression or zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _motion_keys(frames=50):
    rng = np.random.default_rng(3)
    return smplh_keys(frames=frames, poses=rng.normal(0, 0.3, (frames, 156)), trans=rng.normal(0, 1, (frames, 3)),
                      betas=rng.normal(0, 1, 16))


def test_compressed_fortran_and_big_endian_members_load_as_numpy_reads_them(tmp_path):
    keys = _motion_keys()
    variants = {
        "compressed": lambda p: np.savez_compressed(p, **keys),
        "fortran": lambda p: np.savez(p, **{**keys, "poses": np.asfortranarray(keys["poses"])}),
        "big_endian": lambda p: np.savez(p, **{**keys, "poses": keys["poses"].astype(">f8"),
                                              "trans": keys["trans"].astype(">f4")}),
    }
    for name, save in variants.items():
        p = tmp_path / f"{name}_poses.npz"
        save(p)
        seq = load_sequence(p)
        with np.load(p, allow_pickle=False) as raw:
            np.testing.assert_array_equal(seq.poses, raw["poses"], err_msg=name)
            np.testing.assert_array_equal(seq.trans, raw["trans"].astype(seq.poses.dtype), err_msg=name)
            np.testing.assert_array_equal(seq.betas, raw["betas"], err_msg=name)
        assert seq.poses.flags.writeable and seq.poses.flags.owndata or seq.poses.base is not None


def test_without_positioned_reads_the_same_arrays_and_checks(tmp_path, monkeypatch):
    """Where os.pread/preadv do not exist (Windows) the reader seeks and reads: the same arrays, the same CRC."""
    p = write(tmp_path / "s_poses.npz", **_motion_keys())
    positioned = load_sequence(p)
    monkeypatch.setattr(npz, "_POSITIONED", False)
    seeking = load_sequence(p)
    np.testing.assert_array_equal(seeking.poses, positioned.poses)
    np.testing.assert_array_equal(seeking.trans, positioned.trans)
    data = bytearray(p.read_bytes())
    data[len(data) // 3] ^= 0x10
    p.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="s_poses.npz: .*CRC"):
        load_sequence(p)


def test_bytes_and_path_give_equal_arrays_that_own_their_memory(tmp_path):
    p = write(tmp_path / "a_poses.npz", **_motion_keys())
    data = p.read_bytes()
    from_path, from_bytes = load_sequence(p), load_sequence(data, name="CMU/01/01_01_poses.npz")
    np.testing.assert_array_equal(from_path.poses, from_bytes.poses)
    np.testing.assert_array_equal(from_path.trans, from_bytes.trans)
    assert from_bytes.poses.flags.writeable and not np.shares_memory(from_bytes.poses, np.frombuffer(data, np.uint8))


@pytest.mark.parametrize("key", ["poses", "trans", "mocap_framerate"])
@pytest.mark.parametrize("crc", ["default", "zlib"])
def test_a_flipped_bit_in_any_stored_member_fails_its_crc(tmp_path, monkeypatch, key, crc):
    import struct
    import zipfile
    import zlib

    if crc == "zlib":  # the fallback when zlib-ng is not installed: the same values, the same verdicts
        monkeypatch.setattr(npz, "_crc32", zlib.crc32)
    p = write(tmp_path / "f_poses.npz", **_motion_keys())
    assert load_sequence(p).num_frames == 50
    info = zipfile.ZipFile(p).getinfo(f"{key}.npy")
    data = bytearray(p.read_bytes())
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)  # the member's local header
    data[info.header_offset + 30 + name_len + extra_len + info.file_size - 1] ^= 0x01  # the member's last byte
    p.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=rf"f_poses.npz: key '{key}' is unreadable \(Bad CRC-32"):
        load_sequence(p)


def test_bytes_after_the_array_count_in_the_crc(tmp_path):
    keys = _motion_keys()
    members = {f"{k}.npy": _npy(v) for k, v in keys.items()}
    members["poses.npy"] += b"padding"
    p = _zip_members(tmp_path / "t_poses.npz", members)
    np.testing.assert_array_equal(load_sequence(p).poses, keys["poses"])
    data = p.read_bytes()
    at = data.index(b"padding")
    p.write_bytes(data[:at] + b"Padding" + data[at + 7:])
    with pytest.raises(FormatError, match="Bad CRC-32"):
        load_sequence(p)


def test_a_member_running_past_the_end_of_the_file_is_refused_before_it_is_read(tmp_path):
    import struct
    import zipfile

    p = write(tmp_path / "r_poses.npz", **_motion_keys())
    data = bytearray(p.read_bytes())
    info = zipfile.ZipFile(p).getinfo("poses.npy")
    central = data.index(b"PK\x01\x02")
    while data[central + 46:central + 46 + len(info.filename)] != info.filename.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<II", data, central + 20, 1 << 29, 1 << 29)  # compressed and plain size: 512 MB
    p.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="r_poses.npz: .*'poses'"):
        load_sequence(p)


def test_python_work_per_file_does_not_grow_with_frames(tmp_path):
    """No Python loop over frames or chunks: loading 200 or 200,000 frames makes the same Python calls, give or take
    a few (a read the kernel returns short is finished by one more call). A loop over 1 MiB chunks would add at
    least one call per chunk of the 200,000-frame poses member (119 chunks), and a loop over frames 200,000."""
    import sys

    calls = {}
    for frames in (200, 200_000):
        p = write(tmp_path / f"n{frames}_poses.npz", **smplh_keys(frames=frames))
        load_sequence(p)  # warm caches (imports, numpy's header parser)
        count = [0]

        def profiler(frame, event, arg):
            if event in ("call", "c_call"):
                count[0] += 1
        sys.setprofile(profiler)
        try:
            load_sequence(p)
        finally:
            sys.setprofile(None)
        calls[frames] = count[0]
    chunks = 200_000 * 156 * 4 // (1 << 20)
    assert chunks >= 119 and abs(calls[200_000] - calls[200]) < 16, calls


def test_loading_allocates_little_beyond_the_arrays_it_returns(tmp_path):
    """The value checks (finite, float32 range, pose magnitude) allocate no mask or temporary per value: the peak
    while loading stays close to the poses and trans returned."""
    import tracemalloc

    p = write(tmp_path / "m_poses.npz", **_motion_keys(frames=20_000))
    load_sequence(p)
    tracemalloc.start()
    try:
        seq = load_sequence(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    returned = seq.poses.nbytes + seq.trans.nbytes
    assert peak < returned * 1.05 + (1 << 20), (peak, returned)


def test_tree_messages_name_the_folder_and_the_fix(tmp_path):
    from amass_fast.io.tree import empty_tree_message, no_tree_message

    missing = tmp_path / "amass"
    assert no_tree_message(missing) == f"{missing}: no such folder; extract AMASS there first " \
                                       f"(amass-fast extract --out {missing})"
    assert empty_tree_message(tmp_path) == f"no .npz files under {tmp_path}; extract AMASS there first " \
                                           f"(amass-fast extract --out {tmp_path})"
    (tmp_path / "CMU.tar.bz2").write_bytes(b"")
    assert empty_tree_message(tmp_path) == f"no .npz files under {tmp_path}; it holds archives: extract them " \
                                           f"(amass-fast extract --archives {tmp_path})"
