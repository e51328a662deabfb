// amass_fast._core: the CPU backend. OpenMP loops over the *_item work of amass_math.h, the nanobind bindings,
// and the grid-shim entry points (*_gridshim) that run the CUDA kernels of kernels.cuh serially on the host.
//
// Every function takes its output arrays from the caller (marked noconvert: a wrong dtype is an error, not a copy)
// and releases the GIL while it computes. float32 and float64 are both bound; the math runs in that type.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "bindings.h"

// The shim must come after every other header: it defines __global__ and __device__ away.
#include "grid_shim.h"
#include "kernels.cuh"

namespace af {
namespace {

namespace nb = nanobind;
using namespace bind;
using Cpu = nb::device::cpu;
template <typename T>
using CIn = In<T, Cpu>;
template <typename T>
using COut = Out<T, Cpu>;
using DoubleIn = CIn<double>;

int g_num_threads = 0;  // 0: OpenMP's default
constexpr int kMaxThreads = 1024;  // amass_fast.cliargs.MAX_THREADS: huge counts can crash OpenMP runtimes

int num_threads() { return g_num_threads > 0 ? g_num_threads : omp_get_max_threads(); }

// Below this many work items a parallel region costs more than it saves.
constexpr int64_t kMinParallel = 64;
// convert_batch works through clips in chunks so that its keypoint scratch stays small (64 x 250 x 24 values).
constexpr int64_t kChunkClips = 64;

// ---------------------------------------------------------------------------------------------------------------
// OpenMP loops.

template <typename T>
void cpu_fk(const FkBatch<T>& a) {
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (a.num_frames >= kMinParallel)
  for (int64_t f = 0; f < a.num_frames; ++f) fk_item(a, f);
}

template <typename T>
void cpu_resample_poses(const ResampleBatch<T>& a) {
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (a.out_frames >= kMinParallel)
  for (int64_t k = 0; k < a.out_frames; ++k) resample_item(a, k);
}

// The three passes of launch_convert_batch, chunk by chunk: a chunk is the same batch narrowed to its clips.
template <typename T>
void cpu_convert_batch(const ClipBatch<T>& a) {
  const int64_t chunk = std::min(a.num_clips, kChunkClips);
  std::vector<T> kp(chunk * a.window * 3 * kNumKeypoints), cam(5 * chunk);
#pragma omp parallel num_threads(num_threads()) if (a.num_clips * a.window >= kMinParallel)
  for (int64_t c0 = 0; c0 < a.num_clips; c0 += chunk) {
    ClipBatch<T> b = a;
    b.num_clips = std::min(chunk, a.num_clips - c0);
    b.clip_seq += c0;
    b.clip_start += c0;
    b.clip_len += c0;
    b.clip_yaw += c0;
    b.out += c0 * a.window * kStickDim;
    b.kp = kp.data();
    b.cam = cam.data();
    const int64_t n = b.num_clips * b.window;
    // Padding frames return at once, so hand out small blocks.
#pragma omp for schedule(dynamic, 16)
    for (int64_t i = 0; i < n; ++i) clip_keypoints_item(b, i);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < b.num_clips; ++c) clip_camera_item(b, c);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) clip_project_item(b, i);
  }
}

