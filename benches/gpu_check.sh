#!/usr/bin/env bash
# GPU check, one command for a machine with an NVIDIA GPU (run from anywhere):
#   benches/gpu_check.sh
# 1. builds and installs the package with the CUDA module required (AMASS_FAST_CUDA=ON, --no-build-isolation)
#    into .venv-gpu, a venv that sees the system's site packages (torch, smplx, numpy already there);
# 2. runs the CUDA tests (pytest -m cuda) against the installed package;
# 3. runs a GPU benchmark of convert_batch on ~10k synthetic sequences: source frames/s, and the achieved
#    bandwidth against the bytes the kernels must read and write.
# Everything printed goes to $OUT/gpu_check.txt, or ./gpu_check_results.txt when $OUT is unset.
# Environment: PYTHON (default python3, the one with torch), GPU_CHECK_SEQS (default 10000).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=${OUT:+$OUT/gpu_check.txt}
RESULTS=${RESULTS:-$REPO/gpu_check_results.txt}
exec > >(tee "$RESULTS") 2>&1
PYTHON=${PYTHON:-python3}
VENV=$REPO/.venv-gpu
status=0

echo "== amass-fast GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi not found"
command -v nvcc >/dev/null && nvcc --version | tail -1

echo "== build and install (AMASS_FAST_CUDA=ON)"
"$PYTHON" -m venv --system-site-packages "$VENV"
# The build needs scikit-build-core and nanobind; never let pip resolve torch (it would download gigabytes).
"$VENV/bin/python" -c "import scikit_build_core, nanobind" 2>/dev/null \
  || "$VENV/bin/python" -m pip install -q "scikit-build-core>=0.10" "nanobind>=2.4" \
  || echo "could not install scikit-build-core/nanobind (offline?)"
if ! AMASS_FAST_CUDA=ON "$VENV/bin/python" -m pip install --no-build-isolation --no-deps -q "$REPO"; then
  echo "FAILED: pip install with AMASS_FAST_CUDA=ON"
  exit 1
fi

# Run from outside the checkout so that `import amass_fast` finds the installed package, not the sources.
cd "$(mktemp -d)"
"$VENV/bin/python" - <<'EOF'
import torch, amass_fast, amass_fast._cuda as cu
from amass_fast import kernels
print(f"installed at {amass_fast.__file__}; torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"GPU {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}; "
      f"backends {kernels.available_backends()}")
EOF

echo "== CUDA tests"
"$VENV/bin/python" -m pytest "$REPO/tests" -m cuda -q -p no:cacheprovider --rootdir "$REPO" -c "$REPO/pyproject.toml" \
  || status=1

echo "== GPU benchmark"
GPU_CHECK_SEQS=${GPU_CHECK_SEQS:-10000} "$VENV/bin/python" - <<'EOF' || status=1
import os, time
import numpy as np, torch
from amass_fast import kernels, reference

rng = np.random.default_rng(0)
S = int(os.environ["GPU_CHECK_SEQS"])
fps = rng.choice([60.0, 100.0, 120.0, 59.99999, 250.0], S)
frames = (rng.uniform(4.0, 20.0, S) * fps).astype(np.int64)   # 4..20 s per sequence
offsets = np.concatenate([[0], np.cumsum(frames)]).astype(np.int64)
N, W = int(offsets[-1]), 250
clip_seq, clip_start, clip_len = [], [], []
for s in range(S):
    T = reference.resampled_length(int(frames[s]), float(fps[s]), 25.0)
    for a in range(0, T, W):
        clip_seq.append(s), clip_start.append(a), clip_len.append(min(W, T - a))
C = len(clip_seq)
dev = torch.device("cuda")
idx = lambda a: torch.as_tensor(np.asarray(a, dtype=np.int64), device=dev)
out_frames = int(np.sum(clip_len))
print(f"{S} sequences, {N} source frames ({N / 1e6:.1f} M), {C} clips of {W}, {out_frames} valid output frames")

for dtype in (torch.float32, torch.float64):
    size = torch.finfo(dtype).bits // 8
    poses_host = torch.from_numpy(rng.normal(0, 0.4, (N, 66))).to(dtype)
    trans_host = torch.from_numpy(rng.normal(0, 1, (N, 3))).to(dtype)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    poses, trans = poses_host.to(dev), trans_host.to(dev)
    torch.cuda.synchronize()
    h2d = time.perf_counter() - t0
    rest = torch.from_numpy(rng.normal(0, 0.3, (S, 22, 3))).to(dev, dtype)
    args = (poses, trans, idx(offsets), torch.as_tensor(fps, device=dev), rest, reference.BODY_PARENTS,
            idx(clip_seq), idx(clip_start), idx(clip_len), torch.zeros(C, dtype=torch.float64, device=dev))
    out = torch.empty((C, W, 20), dtype=dtype, device=dev)
    kernels.convert_batch(*args, out=out)   # warm-up (and validation on the host, timed below separately)
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
    # Bytes that must move: two source rows (66 pose + 3 trans values) per valid output frame, the output, and
    # the keypoint scratch written once and read twice (camera pass + projection pass).
    need = out_frames * 2 * 69 * size + C * W * 20 * size
    scratch = out_frames * 24 * size * 3
    print(f"{str(dtype):14s} convert_batch: {gpu * 1e3:8.2f} ms/call on the GPU ({wall * 1e3:.2f} ms wall incl. "
          f"host checks) = {N / gpu / 1e6:8.1f} M source frames/s, {out_frames / gpu / 1e6:.1f} M output frames/s; "
          f"bandwidth {need / gpu / 1e9:.0f} GB/s of required traffic ({(need + scratch) / gpu / 1e9:.0f} GB/s "
          f"incl. scratch); host->device copy of the poses {poses_host.numel() * size / h2d / 1e9:.1f} GB/s")
    host = [a.cpu() if torch.is_tensor(a) else a for a in args]
    want = kernels.convert_batch(*host[:6], *(a[:50] for a in host[6:]), backend="cpp")
    err = (out[:50].cpu() - want).abs().max().item()
    print(f"{'':14s} max |cuda - cpp| on the first 50 clips: {err:.2e}")
EOF

echo "== done, status $status; results in $RESULTS"
exit $status
