#!/usr/bin/env bash
# Build the native modules into build/inplace and copy them next to the Python sources, so that
#   PYTHONPATH=. python -c "import amass_fast._core"
# works from a source checkout without installing the package.
#   tools/build_inplace.sh            # _core, and _cuda when nvcc is found
#   AMASS_FAST_CUDA=OFF tools/build_inplace.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
BUILD=build/inplace
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
CUDA_COMPILER=()
if [ -z "${CMAKE_CUDA_COMPILER:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  CUDA_COMPILER=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
fi

# Only what this configuration builds may end up in the package: drop earlier builds first (ninja relinks).
rm -f "$BUILD"/_core*.so "$BUILD"/_cuda*.so
cmake -S . -B "$BUILD" "${GENERATOR[@]}" "${CUDA_COMPILER[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$(command -v "$PYTHON")" \
  -DAMASS_FAST_CUDA="${AMASS_FAST_CUDA:-AUTO}" -DAMASS_FAST_NATIVE_ARCH="${AMASS_FAST_NATIVE_ARCH:-ON}" \
  -DAMASS_FAST_LANE_BYTES="${AMASS_FAST_LANE_BYTES:-AUTO}"
cmake --build "$BUILD" -j "${JOBS:-2}"

for module in _core _cuda; do
  built=$(ls "$BUILD"/$module*.so 2>/dev/null || true)
  if [ -n "$built" ]; then
    # Copy then rename: a process that has the old module loaded keeps its file intact (no crash mid-run).
    cp -f $built amass_fast/.$(basename $built).tmp && mv -f amass_fast/.$(basename $built).tmp amass_fast/$(basename $built)
    echo "installed $(basename $built) into amass_fast/"
  else
    rm -f amass_fast/$module*.so  # a stale copy from an earlier configuration
  fi
done
