// amass_fast._cuda: kernel launches and bindings. The kernels are in kernels.cuh, their math in amass_math.h.
//
// Every op takes the record of _core's op of the same name (read by bindings.h), then scratch arrays and the
// stream. All arrays are CUDA arrays on one device (torch tensors through DLPack) except the record's `parents`, a
// host int64 array (the skeleton goes to the kernels by value). Scratch comes from the caller, so the
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
using GOut = Out<T, Gpu>;

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

// The launch goes to the device of the record's arrays (Reader::device; made current for this call and restored
// after it, as torch.cuda.device does: this module's static CUDA runtime keeps its own notion of "current").
class DeviceGuard {
 public:
  explicit DeviceGuard(const Reader<Gpu>& r) {
    check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != r.device) check_cuda(cudaSetDevice(r.device), "cudaSetDevice");
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

// Runs launch(batch, launcher) on the record's device and the caller's stream.
template <typename Batch, typename Launch>
void run(const Reader<Gpu>& r, const Batch& batch, uintptr_t stream, Launch launch) {
  const DeviceGuard guard(r);
  launch(batch, CudaLaunch{reinterpret_cast<cudaStream_t>(stream), r.op});
}

// A scratch array of the caller's, in the data's dtype on their device.
template <typename T>
T* scratch(Reader<Gpu>& r, nb::handle value, const char* name, std::initializer_list<int64_t> shape) {
  const GOut<T> a = as_output<T>(r, value, name);
  check_shape(a, r.op, name, shape);
  return a.data();
}

template <typename T>
void fk(nb::handle p, uintptr_t stream) {
  Reader<Gpu> r{"fk"};
  run(r, fk_batch<T>(r, p), stream, launch_fk<T, CudaLaunch>);
}

template <typename T>
void fk_backward(nb::handle p, uintptr_t stream) {
  Reader<Gpu> r{"fk_backward"};
  run(r, fk_backward_batch<T>(r, p), stream, launch_fk_backward<T, CudaLaunch>);
}

template <typename T>
void resample_poses(nb::handle p, uintptr_t stream) {
  Reader<Gpu> r{"resample_poses"};
  run(r, resample_batch<T>(r, p), stream, launch_resample_poses<T, CudaLaunch>);
}

// Scratch: kp [1, F, 8, 3] and cam [1, 5].
template <typename T>
void project(nb::handle p, nb::handle kp, nb::handle cam, uintptr_t stream) {
  Reader<Gpu> r{"project"};
  ClipBatch<T> a = project_batch<T>(r, p);
  a.kp = scratch<T>(r, kp, "kp_scratch", {1, a.window, kNumKeypoints, 3});
  a.cam = scratch<T>(r, cam, "cam_scratch", {1, 5});
  run(r, a, stream, launch_project<T, CudaLaunch>);
}

// Scratch: kp [C, window, 8, 3] and cam [C, 5].
template <typename T>
void convert_batch(nb::handle p, nb::handle kp, nb::handle cam, uintptr_t stream) {
  Reader<Gpu> r{"convert_batch"};
  ClipBatch<T> a = stick_batch<T>(r, p);
  a.kp = scratch<T>(r, kp, "kp_scratch", {a.num_clips, a.window, kNumKeypoints, 3});
  a.cam = scratch<T>(r, cam, "cam_scratch", {a.num_clips, 5});
  run(r, a, stream, launch_convert_batch<T, CudaLaunch>);
}

// Scratch: world [C, window, 22, 3] and frame [C, kFrameSize].
template <typename T>
void convert_joints_batch(nb::handle p, nb::handle world, nb::handle frame, uintptr_t stream) {
  Reader<Gpu> r{"convert_joints_batch"};
  JointBatch<T> b = joints_batch<T>(r, p);
  const int64_t C = b.clips.num_clips, W = b.clips.window;
  b.world = scratch<T>(r, world, "world_scratch", {C, W, kNumBodyJoints, 3});
  b.frame = scratch<T>(r, frame, "frame_scratch", {C, kFrameSize});
  run(r, b, stream, launch_convert_joints_batch<T, CudaLaunch>);
}

// Scratch: world and grad_world [C, window, 22, 3], frame [C, kFrameSize], grad_rows [C, window, 2, kRowGrad];
// the record's grad_poses and grad_trans must hold zeros (the scatter adds into them).
template <typename T>
void convert_joints_batch_backward(nb::handle p, nb::handle world, nb::handle grad_world, nb::handle frame,
                                   nb::handle grad_rows, uintptr_t stream) {
  Reader<Gpu> r{"convert_joints_batch_backward"};
  int64_t rows = 0;
  JointBackwardBatch<T> bb = joints_backward_batch<T>(r, p, rows);
  const int64_t C = bb.fwd.clips.num_clips, W = bb.fwd.clips.window;
  bb.fwd.world = scratch<T>(r, world, "world_scratch", {C, W, kNumBodyJoints, 3});
  bb.grad_world = scratch<T>(r, grad_world, "grad_world_scratch", {C, W, kNumBodyJoints, 3});
  bb.fwd.frame = scratch<T>(r, frame, "frame_scratch", {C, kFrameSize});
  bb.grad_rows = scratch<T>(r, grad_rows, "grad_rows_scratch", {C, W, 2, kRowGrad});
  run(r, bb, stream, launch_convert_joints_batch_backward<T, CudaLaunch>);
}

// Each entry point takes the record of _core's op of the same name, then its scratch arrays and the stream.
void def_ops(nb::module_& m) {
  const auto stream = nb::arg("stream") = uintptr_t(0);
  const auto a = [](const char* name) { return nb::arg(name); };
  m.def("fk", by_dtype("poses", fk<float>, fk<double>), a("p"), stream);
  m.def("fk_backward", by_dtype("grad_out", fk_backward<float>, fk_backward<double>), a("p"), stream);
  m.def("resample_poses", by_dtype("poses", resample_poses<float>, resample_poses<double>), a("p"), stream);
  m.def("project", by_dtype("joints", project<float>, project<double>), a("p"), a("kp_scratch"), a("cam_scratch"),
        stream);
  m.def("convert_batch", by_dtype("out", convert_batch<float>, convert_batch<double>), a("p"), a("kp_scratch"),
        a("cam_scratch"), stream);
  m.def("convert_joints_batch", by_dtype("out", convert_joints_batch<float>, convert_joints_batch<double>), a("p"),
        a("world_scratch"), a("frame_scratch"), stream);
  m.def("convert_joints_batch_backward",
        by_dtype("grad_out", convert_joints_batch_backward<float>, convert_joints_batch_backward<double>), a("p"),
        a("world_scratch"), a("grad_world_scratch"), a("frame_scratch"), a("grad_rows_scratch"), stream);
}

}  // namespace
}  // namespace af

NB_MODULE(_cuda, m) {
  m.doc() = "amass-fast CUDA kernels. Use amass_fast.kernels, which checks and prepares arguments.";
  af::def_ops(m);
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
