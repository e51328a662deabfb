"""pytest-benchmark setup for benches/ (never collected by the normal test run, whose testpaths is tests/).

Run: PYTHONPATH=. python -m pytest benches/bench_kernels.py --benchmark-only
Options: --bench-frames N (source frames per workload, default 24000), --bench-threads N (default 1).
"""
from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption("--bench-frames", type=int, default=24000, help="source frames per workload")
    parser.addoption("--bench-threads", type=int, default=1, help="threads for every backend and torch")


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
