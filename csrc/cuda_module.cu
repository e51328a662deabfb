// amass_fast._cuda: kernel launches and bindings. The kernels are in kernels.cuh, their math in amass_math.h.
//
// All arrays are CUDA arrays on one device (torch tensors through DLPack) except `parents`, a host int64 array
// (the skeleton goes to the kernels by value). Scratch for convert_batch/project comes from the caller, so the
// framework's allocator (torch's caching allocator) owns all memory. Launches go to the stream the caller passes
// (torch.cuda.current_stream().cuda_stream), which must belong to the arrays' device; they run asynchronously,
// so results are valid on that stream. amass_fast.kernels checks contents (offsets, clip windows) on the host
// before calling: device data are not read back here. CUDA errors raise RuntimeError naming the op.
// The CUDA runtime is linked statically: importing needs no GPU, driver or toolkit (runtime_info says what is
// missing); the first launch needs a driver at least as new as the runtime.
#include <cuda_runtime.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

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

// What to do about the errors a user can meet first: no driver, an old driver, a GPU this build has no code for.
std::string cuda_hint(cudaError_t err) {
  switch (err) {
    case cudaErrorInsufficientDriver:
    case cudaErrorCompatNotSupportedOnDevice: {
      int driver = 0;
      if (cudaDriverGetVersion(&driver) != cudaSuccess || driver == 0)
        return " (no NVIDIA driver found: libcuda.so.1 does not load; install the driver or use backend='cpp')";
      return " (the NVIDIA driver is older than this module's CUDA runtime " + std::to_string(CUDART_VERSION / 1000) +
             "." + std::to_string(CUDART_VERSION % 1000 / 10) + ": update the driver, or rebuild amass-fast with "
             "the CUDA toolkit that matches it)";
    }
    case cudaErrorNoDevice:
      return " (no CUDA GPU is visible: check nvidia-smi and CUDA_VISIBLE_DEVICES)";
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
    case cudaErrorInvalidPtx:
      return " (this build holds no code for this GPU's architecture: rebuild on it with "
             "CMAKE_ARGS=-DCMAKE_CUDA_ARCHITECTURES=native AMASS_FAST_CUDA=ON pip install --no-build-isolation .)";
    default:
      return "";
  }
}

void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("amass_fast._cuda: ") + what + ": " + cudaGetErrorName(err) + ": " +
                             cudaGetErrorString(err) + cuda_hint(err));
}

// AMASS_FAST_CUDA_SYNC=1: wait for every kernel and check how it ended, so that a fault names the kernel's op
// instead of surfacing at a later, unrelated CUDA call (debugging and gpu_check only; it serialises the host).
bool debug_sync() {
  const char* v = std::getenv("AMASS_FAST_CUDA_SYNC");
  return v && *v && std::string(v) != "0";
}

struct CudaLaunch {
  cudaStream_t stream;
  const char* op;

  template <typename Kernel, typename Args>
  void operator()(int64_t num_threads, Kernel kernel, const Args& args) const {
    if (num_threads <= 0) return;
    // One thread per item in a 1-D grid: gridDim.x may be up to 2^31 - 1 blocks (compute capability >= 3.0).
    const int64_t blocks = (num_threads + kBlockSize - 1) / kBlockSize;
    if (blocks > 0x7fffffff)
      throw std::runtime_error(std::string("amass_fast._cuda: ") + op + ": " + std::to_string(num_threads) +
                               " work items are too many for one launch; split the batch");
    kernel<<<static_cast<unsigned>(blocks), kBlockSize, 0, stream>>>(args);
    const std::string what = std::string(op) + ": kernel launch";
    check_cuda(cudaGetLastError(), what.c_str());
    if (debug_sync()) check_cuda(cudaStreamSynchronize(stream), (std::string(op) + ": kernel execution").c_str());
  }
};

