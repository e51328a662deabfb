// amass_fast._cuda: kernel launches and bindings. The kernels are in kernels.cuh, their math in amass_math.h.
//
// All arrays are CUDA arrays on one device (torch tensors through DLPack) except `parents`, a host int64 array
// (the skeleton goes to the kernels by value). Scratch for convert_batch/project comes from the caller, so the
// framework's allocator (torch's caching allocator) owns all memory. Launches go to the stream the caller passes
// (torch.cuda.current_stream().cuda_stream). amass_fast.kernels checks contents (offsets, clip windows) on the
// host before calling: device data are not read back here.
#include <cuda_runtime.h>

#include "bindings.h"
#include "kernels.cuh"

namespace af {
namespace {

namespace nb = nanobind;
using namespace bind;
using Gpu = nb::device::cuda;
template <typename T>
using GIn = In<T, Gpu>;
template <typename T>
using GOut = Out<T, Gpu>;
using GIndex = GIn<int64_t>;
using GDouble = GIn<double>;

constexpr unsigned kBlockSize = 128;

void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string("amass_fast._cuda: ") + what + ": " + cudaGetErrorString(err));
}

struct CudaLaunch {
  cudaStream_t stream;

  template <typename Kernel, typename Args>
  void operator()(int64_t num_threads, Kernel kernel, const Args& args) const {
    if (num_threads <= 0) return;
    const int64_t blocks = (num_threads + kBlockSize - 1) / kBlockSize;
    if (blocks > 0x7fffffff) throw std::runtime_error("amass_fast._cuda: batch too large for one launch; split it");
    kernel<<<static_cast<unsigned>(blocks), kBlockSize, 0, stream>>>(args);
    check_cuda(cudaGetLastError(), "kernel launch");
  }
};

// Every array must sit on the same device, the one that is current for the launch.
template <typename First, typename... Rest>
void check_same_device(const char* op, const First& first, const Rest&... rest) {
  const int32_t id = first.device_id();
  const bool same = ((rest.device_id() == id) && ...);
  require(same, op, "all arrays must be on the same CUDA device");
  int current = -1;
  check_cuda(cudaGetDevice(&current), "cudaGetDevice");
  require(current == id, op,
          "the arrays are on cuda:" + std::to_string(id) + " but the current device is cuda:" +
              std::to_string(current) + " (use `with torch.cuda.device(...)`)");
}

cudaStream_t as_stream(uintptr_t stream) { return reinterpret_cast<cudaStream_t>(stream); }

template <typename T>
void fk(GIn<T> poses, GIn<T> trans, GIn<T> rest_joints, HostIndex parents, GOut<T> out, uintptr_t stream) {
  const FkBatch<T> a = fk_batch<T, Gpu>(poses, trans, rest_joints, parents, out);
  check_same_device("fk", poses, trans, rest_joints, out);
  launch_fk(a, CudaLaunch{as_stream(stream)});
}

template <typename T>
void resample_poses(GIn<T> poses, GIn<T> trans, double src_fps, double dst_fps, GOut<T> out_poses, GOut<T> out_trans,
                    uintptr_t stream) {
  const ResampleBatch<T> a = resample_batch<T, Gpu>(poses, trans, src_fps, dst_fps, out_poses, out_trans);
  check_same_device("resample_poses", poses, trans, out_poses, out_trans);
  launch_resample_poses(a, CudaLaunch{as_stream(stream)});
}

// Scratch: kp [C, window, 8, 3] and cam [C, 5] in the data's dtype.
template <typename T>
void check_scratch(const char* op, const GOut<T>& kp, const GOut<T>& cam, int64_t num_clips, int64_t window) {
  check_shape(kp, op, "kp_scratch", {num_clips, window, kNumKeypoints, 3});
  check_shape(cam, op, "cam_scratch", {num_clips, 5});
}

template <typename T>
void project(GIn<T> joints, GIndex clip_len, GDouble clip_yaw, int view_mode, GOut<T> kp, GOut<T> cam, GOut<T> out,
             uintptr_t stream) {
  const char* op = "project";
  ClipBatch<T> a = project_args<T, Gpu>(joints, view_mode, out);
  check_shape(clip_len, op, "clip_len", {1});  // holds the frame count, read on the device
  check_shape(clip_yaw, op, "clip_yaw", {1});
  check_scratch(op, kp, cam, 1, a.window);
  check_same_device(op, joints, clip_len, clip_yaw, kp, cam, out);
  a.clip_len = clip_len.data();
  a.clip_yaw = clip_yaw.data();
  a.kp = kp.data();
  a.cam = cam.data();
  launch_project(a, CudaLaunch{as_stream(stream)});
}

template <typename T>
void convert_batch(GIn<T> poses, GIn<T> trans, GIndex seq_offsets, GDouble seq_fps, GIn<T> rest_joints,
                   HostIndex parents, GIndex clip_seq, GIndex clip_start, GIndex clip_len, GDouble clip_yaw,
                   double dst_fps, int view_mode, GOut<T> kp, GOut<T> cam, GOut<T> out, uintptr_t stream) {
  const char* op = "convert_batch";
  ClipBatch<T> a = convert_batch_args<T, Gpu>(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq,
                                              clip_start, clip_len, clip_yaw, dst_fps, view_mode, out);
  check_scratch(op, kp, cam, a.num_clips, a.window);
  check_same_device(op, poses, trans, seq_offsets, seq_fps, rest_joints, clip_seq, clip_start, clip_len, clip_yaw, kp,
                    cam, out);
  a.kp = kp.data();
  a.cam = cam.data();
  launch_convert_batch(a, CudaLaunch{as_stream(stream)});
}

template <typename T>
void def_ops(nb::module_& m) {
  auto arr = [](const char* name) { return nb::arg(name).noconvert(); };
  auto stream = nb::arg("stream") = uintptr_t(0);
  m.def("fk", &fk<T>, arr("poses"), arr("trans"), arr("rest_joints"), arr("parents"), arr("out"), stream);
  m.def("resample_poses", &resample_poses<T>, arr("poses"), arr("trans"), nb::arg("src_fps"), nb::arg("dst_fps"),
        arr("out_poses"), arr("out_trans"), stream);
  m.def("project", &project<T>, arr("joints"), arr("clip_len"), arr("clip_yaw"), nb::arg("view_mode"),
        arr("kp_scratch"), arr("cam_scratch"), arr("out"), stream);
  m.def("convert_batch", &convert_batch<T>, arr("poses"), arr("trans"), arr("seq_offsets"), arr("seq_fps"),
        arr("rest_joints"), arr("parents"), arr("clip_seq"), arr("clip_start"), arr("clip_len"), arr("clip_yaw"),
        nb::arg("dst_fps"), nb::arg("view_mode"), arr("kp_scratch"), arr("cam_scratch"), arr("out"), stream);
}

}  // namespace
}  // namespace af

NB_MODULE(_cuda, m) {
  m.doc() = "amass-fast CUDA kernels. Use amass_fast.kernels, which checks and prepares arguments.";
  af::def_ops<float>(m);
  af::def_ops<double>(m);
  m.def("device_count", [] {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
  });
}
