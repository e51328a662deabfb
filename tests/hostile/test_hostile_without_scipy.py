"""The hostile "faults" group passes where scipy cannot be imported: a sitecustomize on PYTHONPATH sets
sys.modules["scipy"] = None in the selftest process and in every amass-fast process its cases start (they inherit
PYTHONPATH), so any `import scipy...` there raises ImportError. The faults cases do not depend on scipy."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses FIFOs, POSIX signals and resource limits")

BLOCK = 'import sys\nsys.modules["scipy"] = None  # any import of scipy or a submodule raises ImportError\n'


def _env(block_dir: Path) -> dict:
    path = os.pathsep.join(filter(None, [str(block_dir), str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


@pytest.mark.slow  # the whole faults group once more (minutes)
def test_faults_group_without_scipy(tmp_path):
    block = tmp_path / "noscipy"
    block.mkdir()
    (block / "sitecustomize.py").write_text(BLOCK)
    env = _env(block)
    probe = subprocess.run([sys.executable, "-c", "try:\n import scipy.sparse\nexcept ImportError:\n print('blocked')"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "blocked", "the guard makes scipy unimportable"
    done = subprocess.run([sys.executable, "-m", "amass_fast", "selftest", "--hostile", "--groups", "faults", "--json"],
                          env=env, capture_output=True, text=True, timeout=1500, cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    report = json.loads(done.stdout)
    results = report["results"] if isinstance(report, dict) else report
    failed = [r for r in results if r.get("problems")]
    assert results and not failed, json.dumps(failed, indent=1)[:4000]
    assert done.returncode == 0, done.stderr[-2000:]
