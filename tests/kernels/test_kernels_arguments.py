"""Bad arguments to the public kernel API (amass_fast.kernels) raise errors that name the argument: shapes,
dtypes, contents, clip bounds without int64 overflow, rates, windows, thread counts, backends; and the bench
command's numeric flags."""
from __future__ import annotations

import re

import numpy as np
import pytest

from amass_fast import kernels
from amass_fast.kernels import prepared, reference


# ---------------------------------------------------------------------------------------------------------------
# Bad arguments raise errors that name the argument

def test_bad_shapes(one_batch):
    args = one_batch()
    with pytest.raises(ValueError, match="`poses` must have shape"):
        kernels.convert_batch(**{**args, "poses": args["poses"][:, :60]})
    with pytest.raises(ValueError, match="`trans` must have shape"):
        kernels.convert_batch(**{**args, "trans": args["trans"][:-1]})
    with pytest.raises(ValueError, match="`rest_joints` must have shape"):
        kernels.convert_batch(**{**args, "rest_joints": args["rest_joints"][:1]})
    with pytest.raises(ValueError, match="`clip_len` must have shape"):
        kernels.convert_batch(**{**args, "clip_len": args["clip_len"][:2]})
    with pytest.raises(ValueError, match="`poses` must have shape"):
        kernels.fk(np.zeros((4, 30)), np.zeros((4, 3)), np.zeros((22, 3)), reference.BODY_PARENTS)
    with pytest.raises(ValueError, match="`joints` must have shape"):
        kernels.project(np.zeros((4, 10, 3)))
    with pytest.raises(ValueError, match="3K"):
        kernels.resample_poses(np.zeros((4, 7)), np.zeros((4, 3)), 60.0)


def test_bad_dtypes(one_batch):
    args = one_batch()
    with pytest.raises(TypeError, match="`poses` must hold floats"):
        kernels.convert_batch(**{**args, "poses": args["poses"].astype(np.int64)})
    with pytest.raises(TypeError, match="`clip_start` must hold integers"):
        kernels.convert_batch(**{**args, "clip_start": args["clip_start"].astype(np.float64)})
    C, W = len(args["clip_seq"]), args["window"]
    with pytest.raises(TypeError, match="`out` must have dtype float64"):
        kernels.convert_batch(**args, out=np.empty((C, W, 20), np.float32))
    with pytest.raises(ValueError, match="`out` must have shape"):
        kernels.convert_batch(**args, out=np.empty((C, W + 1, 20)))


def test_bad_contents(one_batch):
    args = one_batch()
    with pytest.raises(ValueError, match="`parents`"):
        kernels.convert_batch(**{**args, "parents": np.r_[reference.BODY_PARENTS[:5], 9, reference.BODY_PARENTS[6:]]})
    with pytest.raises(ValueError, match="`seq_offsets` must increase"):
        kernels.convert_batch(**{**args, "seq_offsets": np.array([0, 50, 40])})
    with pytest.raises(ValueError, match=r"clip 1 \(`clip_start` = 5, `clip_len` = 5\) lies outside"):
        kernels.convert_batch(**{**args, "clip_start": np.array([0, 5, 0])})
    with pytest.raises(ValueError, match="clip_len"):
        kernels.convert_batch(**{**args, "clip_len": np.array([9, 1, 1])})
    with pytest.raises(ValueError, match="`clip_seq` must name sequences"):
        kernels.convert_batch(**{**args, "clip_seq": np.array([0, 2, 1])})
    with pytest.raises(ValueError, match="seq_fps"):
        kernels.convert_batch(**{**args, "seq_fps": np.array([60.0, 0.0])})
    with pytest.raises(ValueError, match="src_fps"):
        kernels.resample_poses(np.zeros((4, 6)), np.zeros((4, 3)), -1.0)
    with pytest.raises(ValueError, match="schema"):
        kernels.project(np.zeros((4, 22, 3)), schema="stick9")


@pytest.mark.parametrize("backend", kernels.available_backends())
def test_clip_bounds_check_does_not_overflow(one_batch, backend):
    """clip_start near 2**63 plus clip_len wraps around to a negative int64: the check must still refuse it."""
    args = one_batch()
    if backend == "cuda":
        pytest.skip("numpy inputs")
    huge = np.iinfo(np.int64).max - 1
    with pytest.raises(ValueError, match=rf"clip 0 \(`clip_start` = {huge}, `clip_len` = .*\) lies outside"):
        kernels.convert_batch(**{**args, "clip_start": np.array([huge, 0, 0])}, backend=backend)


def test_core_bounds_check_does_not_overflow(one_batch):
    """The C++ module checks clips itself for direct callers, also without int64 overflow."""
    core = pytest.importorskip("amass_fast._core")
    args = one_batch()
    C, W = len(args["clip_seq"]), args["window"]
    start = np.array([np.iinfo(np.int64).max - 1, 0, 0])
    batch = prepared.ClipBatch(**{k: args[k] for k in prepared.ClipBatch._fields[:9]}, dst_fps=25.0, window=W)

    def stick(**change):
        return prepared.StickBatch(None, batch._replace(**change), args["clip_yaw"], 0, np.empty((C, W, 20)))

    with pytest.raises(ValueError, match="`clip_start` = 9223372036854775806 .* lies outside"):
        core.convert_batch(stick(clip_start=start))
    with pytest.raises(ValueError, match="2\\^31 resampled frames"):
        core.convert_batch(stick(seq_fps=np.array([5e-324, 60.0])))