// Every array must sit on one device; the launch goes to that device (made current for this call and restored
// after it, as torch.cuda.device does: this module's static CUDA runtime keeps its own notion of "current").
class DeviceGuard {
 public:
  template <typename First, typename... Rest>
  DeviceGuard(const char* op, const First& first, const Rest&... rest) {
    const int32_t id = first.device_id();
    require(((rest.device_id() == id) && ...), op, "all arrays must be on the same CUDA device");
    check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != id) check_cuda(cudaSetDevice(id), "cudaSetDevice");
    else previous_ = -1;
  }
  ~DeviceGuard() {
    if (previous_ >= 0) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;  // the device to restore, -1: nothing changed
};

cudaStream_t as_stream(uintptr_t stream) { return reinterpret_cast<cudaStream_t>(stream); }

template <typename T>
void fk(GIn<T> poses, GIn<T> trans, GIn<T> rest_joints, HostIndex parents, GOut<T> out, uintptr_t stream) {
  const FkBatch<T> a = fk_batch<T, Gpu>(poses, trans, rest_joints, parents, out);
  const DeviceGuard guard("fk", poses, trans, rest_joints, out);
  launch_fk(a, CudaLaunch{as_stream(stream), "fk"});
}

template <typename T>
void fk_backward(GIn<T> poses, GIn<T> trans, GIn<T> rest_joints, HostIndex parents, GIn<T> grad_out,
                 GOut<T> grad_poses, GOut<T> grad_trans, GOut<T> grad_rest, uintptr_t stream) {
  const FkBackwardBatch<T> b =
      fk_backward_batch<T, Gpu>(poses, trans, rest_joints, parents, grad_out, grad_poses, grad_trans, grad_rest);
  const DeviceGuard guard("fk_backward", poses, trans, rest_joints, grad_out, grad_poses, grad_trans);
  launch_fk_backward(b, CudaLaunch{as_stream(stream), "fk_backward"});
}

template <typename T>
void resample_poses(GIn<T> poses, GIn<T> trans, double src_fps, double dst_fps, GOut<T> out_poses, GOut<T> out_trans,
                    uintptr_t stream) {
  const ResampleBatch<T> a = resample_batch<T, Gpu>(poses, trans, src_fps, dst_fps, out_poses, out_trans);
  const DeviceGuard guard("resample_poses", poses, trans, out_poses, out_trans);
  launch_resample_poses(a, CudaLaunch{as_stream(stream), "resample_poses"});
}

// Scratch: kp [C, window, 8, 3] and cam [C, 5] in the data's dtype.
template <typename T>
void check_scratch(const char* op, const GOut<T>& kp, const GOut<T>& cam, int64_t num_clips, int64_t window) {
  check_shape(kp, op, "kp_scratch", {num_clips, window, kNumKeypoints, 3});
  check_shape(cam, op, "cam_scratch", {num_clips, 5});
}

template <typename T>
void project(GIn<T> joints, double yaw_deg, int view_mode, GOut<T> out, GOut<T> kp, GOut<T> cam, uintptr_t stream) {
  const char* op = "project";
  ClipBatch<T> a = project_args<T, Gpu>(joints, yaw_deg, view_mode, out);
  check_scratch(op, kp, cam, 1, a.window);
  const DeviceGuard guard(op, joints, kp, cam, out);
  a.kp = kp.data();
  a.cam = cam.data();
  launch_project(a, CudaLaunch{as_stream(stream), op});
}

template <typename T>
void convert_batch(GIn<T> poses, GIn<T> trans, GIndex seq_offsets, GDouble seq_fps, GIn<T> rest_joints,
                   HostIndex parents, GIndex clip_seq, GIndex clip_start, GIndex clip_len, GDouble clip_yaw,
                   double dst_fps, int view_mode, GOut<T> out, GOut<T> kp, GOut<T> cam, uintptr_t stream) {
  const char* op = "convert_batch";
  ClipBatch<T> a = convert_batch_args<T, Gpu>(poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq,
                                              clip_start, clip_len, clip_yaw, dst_fps, view_mode, out);
  check_scratch(op, kp, cam, a.num_clips, a.window);
  const DeviceGuard guard(op, poses, trans, seq_offsets, seq_fps, rest_joints, clip_seq, clip_start, clip_len, clip_yaw,
                          kp, cam, out);
  a.kp = kp.data();
  a.cam = cam.data();
  launch_convert_batch(a, CudaLaunch{as_stream(stream), op});
}

