#!/usr/bin/env bash
# GPU check: one command on a machine with an NVIDIA GPU, nvcc and a Python that has torch (see docs/GPU.md):
#   bash benches/gpu_check.sh
# 1. builds the wheel with the CUDA module required (AMASS_FAST_CUDA=ON) and installs it into a temporary folder,
#    offline: pip --no-index --no-build-isolation --no-deps, so nothing is ever downloaded (torch, nanobind and
#    scikit-build-core must already be there); if the wheel fails, builds in place with tools/build_inplace.sh;
# 2. runs the kernel tests (tests/kernels/test_kernels_*.py, tests/kernels/test_native.py,
#    tests/schemas/test_schema_kernels.py: CUDA against cpp, grid shim) and the torch ops' forward and backward
#    tests (tests/kernels/test_autograd.py, tests/kernels/test_autograd_joints.py: gradcheck, CUDA gradients
#    against cpp; tests/kernels/test_torch_ops.py: compile without graph breaks, export;
#    tests/kernels/test_no_detach.py) with AMASS_FAST_CUDA_SYNC=1 (every launch waited for, so a fault names
#    its op), then every test marked cuda;
# 3. benchmarks convert_batch on GPU_CHECK_SEQS (default 10000) synthetic sequences: source frames/s, bandwidth,
#    max |cuda - cpp|, and the cpp backend's frames/s on the same machine for comparison;
# 4. runs the whole test suite in the time left (tests that need smplx or a download skip).
# Everything printed is also written to $OUT/gpu_check.txt when OUT names a folder, else ./gpu_check_results.txt;
# the last lines are a SUMMARY. Exit status 0 when the build, the kernel tests and the benchmark pass.
# Environment: PYTHON (default /opt/torch/.venv/bin/python3 if present, else python3), GPU_CHECK_SEQS,
# GPU_CHECK_BUDGET (seconds for everything, default 540, so the whole check ends within 10 minutes).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=${OUT:+$OUT/gpu_check.txt}
RESULTS=${RESULTS:-$PWD/gpu_check_results.txt}
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  [ -x /opt/torch/.venv/bin/python3 ] && PYTHON=/opt/torch/.venv/bin/python3
fi
PYTHON=$(command -v "$PYTHON")
BUDGET=${GPU_CHECK_BUDGET:-540}
WORK=$(mktemp -d)
export PATH="$(dirname "$PYTHON"):$PATH" PYTHONUNBUFFERED=1 PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH" CUDACXX=/usr/local/cuda/bin/nvcc
fi
SUMMARY=()
left() { echo $((BUDGET - SECONDS)); }

main() {
  local status=0 site
  echo "== amass-fast GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader || echo "nvidia-smi failed"
  echo "nvcc: $(command -v nvcc || echo 'not found') $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*')"
  echo "python: $PYTHON $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
  "$PYTHON" - <<'EOF'
import importlib, os, sysconfig
include = sysconfig.get_paths()["include"]
print(f"Python.h: {'found' if os.path.exists(os.path.join(include, 'Python.h')) else 'MISSING'} in {include}")
for name in ("torch", "numpy", "nanobind", "scikit_build_core", "numba", "scipy", "smplx", "pytest"):
    try:
        print(f"  {name} {getattr(importlib.import_module(name), '__version__', '?')}")
    except Exception as exc:  # a missing optional package is reported, not fatal
        print(f"  {name} missing ({type(exc).__name__})")
EOF

  echo "== build: pip wheel, offline, AMASS_FAST_CUDA=ON"
  if AMASS_FAST_CUDA=ON CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) timeout 300 "$PYTHON" -m pip wheel --no-index \
       --no-build-isolation --no-deps -w "$WORK/wheel" "$REPO" \
     && "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target "$WORK/site" "$WORK"/wheel/*.whl; then
    site=$WORK/site
    SUMMARY+=("build: wheel with the CUDA module OK ($(cd "$WORK/wheel" && ls *.whl))")
  else
    echo "== wheel build failed; building in place (tools/build_inplace.sh)"
    status=1
    if PYTHON="$PYTHON" AMASS_FAST_CUDA=ON JOBS=$(nproc) timeout 300 bash "$REPO/tools/build_inplace.sh"; then
      site=$REPO
      SUMMARY+=("build: wheel FAILED (see the log), in-place build OK")
    else
      SUMMARY+=("build: FAILED (wheel and in place); nothing else ran")
      return 1
    fi
  fi
  export PYTHONPATH=$site
  cd "$WORK" || return 1  # not the checkout: `import amass_fast` must find the built package

  echo "== import"
  if ! "$PYTHON" - <<'EOF'; then
