"""The README's commands and its Python API example, run as a user pastes them."""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.S | re.M)


def _env() -> dict:
    """Subprocesses import this copy of the package."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def test_first_commands_are_the_install_and_test_lines():
    first = _blocks("bash")[0]
    assert "pip install torch==2.13.0 && pip install . && amass-fast demo\n" in first
    assert 'pip install torch==2.13.0 && pip install ".[test]" && pytest -q\n' in first


def test_python_example_runs_as_pasted_after_the_demo(tmp_path):
    """`amass-fast demo` in a fresh folder, then the README's Python block(s) in that same folder, unchanged; the
    shapes its comments promise are checked afterwards in the same interpreter."""
    blocks = _blocks("python")
    assert blocks, "the README has no ```python block"
    demo = subprocess.run([sys.executable, "-m", "amass_fast", "demo"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert (tmp_path / "amass_fast_demo" / "amass_stick_data.pt").is_file()

    checks = textwrap.dedent("""
        F = seq.num_frames
        assert tuple(joints.shape) == (F, 22, 3) and tuple(sticks.shape) == (F, 20)
        assert tuple(p25.shape) == (T, seq.poses.shape[1]) and tuple(clip.shape) == (T, 20)
        assert tuple(motion.shape) == (2, 250, 20)
        h = T // 2   # the batch's first clip is the fused one's first half: same x (y = 0 at the clip's lowest ankle)
        assert abs(motion[0, :h, 0::2] - clip[:h, 0::2]).max() < 1e-4 and (motion[0, h:] == motion[0, h - 1]).all()
        assert tuple(batch["motion"].shape) == (8, 250, 20) and len(batch["action"]) == 8
        print("README example OK")
    """)
    script = "\n".join(blocks) + checks
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "README example OK" in run.stdout