// Scratch: world [C, window, 22, 3] and frame [C, kFrameSize] in the data's dtype.
template <typename T>
void convert_joints_batch(GIn<T> poses, GIn<T> trans, GIndex seq_offsets, GDouble seq_fps, GIn<T> rest_joints,
                          HostIndex parents, GIndex clip_seq, GIndex clip_start, GIndex clip_len, GDouble clip_scale,
                          GDouble clip_camera, double dst_fps, int up, GOut<T> out, GOut<T> world, GOut<T> frame,
                          uintptr_t stream) {
  const char* op = "convert_joints_batch";
  JointBatch<T> b = convert_joints_batch_args<T, Gpu>(poses, trans, seq_offsets, seq_fps, rest_joints, parents,
                                                      clip_seq, clip_start, clip_len, clip_scale, clip_camera,
                                                      dst_fps, up, out);
  check_shape(world, op, "world_scratch", {b.clips.num_clips, b.clips.window, kNumBodyJoints, 3});
  check_shape(frame, op, "frame_scratch", {b.clips.num_clips, kFrameSize});
  const DeviceGuard guard(op, poses, trans, seq_offsets, seq_fps, rest_joints, clip_seq, clip_start, clip_len,
                          clip_scale, clip_camera, world, frame, out);
  b.world = world.data();
  b.frame = frame.data();
  launch_convert_joints_batch(b, CudaLaunch{as_stream(stream), op});
}

// Scratch: world and grad_world [C, window, 22, 3], frame [C, kFrameSize], grad_rows [C, window, 2, kRowGrad];
// grad_poses and grad_trans must hold zeros (the scatter adds into them).
template <typename T>
void convert_joints_batch_backward(GIn<T> poses, GIn<T> trans, GIndex seq_offsets, GDouble seq_fps,
                                   GIn<T> rest_joints, HostIndex parents, GIndex clip_seq, GIndex clip_start,
                                   GIndex clip_len, GDouble clip_scale, GDouble clip_camera, double dst_fps, int up,
                                   GIn<T> grad_out, GOut<T> grad_poses, GOut<T> grad_trans, GOut<T> world,
                                   GOut<T> grad_world, GOut<T> frame, GOut<T> grad_rows, uintptr_t stream) {
  const char* op = "convert_joints_batch_backward";
  JointBackwardBatch<T> bb = convert_joints_backward_args<T, Gpu>(
      poses, trans, seq_offsets, seq_fps, rest_joints, parents, clip_seq, clip_start, clip_len, clip_scale,
      clip_camera, dst_fps, up, grad_out, grad_poses, grad_trans);
  const int64_t C = bb.fwd.clips.num_clips, W = bb.fwd.clips.window;
  check_shape(world, op, "world_scratch", {C, W, kNumBodyJoints, 3});
  check_shape(grad_world, op, "grad_world_scratch", {C, W, kNumBodyJoints, 3});
  check_shape(frame, op, "frame_scratch", {C, kFrameSize});
  check_shape(grad_rows, op, "grad_rows_scratch", {C, W, 2, kRowGrad});
  const DeviceGuard guard(op, poses, trans, seq_offsets, seq_fps, rest_joints, clip_seq, clip_start, clip_len,
                          clip_scale, clip_camera, grad_out, grad_poses, grad_trans, world, grad_world, frame,
                          grad_rows);
  bb.fwd.world = world.data();
  bb.fwd.frame = frame.data();
  bb.grad_world = grad_world.data();
  bb.grad_rows = grad_rows.data();
  launch_convert_joints_batch_backward(bb, CudaLaunch{as_stream(stream), op});
}

