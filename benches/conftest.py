"""pytest-benchmark setup for benches/ (never collected by the normal test run, whose testpaths is tests/).

Run: PYTHONPATH=. python -m pytest benches/bench_kernels.py --benchmark-only
Options: --bench-frames N (source frames per workload, default 24000), --bench-threads N (default 1),
--bench-fk-batch N (poses per FK call, default 4096).
"""
from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption("--bench-frames", type=int, default=24000, help="source frames per workload")
    parser.addoption("--bench-threads", type=int, default=1, help="threads for every backend and torch")
    parser.addoption("--bench-fk-batch", type=int, default=4096, help="poses per FK call")


_SKIPPED: list = []


@pytest.fixture(scope="session")
def bench_cases(request, tmp_path_factory):
    """The workloads of `amass-fast bench`, keyed by 'name [backend]', built once per session (the torch
    pipelines are checked equal to convert_batch while they are built)."""
    from amass_fast.harness.bench import build_cases, set_threads

    set_threads(request.config.getoption("--bench-threads"))
    cases = build_cases(request.config.getoption("--bench-frames"), False, tmp_path_factory.mktemp("models"),
                        _SKIPPED)
    return {f"{c.name} [{c.backend}]": c for c in cases}


@pytest.fixture(scope="session")
def bench_skipped(bench_cases):
    """(name, reason) of the workloads build_cases left out."""
    return _SKIPPED


@pytest.fixture(scope="session")
def fk_cases(request, tmp_path_factory):
    """FK forward and forward+backward of `amass-fast bench --part training`, keyed by 'FK J mode: name', each
    checked equal to af.fk (joints and gradients) while it is built."""
    import numpy as np

    from amass_fast.harness.bench import build_fk_cases, set_threads
    from amass_fast.io.body_models import load_body_model
    from amass_fast.harness.synthetic_models import write_model

    set_threads(request.config.getoption("--bench-threads"))
    path = write_model(tmp_path_factory.mktemp("fk") / "SMPLH_NEUTRAL.npz", "smplh")
    rest52 = load_body_model(path).rest_joints(np.zeros(16))
    cases = build_fk_cases(request.config.getoption("--bench-fk-batch"), False, path, rest52, _SKIPPED)
    return {f"FK {c.joints} {c.mode}: {c.name}": c for c in cases}
