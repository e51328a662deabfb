"""Sizes planned before allocating: an output the machine cannot hold is refused with the op, the planned size and
the limit in the message, before anything big is allocated, through every kernel entry (NumPy and torch) and
HumanML3D's stage 1."""
from __future__ import annotations

import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest

import amass_fast as af
from amass_fast.kernels import reference, runtime

LIMIT = 32 << 20  # what the patched system reports: below the outputs asked for, above CHECKED_BYTES' small ones


@pytest.fixture
def small_machine(monkeypatch):
    monkeypatch.setattr(runtime, "memory_available", lambda device=None: (LIMIT, "memory of the test machine"))


def _refused(call, op: str) -> str:
    tracemalloc.start()
    try:
        with pytest.raises(MemoryError) as err:
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(err.value)
    assert msg.startswith(op + ":"), msg
    assert "GiB" in msg and "0.0312 GiB of memory of the test machine" in msg, msg
    assert peak < 8 << 20, f"{peak} bytes allocated before the refusal"
    return msg


def _many_windows(one_batch, clips: int, dtype=np.float64) -> dict:
    args = one_batch(dtype=dtype)
    n = np.zeros(clips, dtype=np.int64)
    return {**args, "clip_seq": n, "clip_start": n.copy(), "clip_len": np.full(clips, args["window"], np.int64),
            "clip_yaw": np.zeros(clips)}


def test_convert_batch_numpy_names_schema_width(small_machine, one_batch):
    # joints3d of 20000 windows of 8 frames: 20000 * 8 * 22 * 3 float64 = 84 MB.
    args = _many_windows(one_batch, 20000)
    msg = _refused(lambda: af.convert_batch(**args, schema="joints3d", backend="numba"), "convert_batch")
    assert "[20000, 8, 22, 3]" in msg and "split the call into smaller batches" in msg
    # The same batch as stick5 (20 values a frame, 26 MB) is below the limit and runs.
    assert af.convert_batch(**args, backend="numba").shape == (20000, 8, 20)


def test_convert_batch_torch(small_machine, one_batch):
    torch = pytest.importorskip("torch")
    def tensors(a):
        return {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in a.items()}
    af.convert_batch(**tensors(one_batch()), schema="joints2d", backend="numba")  # torch's op machinery imported
    args = tensors(_many_windows(one_batch, 40000))
    # joints2d of 40000 windows: 40000 * 8 * 22 * 2 float64 = 113 MB.
    msg = _refused(lambda: af.convert_batch(**args, schema="joints2d", backend="numba"), "convert_batch")
    assert "[40000, 8, 22, 2]" in msg


def test_resample_poses(small_machine):
    poses, trans = np.zeros((2, 66)), np.zeros((2, 3))
    # 0.001 fps to 25 fps: 25001 frames of 66 values is 13 MB (runs); at 1e-5 fps 2.5 M frames (1.3 GB) is refused.
    assert af.resample_poses(poses, trans, 1e-3, backend="numba")[0].shape == (25001, 66)
    msg = _refused(lambda: af.resample_poses(poses, trans, 1e-5, backend="numba"), "resample_poses")
    assert "[2500001, 66]" in msg


def test_small_outputs_are_not_checked(monkeypatch):
    def fail(device=None):
        raise AssertionError("memory asked for an output below CHECKED_BYTES")
    monkeypatch.setattr(runtime, "memory_available", fail)
    runtime.check_allocation("op", (runtime.CHECKED_BYTES // 8 - 1,), 8)


def test_host_limit_is_the_smaller_of_memory_and_address_space(monkeypatch):
    monkeypatch.setattr(runtime, "_meminfo_available", lambda: 10 << 30)
    monkeypatch.setattr(runtime, "_address_space_left", lambda: 2 << 30)
    assert runtime.memory_available() == (2 << 30, "address space this process has left under its limit "
                                                    "(ulimit -v)")
    monkeypatch.setattr(runtime, "_address_space_left", lambda: None)
    assert runtime.memory_available()[0] == 10 << 30
    monkeypatch.setattr(runtime, "_meminfo_available", lambda: None)
    assert runtime.memory_available() == (None, "")
    runtime.check_allocation("op", (1 << 40,), 8)  # nothing known: not refused here (the allocator decides)


def test_humanml3d_file_planned_before_stage_one(small_machine):
    from amass_fast.humanml3d import source

    # A 1 fps file of 86,400 frames resampled by time to 20 fps: 1.7 M frames of 201 float64 values.
    seq = SimpleNamespace(num_frames=86400, fps=1.0)
    with pytest.raises(MemoryError) as err:
        source._plan_size("CMU/01/01_01_poses.npz", seq, "time")
    msg = str(err.value)
    assert msg.startswith("CMU/01/01_01_poses.npz: its 20 fps joints [1727981, 201]"), msg
    assert "mocap_framerate" in msg and "memory of the test machine" in msg
    # 100 s at 120 fps by stride 6: 2000 frames (3 MB), allowed.
    source._plan_size("CMU/01/01_01_poses.npz", SimpleNamespace(num_frames=12000, fps=120.0), "stride")


def test_humanml3d_file_below_20_fps_is_refused_for_its_rate_before_its_size(small_machine, tmp_path):
    """By stride, a file below 20 fps makes nothing in HumanML3D: that is what the message says, even when its
    length alone would also be refused (25,000 frames at 1 fps: 40 MB of 20 fps joints on a 32 MiB machine)."""
    from amass_fast.harness import synthetic
    from amass_fast.humanml3d import source

    path = synthetic.write_sequence(tmp_path / "CMU" / "01" / "01_01_poses.npz", seconds=25_000, fps=1.0)
    with pytest.raises(source.SourceError, match=r"01_01_poses\.npz: frame rate 1 fps is below 20 fps"):
        source.amass_joints(path, models={}, resampling="stride")
    with pytest.raises(MemoryError, match=r"01_01_poses\.npz: its 20 fps joints \[499981, 201\]"):
        source.amass_joints(path, models={}, resampling="time")
