// Host stand-ins for the CUDA launch model, so that kernels.cuh compiles into the CPU module and its kernels can
// be run grid-serially in tests: every block, every thread, one after the other. Include after all other headers
// (it defines __global__ and __device__ away) and only in a host translation unit.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#error "grid_shim.h is for host builds only"
#endif

#define __global__
#define __device__

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};

// Thread-local so that two Python threads running the shim at once do not share a "thread position".
inline thread_local dim3 blockIdx, threadIdx, blockDim, gridDim;

// A launcher for the launch_* sequences of kernels.cuh: a 1-D grid of ceil(n / block_size) blocks.
struct GridShimLaunch {
  unsigned block_size;

  template <typename Kernel, typename Args>
  void operator()(int64_t num_threads, Kernel kernel, const Args& args) const {
    if (num_threads <= 0) return;
    gridDim = {static_cast<unsigned>((num_threads + block_size - 1) / block_size), 1, 1};
    blockDim = {block_size, 1, 1};
    for (unsigned b = 0; b < gridDim.x; ++b) {
      blockIdx = {b, 0, 0};
      for (unsigned t = 0; t < blockDim.x; ++t) {
        threadIdx = {t, 0, 0};
        kernel(args);
      }
    }
  }
};