import torch, amass_fast, amass_fast._cuda as cu
from amass_fast import kernels
print(f"amass_fast from {amass_fast.__file__}")
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}); GPU "
      f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}"
      f"{' sm_%d%d' % torch.cuda.get_device_capability() if torch.cuda.is_available() else ''}")
print(f"_cuda.runtime_info() = {cu.runtime_info()}; block_size {cu.block_size}")
print(f"available_backends() = {kernels.available_backends()}")
EOF
    SUMMARY+=("import: FAILED")
    return 1
  fi

  echo "== kernel tests (AMASS_FAST_CUDA_SYNC=1)"
  local pytest=("$PYTHON" -m pytest -q -rs -p no:cacheprovider --rootdir "$REPO" -c "$REPO/pyproject.toml")
  if AMASS_FAST_CUDA_SYNC=1 timeout 240 "${pytest[@]}" "$REPO"/tests/kernels/test_kernels_*.py "$REPO/tests/kernels/test_native.py" \
       "$REPO/tests/schemas/test_schema_kernels.py" "$REPO/tests/kernels/test_autograd.py" \
       "$REPO/tests/kernels/test_autograd_joints.py" "$REPO/tests/kernels/test_torch_ops.py" \
       "$REPO/tests/kernels/test_no_detach.py" \
       2>&1 | tee "$WORK/kernel_tests.txt"; then
    SUMMARY+=("kernel tests: PASS: $(tail -1 "$WORK/kernel_tests.txt")")
  else
    status=1
    SUMMARY+=("kernel tests: FAIL: $(tail -1 "$WORK/kernel_tests.txt")")
  fi
  if ! grep -q "passed" "$WORK/kernel_tests.txt" || grep -q "SKIPPED.*no GPU" "$WORK/kernel_tests.txt"; then
    status=1
    SUMMARY+=("kernel tests: the CUDA tests SKIPPED: the cuda backend is not available (see import above)")
  fi

  echo "== GPU benchmark"
  GPU_CHECK_SEQS=${GPU_CHECK_SEQS:-10000} timeout 240 "$PYTHON" - <<'EOF' 2>&1 | tee "$WORK/bench.txt"
import os, time
import numpy as np, torch
from amass_fast import kernels
from amass_fast.kernels import reference

if not torch.cuda.is_available():
    raise SystemExit("no GPU visible to torch: benchmark not run")
