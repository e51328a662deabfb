"""pytest-benchmark suite: each backend's fk and convert_batch, the torch pipeline (eager and torch.compile'd, checked
equal to convert_batch before timing), body-models' joints-only forward, torch joints-only FK and smplx's full
forward (real vertex counts): the workloads of `amass-fast bench`. Every case records its source frame count and
frames/s in extra_info; compare cases by frames/s. test_fk: FK forward and forward+backward of 4096 poses (22 and 52
joints) for af.fk and each differentiable alternative (`amass-fast bench --part training`), each checked equal to
af.fk (joints and gradients) before timing; poses/s in extra_info.

    PYTHONPATH=. python -m pytest benches/bench_kernels.py --benchmark-only --benchmark-columns=min,mean,rounds
"""
from __future__ import annotations

import pytest

from amass_fast.harness.bench import _kernel_api

BACKENDS = _kernel_api()[0]
CASES = [("smplx forward smplh", "torch"), ("smplx forward smplx", "torch"),
         ("torch FK 52 joints", "torch"), ("torch FK 22 joints", "torch"),
         ("body-models forward_skeleton 22 joints", "torch"), ("torch pipeline eager", "torch"),
         ("torch pipeline compiled", "torch")]
CASES += [(name, b) for b in BACKENDS for name in ("fk 52 joints", "convert_batch smplh 120->25 stick5")]


@pytest.mark.parametrize("name,backend", CASES, ids=[f"{n} [{b}]" for n, b in CASES])
def test_bench(benchmark, bench_cases, bench_skipped, name, backend):
    case = next((c for key, c in bench_cases.items() if key.startswith(name) and key.endswith(f"[{backend}]")), None)
    if case is None:
        why = [s["reason"] for s in bench_skipped if name.startswith(s["name"]) or s["name"].startswith(name)]
        pytest.skip(f"{name} [{backend}] is not available here: {why[0] if why else 'not installed'}")
    case.fn()   # warm-up: numba compiles, torch allocates
    benchmark.extra_info["frames"] = case.frames
    benchmark.pedantic(case.fn, rounds=1 if backend == "reference" else 5, iterations=1)
    benchmark.extra_info["frames_per_s"] = case.frames / benchmark.stats.stats.min


FK_NAMES = ("amass-fast af.fk", "plain torch eager", "plain torch compiled", "plain torch compiled, unrolled",
            "smplx lbs joint chain", "body-models forward_skeleton")
FK_CASES = [(J, mode, name) for J in (22, 52) for mode in ("forward", "forward+backward") for name in FK_NAMES]


@pytest.mark.parametrize("joints,mode,name", FK_CASES, ids=[f"FK {j} {m}: {n}" for j, m, n in FK_CASES])
def test_fk(benchmark, fk_cases, bench_skipped, joints, mode, name):
    prefix = f"FK {joints} {mode}: {name}"
    case = next((c for key, c in fk_cases.items() if key == prefix or key.startswith(prefix + " [")), None)
    if case is None:
        why = [s["reason"] for s in bench_skipped if s["name"].startswith(name)]
        pytest.skip(f"{prefix} is not available here: {why[0] if why else 'not installed'}")
    case.fn()
    benchmark.extra_info["poses"] = case.poses
    benchmark.pedantic(case.fn, rounds=5, iterations=1)
    benchmark.extra_info["poses_per_s"] = case.poses / benchmark.stats.stats.min