template <typename T>
void def_ops(nb::module_& m) {
  auto arr = [](const char* name) { return nb::arg(name).noconvert(); };
  auto stream = nb::arg("stream") = uintptr_t(0);
  m.def("fk", &fk<T>, arr("poses"), arr("trans"), arr("rest_joints"), arr("parents"), arr("out"), stream);
  m.def("fk_backward", &fk_backward<T>, arr("poses"), arr("trans"), arr("rest_joints"), arr("parents"),
        arr("grad_out"), arr("grad_poses"), arr("grad_trans"), arr("grad_rest").none(), stream);
  m.def("resample_poses", &resample_poses<T>, arr("poses"), arr("trans"), nb::arg("src_fps"), nb::arg("dst_fps"),
        arr("out_poses"), arr("out_trans"), stream);
  // The arguments of _core's op of the same name, then scratch and the stream.
  m.def("project", &project<T>, arr("joints"), nb::arg("yaw_deg"), nb::arg("view_mode"), arr("out"),
        arr("kp_scratch"), arr("cam_scratch"), stream);
  m.def("convert_batch", &convert_batch<T>, arr("poses"), arr("trans"), arr("seq_offsets"), arr("seq_fps"),
        arr("rest_joints"), arr("parents"), arr("clip_seq"), arr("clip_start"), arr("clip_len"), arr("clip_yaw"),
        nb::arg("dst_fps"), nb::arg("view_mode"), arr("out"), arr("kp_scratch"), arr("cam_scratch"), stream);
  m.def("convert_joints_batch", &convert_joints_batch<T>, arr("poses"), arr("trans"), arr("seq_offsets"),
        arr("seq_fps"), arr("rest_joints"), arr("parents"), arr("clip_seq"), arr("clip_start"), arr("clip_len"),
        arr("clip_scale"), arr("clip_camera"), nb::arg("dst_fps"), nb::arg("up"), arr("out"), arr("world_scratch"),
        arr("frame_scratch"), stream);
  m.def("convert_joints_batch_backward", &convert_joints_batch_backward<T>, arr("poses"), arr("trans"),
        arr("seq_offsets"), arr("seq_fps"), arr("rest_joints"), arr("parents"), arr("clip_seq"), arr("clip_start"),
        arr("clip_len"), arr("clip_scale"), arr("clip_camera"), nb::arg("dst_fps"), nb::arg("up"), arr("grad_out"),
        arr("grad_poses"), arr("grad_trans"), arr("world_scratch"), arr("grad_world_scratch"), arr("frame_scratch"),
        arr("grad_rows_scratch"), stream);
}

}  // namespace
}  // namespace af

NB_MODULE(_cuda, m) {
  m.doc() = "amass-fast CUDA kernels. Use amass_fast.kernels, which checks and prepares arguments.";
  af::def_ops<float>(m);
  af::def_ops<double>(m);
  m.attr("block_size") = af::kBlockSize;  // threads per block of every launch (the grid-shim tests use it too)
  // Neither needs a GPU or a driver: they report what is missing instead of raising.
  m.def("device_count", [] {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
  });
  m.def(
      "runtime_info",
      [] {
        nanobind::dict info;
        int runtime = 0, driver = 0, count = 0;
        cudaRuntimeGetVersion(&runtime);
        cudaDriverGetVersion(&driver);  // 0 where no driver is installed
        const cudaError_t err = cudaGetDeviceCount(&count);
        info["runtime_version"] = runtime;
        info["driver_version"] = driver;
        info["device_count"] = err == cudaSuccess ? count : 0;
        const std::string why =
            err == cudaSuccess ? "" : std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err) + af::cuda_hint(err);
        info["error"] = err == cudaSuccess ? nanobind::object(nanobind::none()) : nanobind::str(why.c_str());
        return info;
      },
      "CUDA runtime and driver versions (1000 * major + 10 * minor), visible GPUs, and why there are none.");
}
