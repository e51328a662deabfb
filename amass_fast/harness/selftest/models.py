from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Callable

import numpy as np

from amass_fast.harness.selftest.cases import Check, case
from amass_fast.harness.selftest.files import _WritesAFile, _expect_refusal, _savez

# --- body models -------------------------------------------------------------------------------------------------

def _model_case(name: str, expect: str, build: Callable[[Path, Path], Path], words: tuple[str, ...]) -> None:
    @case("models", name, expect)
    def run(c: Check) -> None:
        from amass_fast.io.body_models import BodyModelError, load_body_model

        sentinel = c.dir / "UNPICKLED"
        path = build(c.dir, sentinel)
        try:
            model = load_body_model(path)
            c.did = f"loaded a {model.kind} model"
            c.expect(False, "a BodyModelError")
        except BodyModelError as exc:
            _expect_refusal(c, exc, path, words)
        c.expect(not sentinel.exists(), "no code from the file ran (the sentinel file was created!)")


def _model_npz(folder: Path, change: Callable[[dict], None]) -> Path:
    from amass_fast.harness.synthetic_models import model_arrays

    arrays = model_arrays("smplh", num_vertices=400)
    change(arrays)
    path = folder / "SMPLH_MALE.npz"
    _savez(path, **arrays)
    return path


class _ImportsOs:
    def __reduce__(self):
        return os.system, ("echo pwned > UNPICKLED",)


def _evil_pickle(folder: Path, sentinel: Path) -> Path:
    path = folder / "SMPLH_MALE.pkl"
    payload = {"v_template": _WritesAFile(sentinel), "J_regressor": _ImportsOs()}
    path.write_bytes(pickle.dumps(payload, protocol=2))
    return path


def _truncated_pickle(folder: Path, sentinel: Path) -> Path:
    from amass_fast.harness.synthetic_models import write_model

    path = write_model(folder / "SMPLH_MALE.pkl", num_vertices=400)
    path.write_bytes(path.read_bytes()[:3000])
    return path


_model_case("model_missing_keys", "missing J_regressor: BodyModelError naming the file and the key",
            lambda d, s: _model_npz(d, lambda a: a.pop("J_regressor")), ("missing J_regressor",))
_model_case("model_wrong_shapes", "v_template [V, 2]: BodyModelError naming the file and the shape",
            lambda d, s: _model_npz(d, lambda a: a.update(v_template=a["v_template"][:, :2])), ("v_template",))
_model_case("model_nan_values", "NaN in v_template: refused, not NaN joints for every sequence",
            lambda d, s: _model_npz(d, lambda a: a["v_template"].__setitem__((slice(None), 0), np.nan)), ("NaN",))
_model_case("model_pkl_imports_os", "a .pkl calling os.system/open: refused, nothing executed",
            _evil_pickle, ("refusing",))
_model_case("model_pkl_truncated", "a truncated .pkl: BodyModelError, not a pickle traceback",
            _truncated_pickle, ("truncated",))




@case("models", "body_model_folder_without_models", "--body-model naming a missing folder, a file or a folder with "
      "no model file: exit 2 naming the flag and what it holds, before any work (never a silent built-in skeleton)")
def _mistyped_model_folder(c: Check) -> None:
    from amass_fast.harness import synthetic
    from amass_fast.harness.selftest.cases import _amass_fast, _refused

    tree = c.dir / "amass"
    synthetic.write_sequence(tree / "CMU" / "01" / "01_01_poses.npz", seconds=1.0, fps=60.0)
    (c.dir / "empty").mkdir()
    (c.dir / "a_file").write_text("not a folder")
    for name in ("missing", "empty", "a_file"):
        output = c.dir / f"{name}.pt"
        proc = _amass_fast(["process", "--amass-root", str(tree), "--output", str(output), "--body-model",
                            str(c.dir / name), "--jobs", "1"])
        _refused(c, name, proc, [f"--body-model {c.dir / name}"])
        c.expect(not output.exists() and not Path(f"{output}.parts").exists(), f"{name}: nothing written")