def test_core_checks_the_gradient_rows(one_batch):
    """convert_joints_batch_backward's gradients must have a row per row of poses (the scatter writes them all)."""
    core = pytest.importorskip("amass_fast._core")
    args = one_batch()
    fwd = prepared.convert_batch(*(args[k] for k in ("poses", "trans", "seq_offsets", "seq_fps", "rest_joints",
                                                     "parents", "clip_seq", "clip_start", "clip_len", "clip_yaw")),
                                 25.0, args["window"], False, "cpp", None, "joints3d", None, "z", None)
    b = prepared.convert_joints_batch_backward(fwd, np.ones(fwd.out.shape))
    core.convert_joints_batch_backward(b)
    assert np.abs(b.grad_poses).sum() > 0
    for short in (["grad_poses"], ["grad_trans"], ["grad_poses", "grad_trans"]):
        with pytest.raises(ValueError, match=f"`{short[0]}` must have shape"):
            core.convert_joints_batch_backward(b._replace(**{name: getattr(b, name)[:-1].copy() for name in short}))


@pytest.mark.parametrize("rate, error, words", [
    ("abc", TypeError, "`src_fps` must be a frame rate (a number), got 'abc'"),
    (None, TypeError, "`src_fps` must be a frame rate (a number), got None"),
    (True, TypeError, "`src_fps` must be a frame rate (a number), got True"),
    (float("nan"), ValueError, "`src_fps` must be a positive, finite frame rate of at least 2.23e-308, got nan"),
    (5e-324, ValueError, "`src_fps` must be a positive, finite frame rate of at least 2.23e-308, got 5e-324"),
    (1e-300, ValueError, "`src_fps` = 1e-300 makes 4 frames"),
])
def test_bad_rates_name_the_argument(rate, error, words):
    poses, trans = np.zeros((4, 66)), np.zeros((4, 3))
    with pytest.raises(error, match=re.escape(words)):
        kernels.resample_poses(poses, trans, rate)
    if rate != 1e-300:  # as dst_fps, a tiny rate makes few frames: fine
        with pytest.raises(error, match=re.escape(words.replace("`src_fps`", "`dst_fps`"))):
            kernels.resample_poses(poses, trans, 60.0, dst_fps=rate)
    with pytest.raises(error, match=re.escape(words)):
        kernels.convert(poses, trans, np.zeros((22, 3)), reference.BODY_PARENTS, rate)


def test_subnormal_and_tiny_sequence_rates_name_seq_fps(one_batch):
    args = one_batch()
    for fps in (5e-324, 1e-300):
        with pytest.raises(ValueError, match=r"`seq_fps"):
            kernels.convert_batch(**{**args, "seq_fps": np.array([60.0, fps])})


@pytest.mark.parametrize("window, error", [(float("nan"), ValueError), (0, ValueError), (2.5, ValueError),
                                           ("250", TypeError), (2 ** 40, ValueError), (True, TypeError)])
def test_bad_window_names_the_argument(one_batch, window, error):
    args = one_batch()
    with pytest.raises(error, match=r"convert_batch: `window` must be a whole number in 1\.\.2147483648, got"):
        kernels.convert_batch(**{**args, "window": window})


@pytest.mark.parametrize("n, error", [(0, ValueError), (-1, ValueError), (10 ** 9, ValueError), (1025, ValueError),
                                      ("4", TypeError), (float("nan"), ValueError)])
def test_thread_counts_are_limited(n, error):
    with pytest.raises(error, match=r"set_num_threads: `n` must be a whole number in 1\.\.1024, got"):
        kernels.set_num_threads(n)


def test_thread_counts_in_range_are_applied():
    core = pytest.importorskip("amass_fast._core")
    try:
        kernels.set_num_threads(3)
        assert kernels.get_num_threads() == 3
        core.set_num_threads(10 ** 6)  # a direct caller of the module is capped too
        assert kernels.get_num_threads() == 1024
    finally:
        kernels.set_num_threads(None)


def test_backend_errors(one_batch):
    args = one_batch()
    with pytest.raises(ValueError, match="backend must be one of"):
        kernels.convert_batch(**args, backend="tpu")
    with pytest.raises(ValueError, match="backend='cuda' needs CUDA torch tensors"):
        kernels.convert_batch(**args, backend="cuda")
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="a CPU tensor"):
        kernels.fk(torch.zeros(3, 66), torch.zeros(3, 3), torch.zeros(22, 3), reference.BODY_PARENTS, backend="cuda")


def test_core_refuses_wrong_dtypes_instead_of_copying():
    core = pytest.importorskip("amass_fast._core")
    poses, trans, rest = np.zeros((3, 66)), np.zeros((3, 3)), np.zeros((22, 3))
    parents = reference.BODY_PARENTS[:22]
    with pytest.raises(TypeError, match="fk: `out` must be a C-contiguous, writeable float64 array on the host"):
        core.fk(prepared.Fk(None, poses, trans, rest, parents, np.empty((3, 22, 3), np.float32)))
    with pytest.raises(ValueError, match="`out` must have shape"):
        core.fk(prepared.Fk(None, poses, trans, rest, parents, np.empty((3, 21, 3))))
    with pytest.raises(ValueError, match="parents"):
        core.fk(prepared.Fk(None, poses, trans, rest, np.zeros(22, np.int64), np.empty((3, 22, 3))))


@pytest.mark.parametrize("flag, value", [("--threads", "0"), ("--threads", "100000000"), ("--threads", "x"),
                                         ("--frames", "1"), ("--frames", "nan")])
def test_bench_flags_exit_two_naming_the_flag(flag, value, capsys):
    from amass_fast.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["bench", "--quick", flag, value])
    assert exc.value.code == 2 and f"argument {flag}" in capsys.readouterr().err
