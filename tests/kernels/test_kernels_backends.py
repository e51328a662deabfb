"""The public kernel API (amass_fast.kernels): view parsing, backend choice and agreement, convert as
convert_batch of one clip, and the one meaning of backend='auto'."""
from __future__ import annotations

import numpy as np
import pytest

from amass_fast import kernels
from amass_fast.kernels import reference, runtime


# ---------------------------------------------------------------------------------------------------------------
# parse_view and backends

@pytest.mark.parametrize("view, want", [
    ("front", (False, 0.0)), ("side", (False, 90.0)), ("top", (True, 0.0)), ("yaw:30", (False, 30.0)),
    ("yaw:-12.5", (False, -12.5)), (30, (False, 30.0)), (45.5, (False, 45.5)), ("FRONT", (False, 0.0)),
])
def test_parse_view(view, want):
    assert kernels.parse_view(view) == want


@pytest.mark.parametrize("view", ["back-ish", "yaw:", "yaw:nan", float("inf")])
def test_parse_view_rejects(view):
    with pytest.raises(ValueError, match="view must be"):
        kernels.parse_view(view)


def test_available_backends():
    names = kernels.available_backends()
    assert names[-1] == "reference"
    assert set(names) <= set(kernels.BACKENDS)
    assert names == [b for b in kernels.BACKENDS if b in names]  # fastest first


@pytest.mark.parametrize("backend", [b for b in ("cpp", "numba") if b in kernels.available_backends()])
def test_backends_agree_with_reference(one_batch, backend):
    args = one_batch()
    want = kernels.convert_batch(**args, backend="reference")
    got = kernels.convert_batch(**args, backend=backend)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_convert_is_convert_batch_of_one_clip(one_batch):
    args = one_batch(frames=(50,), fps=(60.0,))
    poses, trans, rest = args["poses"], args["trans"], args["rest_joints"][0]
    T = reference.resampled_length(50, 60.0, 25.0)
    for view, top, yaw in (("front", False, 0.0), ("yaw:30", False, 30.0), ("top", True, 0.0)):
        got = kernels.convert(poses, trans, rest, reference.BODY_PARENTS, 60.0, view=view)
        want = reference.convert_batch(poses, trans, [0, 50], [60.0], rest[None], reference.BODY_PARENTS, [0], [0],
                                       [T], [yaw], window=T, view_mode=reference.VIEW_TOP if top else 0)[0]
        assert got.shape == (T, 20)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_project_and_fk_through_every_backend():
    rng = np.random.default_rng(1)
    poses, trans = rng.normal(0, 0.5, (9, 66)), rng.normal(0, 1, (9, 3))
    rest = rng.normal(0, 0.3, (22, 3))
    joints = reference.fk(poses, trans, rest, reference.BODY_PARENTS)
    sticks = reference.project(joints, 90.0)
    for backend in kernels.available_backends():
        if backend == "cuda":
            continue
        np.testing.assert_allclose(kernels.fk(poses, trans, rest, reference.BODY_PARENTS, backend=backend),
                                   joints, rtol=0, atol=1e-9)
        np.testing.assert_allclose(kernels.project(joints, view="side", backend=backend), sticks, rtol=0, atol=1e-9)


def test_resolve_backend_is_the_one_meaning_of_auto(monkeypatch):
    """auto: cuda only where usable and the data are (or may be put) on a GPU, else the first CPU backend that
    imports; named backends are checked; an unknown name is refused naming the choices."""
    cpu_first = next(b for b in ("cpp", "numba", "reference") if b in kernels.available_backends())
    monkeypatch.setattr(runtime, "cuda_problem", lambda: None)
    assert kernels.resolve_backend("auto", data_on="cuda") == "cuda"
    assert kernels.resolve_backend("auto", data_on="any") == "cuda"
    assert kernels.resolve_backend("auto", data_on="cpu") == cpu_first
    monkeypatch.setattr(runtime, "cuda_problem", lambda: "torch sees no GPU")
    assert kernels.resolve_backend("auto", data_on="any") == cpu_first
    with pytest.raises(RuntimeError, match="no GPU"):
        kernels.resolve_backend("cuda")
    with pytest.raises(ValueError, match="auto, cuda, cpp, numba, reference"):
        kernels.resolve_backend("fast")
    assert kernels.resolve_backend("reference") == "reference"
