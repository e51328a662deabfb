"""Windows, views and the ragged batch (amass_fast.process.clips)."""
import numpy as np
import pytest

from amass_fast.kernels import reference
from amass_fast.process.clips import RaggedBatch, Window, min_tail_frames, plan_views, plan_windows


def spans(windows):
    return [(w.start, w.length) for w in windows]


def test_exact_multiple_gives_full_windows_only():
    # 20 s at 120 fps: 2399 / 120 * 25 = 499.79 -> 500 output frames = two full windows.
    assert spans(plan_windows(2400, 120.0)) == [(0, 250), (250, 250)]


def test_tail_is_padded_with_true_length_or_dropped():
    # 25 s at 60 fps -> floor(1499 * 25 / 60) + 1 = 625 frames: two full windows and a 125-frame tail.
    assert reference.resampled_length(1500, 60.0, 25.0) == 625
    assert spans(plan_windows(1500, 60.0)) == [(0, 250), (250, 250), (500, 125)]
    assert spans(plan_windows(1500, 60.0, short="drop")) == [(0, 250), (250, 250)]


def test_short_sequence_is_one_padded_window_or_nothing():
    assert spans(plan_windows(100, 100.0)) == [(0, 25)]  # 99 / 100 * 25 = 24.75 -> 25 frames
    assert plan_windows(100, 100.0, short="drop") == []
    assert spans(plan_windows(1, 120.0)) == [(0, 1)]
    assert plan_windows(0, 120.0) == []


def test_overlapping_stride_adds_a_tail_only_for_uncovered_frames():
    # 300 frames at 25 fps, window 250, stride 50: windows at 0 and 50 cover every frame: no tail.
    assert spans(plan_windows(300, 25.0, stride=50)) == [(0, 250), (50, 250)]
    # 320 frames: frames 300..319 are uncovered: a tail at the next stride position (100), 220 frames long.
    assert spans(plan_windows(320, 25.0, stride=50)) == [(0, 250), (50, 250), (100, 220)]


def test_stride_longer_than_window_leaves_gaps():
    assert spans(plan_windows(1000, 25.0, window=100, stride=300)) == [(0, 100), (300, 100), (600, 100), (900, 100)]
    assert spans(plan_windows(950, 25.0, window=100, stride=300)) == [(0, 100), (300, 100), (600, 100), (900, 50)]


def test_odd_rates_do_not_drift():
    # 59.99999 fps for 60 s: 3600 frames -> floor(3599 / 59.99999 * 25) + 1 = 1500 frames, not 1499.
    windows = plan_windows(3600, 59.99999)
    assert sum(w.length for w in windows) == reference.resampled_length(3600, 59.99999, 25.0) == 1500
    assert spans(windows) == [(0, 250), (250, 250), (500, 250), (750, 250), (1000, 250), (1250, 250)]


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="stride"):
        plan_windows(100, 25.0, stride=0)
    with pytest.raises(ValueError, match="short"):
        plan_windows(100, 25.0, short="trim")


def test_views_are_evenly_spaced_yaws():
    assert [(v.top, v.yaw, v.name) for v in plan_views("front")] == [(False, 0.0, "front")]
    assert [v.name for v in plan_views("front", 4)] == ["front", "side", "yaw:180", "yaw:270"]
    assert [v.yaw for v in plan_views("yaw:30", 3)] == [30.0, 150.0, 270.0]
    assert [(v.top, v.name) for v in plan_views("top")] == [(True, "top")]
    with pytest.raises(ValueError, match="top"):
        plan_views("top", 2)


def test_ragged_batch_matches_reference_per_sequence():
    rng = np.random.default_rng(0)
    rest = np.cumsum(rng.normal(0, 0.1, (22, 3)), axis=0)
    seqs = [(rng.normal(0, 0.3, (40, 156)), rng.normal(0, 0.5, (40, 3)), 60.0),
            (rng.normal(0, 0.3, (13, 72)), rng.normal(0, 0.5, (13, 3)), 50.0)]
    views = plan_views("front", 2)
    batch = RaggedBatch()
    for poses, trans, fps in seqs:
        batch.add(poses, trans, fps, rest, plan_windows(len(poses), fps, window=8, stride=8), views)
    motion = batch.convert(window=8, backend="reference")
    # 40 frames at 60 fps -> 17 output frames: windows (0,8), (8,8), (16,1); 13 at 50 -> 7 frames: (0,7). x2 views.
    assert motion.shape == (8, 8, 20) and motion.dtype == np.float32
    assert batch.clip_window == [0, 0, 1, 1, 2, 2, 3, 3]
    # Each clip equals the reference run on its own sequence alone.
    for c, (w, view) in enumerate(zip(batch.clip_window, batch.clip_view)):
        s, win = batch.windows[w]
        poses, trans, fps = seqs[s]
        expected = reference.convert_batch(
            poses[:, :66], trans, np.array([0, len(poses)]), np.array([fps]), rest[None],
            reference.BODY_PARENTS, np.array([0]), np.array([win.start]), np.array([win.length]),
            np.array([view.yaw]), window=8)
        np.testing.assert_allclose(motion[c], expected[0], atol=1e-5)
    # Padded frames hold the last valid frame.
    np.testing.assert_array_equal(motion[4, 1:], np.broadcast_to(motion[4, 0], (7, 20)))


