"""No silent shadowing: a package without a working compiled _core says so once, naming the folder and the fix."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import amass_fast

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_PARENT = Path(amass_fast.__file__).resolve().parents[1]

# Runs in a subprocess: record every warning from the import and from two backend="auto" calls, then report them.
PROBE = """
import json, sys, warnings
if sys.argv[1] == "block":
    sys.modules["amass_fast._core"] = None  # `import amass_fast._core` raises ImportError, find_spec finds nothing
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import amass_fast
    after_import = len(caught)
    import numpy as np
    from amass_fast import kernels
    poses, trans = np.zeros((4, 66)), np.zeros((4, 3))
    rest, parents = np.zeros((22, 3)), np.array([-1] + [0] * 21)
    for _ in range(2):
        kernels.fk(poses, trans, rest, parents)
print(json.dumps({"file": amass_fast.__file__, "after_import": after_import, "backends": kernels.available_backends(),
                  "warnings": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]}))
"""


def _probe(path: Path, mode: str, cwd: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(path)}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, cwd=cwd,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_source_checkout_without_core_warns_once_at_import_naming_folder_and_fix(tmp_path):
    got = _probe(ROOT, "block", tmp_path)
    assert Path(got["file"]).resolve().parent == ROOT / "amass_fast"
    assert "cpp" not in got["backends"]
    assert got["after_import"] == 1 and len(got["warnings"]) == 1, got  # once, although auto fell back twice
    message = got["warnings"][0]
    assert f"source checkout {ROOT}" in message and str(ROOT / "amass_fast") in message
    for fix in ("another folder", "pip install -e . --no-build-isolation", "tools/build_inplace.sh", "numba"):
        assert fix in message


def test_auto_falling_back_from_cpp_warns_once_outside_a_checkout(tmp_path):
    """An installed copy (no pyproject.toml beside it) whose _core does not import: silent at import, one warning
    when backend="auto" first falls back to numba."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "amass_fast", site / "amass_fast",
                    ignore=shutil.ignore_patterns("__pycache__", "_core*", "_cuda*", ".*"))
    got = _probe(site, "plain", tmp_path)
    assert Path(got["file"]).resolve().parent == (site / "amass_fast").resolve()
    assert got["after_import"] == 0 and len(got["warnings"]) == 1, got
    message = got["warnings"][0]
    assert str((site / "amass_fast").resolve()) in message and "does not import" in message
    assert "pip install" in message and "numba" in message


def test_a_working_core_imports_without_a_warning(tmp_path):
    if not any((PACKAGE_PARENT / "amass_fast").glob("_core*")):
        pytest.skip("this copy of amass_fast has no compiled _core")
    got = _probe(PACKAGE_PARENT, "plain", tmp_path)
    assert "cpp" in got["backends"] and got["warnings"] == []