S = int(os.environ["GPU_CHECK_SEQS"])
rng = np.random.default_rng(0)
fps = rng.choice([60.0, 100.0, 120.0, 59.99999, 250.0], S)
frames = (rng.uniform(4.0, 20.0, S) * fps).astype(np.int64)   # 4..20 s per sequence, like AMASS
offsets = np.concatenate([[0], np.cumsum(frames)]).astype(np.int64)
N, W = int(offsets[-1]), 250
T = np.floor((frames - 1) * 25.0 / fps + reference.LENGTH_EPS).astype(np.int64) + 1
clip_seq = np.repeat(np.arange(S), (T + W - 1) // W)
first = np.concatenate([[0], np.cumsum((T + W - 1) // W)])[:-1]
clip_start = (np.arange(len(clip_seq)) - first[clip_seq]) * W
clip_len = np.minimum(W, T[clip_seq] - clip_start)
C, out_frames = len(clip_seq), int(clip_len.sum())
dev = torch.device("cuda")
print(f"{S} sequences, {N / 1e6:.1f} M source frames, {C} clips of {W}, {out_frames / 1e6:.2f} M valid output frames")
gen = torch.Generator(device=dev).manual_seed(0)
for dtype in (torch.float32, torch.float64):
    size = torch.finfo(dtype).bits // 8
    poses = torch.randn((N, 66), generator=gen, device=dev, dtype=dtype).mul_(0.4)
    trans = torch.randn((N, 3), generator=gen, device=dev, dtype=dtype)
    rest = torch.randn((S, 22, 3), generator=gen, device=dev, dtype=dtype).mul_(0.3)
    idx = lambda a: torch.as_tensor(a, dtype=torch.int64, device=dev)
    args = (poses, trans, idx(offsets), torch.as_tensor(fps, device=dev), rest, reference.BODY_PARENTS,
            idx(clip_seq), idx(clip_start), idx(clip_len), torch.zeros(C, dtype=torch.float64, device=dev))
    out = torch.empty((C, W, 20), dtype=dtype, device=dev)
    kernels.convert_batch(*args, out=out)  # warm-up
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    reps = 5
    t0 = time.perf_counter()
    start.record()
    for _ in range(reps):
        kernels.convert_batch(*args, out=out)
    end.record()
    torch.cuda.synchronize()
    wall = (time.perf_counter() - t0) / reps
    gpu = start.elapsed_time(end) / 1e3 / reps
    # Bytes that must move: two source rows (66 pose + 3 trans values) per valid output frame and the output;
    # the keypoint scratch is written once and read twice (camera and projection passes).
    need = out_frames * 2 * 69 * size + C * W * 20 * size
    scratch = out_frames * 24 * size * 3
    name = str(dtype).replace("torch.", "")
    print(f"RESULT {name} cuda convert_batch: {gpu * 1e3:.2f} ms/call on the GPU ({wall * 1e3:.2f} ms wall incl. host "
          f"checks) = {N / gpu / 1e6:.1f} M source frames/s, {out_frames / gpu / 1e6:.1f} M output frames/s; "
          f"{need / gpu / 1e9:.0f} GB/s of required traffic ({(need + scratch) / gpu / 1e9:.0f} GB/s incl. scratch)")
    # The same clips of the first sequences on the cpp backend (all CPU cores): error and speed for comparison.
    s_cut = min(S, 300)
    n_cut, c_cut = int(offsets[s_cut]), int(np.searchsorted(clip_seq, s_cut))
    sub = (poses[:n_cut].cpu().numpy(), trans[:n_cut].cpu().numpy(), offsets[:s_cut + 1], fps[:s_cut],
           rest[:s_cut].cpu().numpy(), reference.BODY_PARENTS, clip_seq[:c_cut], clip_start[:c_cut],
           clip_len[:c_cut], np.zeros(c_cut))
    t0 = time.perf_counter()
    want = kernels.convert_batch(*sub, backend="cpp")
    cpp = time.perf_counter() - t0
    err = float(np.abs(out[:c_cut].cpu().numpy() - want).max())
    print(f"RESULT {name} cpp convert_batch ({kernels.get_num_threads()} threads, first {s_cut} sequences): "
          f"{n_cut / cpp / 1e6:.1f} M source frames/s")
    print(f"RESULT {name} max |cuda - cpp| over {c_cut} clips: {err:.2e}")
    assert err < (1e-5 if dtype == torch.float32 else 1e-9), f"cuda and cpp differ by {err}"
    del poses, trans, rest, args, out
    torch.cuda.empty_cache()
EOF
  if [ "${PIPESTATUS[0]}" -eq 0 ]; then
    while IFS= read -r line; do SUMMARY+=("bench: ${line#RESULT }"); done < <(grep '^RESULT' "$WORK/bench.txt")
  else
    status=1
    SUMMARY+=("bench: FAILED: $(tail -1 "$WORK/bench.txt" | cut -c1-300)")
  fi

  echo "== every test marked cuda"
  if timeout $(( $(left) > 30 ? $(left) / 2 : 15 )) "${pytest[@]}" -m cuda --continue-on-collection-errors "$REPO/tests" \
       2>&1 | tee "$WORK/cuda_tests.txt"; then
    SUMMARY+=("tests -m cuda: $(grep -q passed "$WORK/cuda_tests.txt" && echo PASS || echo 'ALL SKIPPED'): $(tail -1 "$WORK/cuda_tests.txt")")
  else
    SUMMARY+=("tests -m cuda: FAIL or cut by time: $(tail -1 "$WORK/cuda_tests.txt")")
  fi

  echo "== whole test suite ($(left) s left)"
  if [ "$(left)" -gt 30 ]; then
    timeout $(( $(left) - 10 )) "${pytest[@]}" --continue-on-collection-errors "$REPO/tests" 2>&1 \
      | tee "$WORK/all_tests.txt"
    SUMMARY+=("whole suite (informational): $(tail -1 "$WORK/all_tests.txt")")
  else
    SUMMARY+=("whole suite: not run, no time left")
  fi

  echo
  echo "== SUMMARY (status $status; $SECONDS s)"
  printf '%s\n' "${SUMMARY[@]}"
  echo "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
  return $status
}

main 2>&1 | tee "$RESULTS"
status=${PIPESTATUS[0]}
echo "results in $RESULTS"
exit "$status"