template <typename T>
void cpu_project(const ClipBatch<T>& a) {
  std::vector<T> kp(a.window * 3 * kNumKeypoints), cam(5);
  ClipBatch<T> b = a;
  b.kp = kp.data();
  b.cam = cam.data();
#pragma omp parallel num_threads(num_threads()) if (a.window >= kMinParallel)
  {
#pragma omp for schedule(static)
    for (int64_t k = 0; k < b.window; ++k) joint_keypoints_item(b, k);
#pragma omp single
    clip_camera_item(b, 0);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < b.window; ++i) clip_project_item(b, i);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Bindings. A block_size of 0 runs the OpenMP path; > 0 runs the kernels grid-serially with that block size.

template <typename T>
void fk(CIn<T> poses, CIn<T> trans, CIn<T> rest_joints, HostIndex parents, COut<T> out, unsigned block_size) {
  const FkBatch<T> a = fk_batch<T, Cpu>(poses, trans, rest_joints, parents, out);
  nb::gil_scoped_release release;
  if (block_size) launch_fk(a, GridShimLaunch{block_size});
  else cpu_fk(a);
}

template <typename T>
void resample_poses(CIn<T> poses, CIn<T> trans, double src_fps, double dst_fps, COut<T> out_poses,
                    COut<T> out_trans, unsigned block_size) {
  const ResampleBatch<T> a = resample_batch<T, Cpu>(poses, trans, src_fps, dst_fps, out_poses, out_trans);
  nb::gil_scoped_release release;
  if (block_size) launch_resample_poses(a, GridShimLaunch{block_size});
  else cpu_resample_poses(a);
}

template <typename T>
void project(CIn<T> joints, double yaw_deg, int view_mode, COut<T> out, unsigned block_size) {
  ClipBatch<T> a = project_args<T, Cpu>(joints, view_mode, out);
  const int64_t clip_len = a.window;
  a.clip_len = &clip_len;
  a.clip_yaw = &yaw_deg;
  nb::gil_scoped_release release;
  if (block_size) {
    std::vector<T> kp(a.window * 3 * kNumKeypoints), cam(5);
    a.kp = kp.data();
    a.cam = cam.data();
    launch_project(a, GridShimLaunch{block_size});
  } else {
    cpu_project(a);
  }
}

template <typename T>
void convert_batch(CIn<T> poses, CIn<T> trans, HostIndex seq_offsets, DoubleIn seq_fps, CIn<T> rest_joints,
                   HostIndex parents, HostIndex clip_seq, HostIndex clip_start, HostIndex clip_len, DoubleIn clip_yaw,
                   double dst_fps, int view_mode, COut<T> out, unsigned block_size) {
  ClipBatch<T> a = convert_batch_args<T, Cpu>(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq,
                                              clip_start, clip_len, clip_yaw, dst_fps, view_mode, out);
  check_clip_contents(a, dim(seq_offsets, 0) - 1, dim(poses, 0));
  nb::gil_scoped_release release;
  if (block_size) {
    std::vector<T> kp(a.num_clips * a.window * 3 * kNumKeypoints), cam(5 * a.num_clips);
    a.kp = kp.data();
    a.cam = cam.data();
    launch_convert_batch(a, GridShimLaunch{block_size});
  } else {
    cpu_convert_batch(a);
  }
}

template <typename T>
void def_ops(nb::module_& m) {
  // Every array is noconvert: amass_fast.kernels prepares dtype and layout; a mismatch here is a bug to report.
  auto arr = [](const char* name) { return nb::arg(name).noconvert(); };
  auto shim = nb::arg("block_size") = 0u;
  m.def("fk", &fk<T>, arr("poses"), arr("trans"), arr("rest_joints"), arr("parents"), arr("out"), shim,
        "fk(poses [F, >=3J], trans [F, 3], rest_joints [J, 3], parents int64 [J], out [F, J, 3]).");
  m.def("resample_poses", &resample_poses<T>, arr("poses"), arr("trans"), nb::arg("src_fps"), nb::arg("dst_fps"),
        arr("out_poses"), arr("out_trans"), shim,
        "resample_poses(poses [F, P], trans [F, 3], src_fps, dst_fps, out_poses [T, P], out_trans [T, 3]).");
  m.def("project", &project<T>, arr("joints"), nb::arg("yaw_deg"), nb::arg("view_mode"), arr("out"), shim,
        "project(joints [F, >=22, 3], yaw_deg, view_mode (0 front-relative, 1 top), out [F, 20]).");
  m.def("convert_batch", &convert_batch<T>, arr("poses"), arr("trans"), arr("seq_offsets"), arr("seq_fps"),
        arr("rest_joints"), arr("parents"), arr("clip_seq"), arr("clip_start"), arr("clip_len"), arr("clip_yaw"),
        nb::arg("dst_fps"), nb::arg("view_mode"), arr("out"), shim,
        "convert_batch(poses [N, >=66], trans [N, 3], seq_offsets int64 [S+1], seq_fps f64 [S], rest_joints "
        "[S, >=22, 3], parents int64 [>=22], clip_seq/clip_start/clip_len int64 [C], clip_yaw f64 [C], dst_fps, "
        "view_mode, out [C, window, 20]); semantics of amass_fast.reference.convert_batch.");
}

}  // namespace
}  // namespace af

NB_MODULE(_core, m) {
  m.doc() = "amass-fast CPU kernels (C++17, OpenMP). Use amass_fast.kernels, which checks and prepares arguments.";
  af::def_ops<float>(m);
  af::def_ops<double>(m);
  m.def(
      "set_num_threads", [](int n) { af::g_num_threads = n > 0 ? std::min(n, af::kMaxThreads) : 0; },
      nanobind::arg("n"),
      "Threads for the OpenMP loops, at most 1024 (amass_fast.cliargs.MAX_THREADS); n <= 0 restores OpenMP's "
      "default.");
  m.def("get_num_threads", &af::num_threads, "Threads the OpenMP loops use.");
  m.def("resampled_length", &af::resampled_length, nanobind::arg("num_frames"), nanobind::arg("src_fps"),
        nanobind::arg("dst_fps"));
  m.attr("max_joints") = af::kMaxJoints;
}