def test_ragged_batch_keeps_only_the_body_pose_columns():
    # A task holds its sequences until its convert_batch call: the 90-99 hand/face columns of each SMPL+H/SMPL-X
    # file must not stay alive behind a view of the body columns.
    import weakref

    poses = np.random.default_rng(1).normal(0, 0.3, (50, 165))
    source = weakref.ref(poses)
    batch = RaggedBatch()
    batch.add(poses, np.zeros((50, 3)), 60.0, np.zeros((22, 3)), plan_windows(50, 60.0, window=8), plan_views())
    kept = batch.poses[0]
    np.testing.assert_array_equal(kept, poses[:, :66].astype(np.float32))  # float32: what the kernels compute in
    del poses
    assert source() is None and kept.nbytes == 50 * 66 * 4


def test_min_length_drops_only_short_padded_tails():
    # 120 fps, 601 frames = 5 s -> 126 output frames: windows of 50 at 0 and 50, tail of 26 frames at 100.
    assert [w.length for w in plan_windows(601, 120.0, window=50)] == [50, 50, 26]
    assert [w.length for w in plan_windows(601, 120.0, window=50, min_length=26)] == [50, 50, 26]
    assert [w.length for w in plan_windows(601, 120.0, window=50, min_length=27)] == [50, 50]
    # A sequence shorter than one window is its own tail: kept or dropped by the same rule.
    assert plan_windows(61, 120.0, window=50, min_length=14) == []
    assert plan_windows(61, 120.0, window=50, min_length=13) == [Window(0, 13)]
    assert min_tail_frames(0.0, 25.0) == 1 and min_tail_frames(1.0, 25.0) == 25 and min_tail_frames(1.01, 25.0) == 26


def test_plans_beyond_the_limit_are_refused_before_allocating():
    from amass_fast.process.clips import MAX_PLANNED_FRAMES

    with pytest.raises(ValueError, match=r"at 1e-09 fps make .* more than the 16,777,216 frames"):
        plan_windows(100, 1e-9)  # 2.5e12 output frames: refused without building a list
    with pytest.raises(ValueError, match="more than the 16,777,216 frames"):
        plan_windows(100, 5e-324)  # subnormal: the span is infinite
    with pytest.raises(ValueError, match=r"use a larger stride \(--stride\)"):
        plan_windows(200_000, 25.0, window=250, stride=1)  # 200,000 windows x 250 frames
    for rate in (0.0, -25.0, float("nan"), float("inf"), "abc"):
        with pytest.raises(ValueError, match=r"src_fps must be a positive, finite frame rate"):
            plan_windows(100, rate)
    with pytest.raises(ValueError, match=r"dst_fps must be"):
        plan_windows(100, 25.0, dst_fps=0.0)
    # At the limit itself the plan is built.
    windows = plan_windows(MAX_PLANNED_FRAMES, 25.0, window=MAX_PLANNED_FRAMES)
    assert windows == [Window(0, MAX_PLANNED_FRAMES)]


# --- the planned size of one sequence's clips ----------------------------------------------------------------------

def test_planned_size_counts_views_mirrors_and_schema_width(monkeypatch):
    from amass_fast.kernels import runtime
    from amass_fast.process import clips

    monkeypatch.setattr(runtime, "memory_available", lambda device=None: (None, ""))
    # 2,000 windows x 250 frames of joints2d (44 floats, 184 bytes a frame with its action): 92 MB a view
    clips.check_planned_size(2000, 1, 250, "joints2d", name="a.npz")
    with pytest.raises(ValueError, match=r"a\.npz: 2,000 windows x 24 views x 2 \(--mirror\) = 96,000 clips of 250 "
                                         r"frames of joints2d \(float32\) plan 4\.11 GiB, over the limit of 4 GiB "
                                         r"per file; use fewer --views"):
        clips.check_planned_size(2000, 24, 250, "joints2d", mirror=True, name="a.npz")


def test_planned_size_is_held_to_the_memory_the_process_may_still_take(monkeypatch):
    from amass_fast.kernels import runtime
    from amass_fast.process import clips

    asked = []
    monkeypatch.setattr(runtime, "memory_available",
                        lambda device=None: asked.append(device) or (1 << 30, "memory available on this machine"))
    clips.check_planned_size(10, 1, 250)  # a few MB: the system is not asked
    assert asked == []
    with pytest.raises(ValueError, match=r"plan 1\.71 GiB, over the limit of 1 GiB of memory available on this "
                                         r"machine; use fewer --views"):
        clips.check_planned_size(2000, 20, 250, "joints2d", name="a.npz")
    assert asked == [None]
