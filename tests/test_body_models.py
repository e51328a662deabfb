"""Body model loading: every accepted layout, the restricted unpickler, errors, the built-in skeleton."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

from amass_fast.io import body_models as bm
from amass_fast.io.body_models import BodyModelError, default_body_model, find_body_model, load_body_model
from amass_fast.harness.synthetic_models import write_model, write_model_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return root, write_model_tree(root, num_vertices=400)


def _raw(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("rel,kind,num_betas", [
    ("smplh/SMPLH_MALE.npz", "smplh", 16), ("smplh/male/model.npz", "smplh", 16),
    ("smplx/SMPLX_NEUTRAL.npz", "smplx", 10)])
def test_skeleton_equals_regressed_vertices(tree, rel, kind, num_betas):
    root, paths = tree
    model = load_body_model(paths[rel])
    raw = _raw(paths[rel])
    assert model.kind == kind and model.num_betas == num_betas
    assert model.parents.dtype == np.int64 and model.parents[0] == -1
    assert np.array_equal(model.parents[1:], raw["kintree_table"][0, 1:].astype(np.int64))
    assert len(model.joint_names) == model.num_joints == raw["J_regressor"].shape[0]
    betas = np.random.default_rng(0).normal(size=20)
    b = min(20, num_betas)   # only the model's own betas count (SMPL-X: not the expression columns)
    expected = raw["J_regressor"] @ (raw["v_template"] + raw["shapedirs"][:, :, :b] @ betas[:b])
    got = model.rest_joints(betas)
    assert got.dtype == np.float64 and got.shape == (model.num_joints, 3)
    assert np.abs(got - expected).max() <= 1e-12
    few = model.rest_joints(betas[:3])
    assert np.abs(few - raw["J_regressor"] @ (raw["v_template"] + raw["shapedirs"][:, :, :3] @ betas[:3])).max() <= 1e-12


def test_pickle_with_chumpy_and_sparse_equals_npz(tree):
    root, paths = tree
    a, b = load_body_model(paths["smplh/SMPLH_MALE.npz"]), load_body_model(paths["smplh/SMPLH_MALE.pkl"])
    assert b.kind == "smplh"
    assert np.array_equal(a.J_template, b.J_template) and np.array_equal(a.J_shapedirs, b.J_shapedirs)
    raw = open(paths["smplh/SMPLH_MALE.pkl"], "rb").read()
    assert b"chumpy.ch" in raw and b"scipy.sparse" in raw   # the file really holds both stand-ins


def test_smplx_full_shape_space(tmp_path):
    path = write_model(tmp_path / "SMPLX_FEMALE.npz", "smplx", num_vertices=400, num_betas=300)
    model = load_body_model(path)
    assert model.num_betas == 300 and model.gender == "female"


def test_folder_and_gender_lookup(tree):
    root, paths = tree
    assert load_body_model(root / "smplh", "female").path == str(paths["smplh/SMPLH_FEMALE.npz"].resolve())
    assert load_body_model(root / "smplh", "male").path == str(paths["smplh/SMPLH_MALE.npz"].resolve())
    assert load_body_model(root, b"neutral").path == str(paths["smplh/neutral/model.npz"].resolve())
    with pytest.raises(BodyModelError, match="no female model"):
        load_body_model(root / "smplx", "female")


def test_find_body_model(tree, tmp_path):
    root, paths = tree
    assert find_body_model(None, "male", "smplh") is None
    assert find_body_model(tmp_path, "male", "smplh") is None
    assert find_body_model(root, "female", "smplh").path == str(paths["smplh/SMPLH_FEMALE.npz"].resolve())
    assert find_body_model(root, "male", "smplx").kind == "smplx"
    with pytest.warns(UserWarning, match="neutral"):
        assert find_body_model(root, "female", "smplx").gender == "neutral"
    wrong = tmp_path / "wrong"
    write_model(wrong / "smplx" / "SMPLX_MALE.npz", "smplh", num_vertices=400)
    with pytest.raises(BodyModelError, match="smplh model where a smplx model is expected"):
        find_body_model(wrong, "male", "smplx")


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_other_classes(tmp_path):
    path = tmp_path / "SMPLH_MALE.pkl"
    path.write_bytes(pickle.dumps({"J_regressor": _Evil()}, protocol=2))
    with pytest.raises(BodyModelError, match=r"refusing to load class (posix|os|nt)\.system from .*SMPLH_MALE\.pkl"):
        load_body_model(path)


@pytest.mark.parametrize("change,message", [
    (lambda a: a.pop("shapedirs"), "missing shapedirs"),
    (lambda a: a.update(v_template=a["v_template"][:, :2]), "v_template has shape"),
    (lambda a: a.update(J_regressor=a["J_regressor"][:30]), "30 joints"),
    (lambda a: a.update(kintree_table=a["kintree_table"][:, ::-1].copy()), "parents are not ordered"),
])
def test_bad_files_name_the_file(tmp_path, change, message):
    src = write_model(tmp_path / "ok.npz", "smplh", num_vertices=400)
    arrays = _raw(src)
    change(arrays)
    bad = tmp_path / "SMPLH_BAD.npz"
    np.savez(bad, **arrays)
    with pytest.raises(BodyModelError, match=message) as err:
        load_body_model(bad)
    assert "SMPLH_BAD.npz" in str(err.value)
    with pytest.raises(BodyModelError, match="no such model file"):
        load_body_model(tmp_path / "missing.npz")


def test_default_skeleton_proportions_and_warning(monkeypatch):
    monkeypatch.setattr(bm, "_default_warned", False)
    with pytest.warns(UserWarning, match="built-in skeleton"):
        model = default_body_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        default_body_model()   # warns once only
    H, w = bm.DEFAULT_HEIGHT, bm.WINTER
    rest = model.rest_joints(np.ones(16))
    assert model.kind == "default" and rest.shape == (22, 3)
    assert np.array_equal(rest, model.J_template)   # betas ignored
    assert np.array_equal(model.parents, bm.BODY_PARENTS)
    # Y up, left = +X, heights and segment lengths from Winter's table (tolerance: rounding).
    assert abs((rest[15, 1] - rest[7, 1]) - H * (0.5 * (w["chin_height"] + w["eye_height"]) - w["ankle_height"])) < 1e-9
    assert abs(np.linalg.norm(rest[18] - rest[16]) - H * w["upper_arm"]) < 1e-9
    assert abs(np.linalg.norm(rest[20] - rest[18]) - H * w["forearm"]) < 1e-9
    assert abs(np.linalg.norm(rest[4] - rest[1]) - H * (w["hip_height"] - w["knee_height"])) < 1e-9
    assert rest[16, 0] > 0 > rest[17, 0] and rest[1, 0] > 0 > rest[2, 0]
    assert rest[10, 2] > rest[7, 2]   # feet point forward (+Z)
    assert np.allclose(rest[0], bm.DEFAULT_REST_PELVIS)
