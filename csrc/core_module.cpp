// amass_fast._core: the CPU backend. OpenMP loops over the *_item work of amass_math.h (convert_batch's pass A
// over lane groups of several output frames), the nanobind bindings, and the grid-shim entry points (*_gridshim,
// the same record plus block_size) that run the CUDA kernels of kernels.cuh serially on the host.
//
// Every op takes one record of amass_fast.kernels.prepared (read by bindings.h), whose output arrays the caller
// allocated (never converted: a wrong dtype is an error, not a copy), and releases the GIL while it computes.
// float32 and float64 both run, in the dtype of the record's arrays.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
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

int g_num_threads = 0;  // 0: OpenMP's default
constexpr int kMaxThreads = 1024;  // amass_fast.cli.args.MAX_THREADS: huge counts can crash OpenMP runtimes

int num_threads() { return g_num_threads > 0 ? g_num_threads : omp_get_max_threads(); }

// Below this many work items a parallel region costs more than it saves.
constexpr int64_t kMinParallel = 64;
// convert_batch works through clips in chunks so that its keypoint scratch stays small (64 x 250 x 24 values).
constexpr int64_t kChunkClips = 64;
// Bytes of one lane group (CMake's AMASS_FAST_LANE_BYTES, AUTO by default): 32, an AVX2 register (8 floats, 4
// doubles), or 64 on AMD Zen 5 (full-width AVX-512: 15-25% faster there). On an AVX-512 Intel Xeon 16-float groups
// measured 3-20% slower (fk, fk's backward and convert_batch alike; the lane transposes in and out grow with the
// group). GCC splits a vector into what the target has, so either width is correct everywhere.
#ifndef AMASS_FAST_LANE_BYTES
#define AMASS_FAST_LANE_BYTES 32
#endif
constexpr int kLaneBytes = AMASS_FAST_LANE_BYTES;
static_assert(kLaneBytes == 32 || kLaneBytes == 64, "AMASS_FAST_LANE_BYTES must be 32 or 64");

// ---------------------------------------------------------------------------------------------------------------
// Rows into lanes and back (structure of arrays across frames: lane l holds row l's value of each column), for fk,
// its backward and convert_batch's pass A. Whole blocks of L columns move as L x L transposes in registers (L row
// loads, L log2 L two-source shuffles, L stores), the last n mod L columns one value at a time: moving single
// values had cost about half of fk's forward pass.

// The integer vector __builtin_shuffle takes as V's mask.
template <typename V>
using MaskOf = typename VecOf<std::conditional_t<sizeof(elem_t<V>) == 4, int32_t, int64_t>, lanes_of<V>()>::type;

// v[i][j] <-> v[j][i] for the L x L block v[0 .. L-1]: log2 L rounds that interleave vector i with vector i + L/2
// (each round rotates the bits of an element's (row, column) index by one, so log2 L rounds swap the two).
template <typename V>
inline void transpose_block(V* v) {
  constexpr int L = lanes_of<V>();
  MaskOf<V> lo, hi;
  for (int i = 0; i < L / 2; ++i) {
    lo[2 * i] = i;
    lo[2 * i + 1] = i + L;
    hi[2 * i] = i + L / 2;
    hi[2 * i + 1] = i + L / 2 + L;
  }
  for (int round = 1; round < L; round *= 2) {
    V t[L];
    for (int i = 0; i < L / 2; ++i) {
      t[2 * i] = __builtin_shuffle(v[i], v[i + L / 2], lo);
      t[2 * i + 1] = __builtin_shuffle(v[i], v[i + L / 2], hi);
    }
    for (int i = 0; i < L; ++i) v[i] = t[i];
  }
}

// Columns 0 .. n-1 of the rows row[0 .. L-1] into lanes[0 .. n-1] (lane l = row l).
template <typename V, typename T>
void load_columns(const T* const* row, int n, V* lanes) {
  constexpr int L = lanes_of<V>();
  const int whole = n - n % L;  // columns in whole blocks
  for (int c = 0; c < whole; c += L) {
    V block[L];
    for (int l = 0; l < L; ++l) std::memcpy(&block[l], row[l] + c, sizeof(V));
    transpose_block(block);
    for (int i = 0; i < L; ++i) lanes[c + i] = block[i];
  }
  for (int c = whole; c < n; ++c)
    for (int l = 0; l < L; ++l) lanes[c][l] = row[l][c];
}

// The first n columns of rows f0 .. f0 + L - 1 of a [num_rows, stride] array; lanes past the last row repeat it.
template <typename V, typename T>
void load_lanes(const T* rows, int64_t stride, int64_t num_rows, int64_t f0, int n, V* lanes) {
  const T* row[lanes_of<V>()];
  for (int l = 0; l < lanes_of<V>(); ++l) row[l] = rows + std::min<int64_t>(f0 + l, num_rows - 1) * stride;
  load_columns(row, n, lanes);
}

// lanes[0 .. n-1] into the first n columns of rows f0 .. of a [num_rows, stride] array (only rows < num_rows).
template <typename V, typename T>
void store_lanes(const V* lanes, int64_t stride, int64_t num_rows, int64_t f0, int n, T* rows) {
  constexpr int L = lanes_of<V>();
  const int valid = static_cast<int>(std::min<int64_t>(L, num_rows - f0));
  const int whole = n - n % L;  // columns in whole blocks
  for (int c = 0; c < whole; c += L) {
    V block[L];
    for (int i = 0; i < L; ++i) block[i] = lanes[c + i];
    transpose_block(block);
    for (int l = 0; l < valid; ++l) std::memcpy(rows + (f0 + l) * stride + c, &block[l], sizeof(V));
  }
  for (int c = whole; c < n; ++c)
    for (int l = 0; l < valid; ++l) rows[(f0 + l) * stride + c] = lanes[c][l];
}

// ---------------------------------------------------------------------------------------------------------------
// convert_batch's pass A with several output frames per SIMD register (structure of arrays across frames).

// The source values of a lane group for posed_keypoints (amass_math.h SourceRows, vectorised): column c of rows
// i0 / i1 of every lane, gathered once from the poses (the columns up to the last rotation the points need).
template <typename V>
struct LaneRows {
  V p0[3 * kNumBodyJoints], p1[3 * kNumBodyJoints];
  V t0[3], t1[3];
  V alpha;
  V pose0(int c) const { return p0[c]; }
  V pose1(int c) const { return p1[c]; }
  V trans0(int i) const { return t0[i]; }
  V trans1(int i) const { return t1[i]; }
};

// Pose columns that posed_keypoints reads: the axis-angles of the joints in skel.need_rot, all below `end` (rows
// are loaded up to there whole; the columns of the other joints below it are loaded and not read).
struct NeededColumns {
  int end = 0;
  explicit NeededColumns(const Skeleton& skel) {
    for (int j = 0; j < kNumBodyJoints; ++j)
      if (has_bit(skel.need_rot, j)) end = 3 * (j + 1);
  }
};

// The source rows of output frames k0 .. k0 + lanes - 1 of clip c: lanes past the clip's end repeat its last
// frame (clip_len > k0).
template <typename V, typename T>
void load_lane_rows(const ClipBatch<T>& a, const NeededColumns& need, int64_t c, int64_t k0, LaneRows<V>& rows) {
  constexpr int L = lanes_of<V>();
  const int64_t len = a.clip_len[c];
  const int64_t s = a.clip_seq[c];
  const int64_t first = a.seq_offsets[s], num_frames = a.seq_offsets[s + 1] - first;
  const T* poses = a.poses + first * a.pose_stride;
  const T* trans = a.trans + 3 * first;
  const T* r0[L];
  const T* r1[L];
  for (int l = 0; l < L; ++l) {
    const int64_t k = a.clip_start[c] + std::min<int64_t>(k0 + l, len - 1);
    const SourcePosition sp = source_position(k, num_frames, a.seq_fps[s], a.dst_fps);
    r0[l] = poses + sp.i0 * a.pose_stride;
    r1[l] = poses + sp.i1 * a.pose_stride;
    for (int i = 0; i < 3; ++i) {
      rows.t0[i][l] = trans[3 * sp.i0 + i];
      rows.t1[i][l] = trans[3 * sp.i1 + i];
    }
    rows.alpha[l] = static_cast<T>(sp.alpha);
  }
  load_columns(r0, need.end, rows.p0);
  load_columns(r1, need.end, rows.p1);
}

// The posed points of output frames k0 .. k0 + lanes - 1 of clip c, as the per-frame item does for each of them:
// Points = kNumKeypoints, the stick's keypoints into out = a.kp (clip_keypoints_item); Points = kNumBodyJoints,
// the world joints into out = the JointBatch's world (clip_joints_item). Lanes past the clip's end are not written.
template <typename V, int Points, typename T>
void clip_points_group(const ClipBatch<T>& a, const NeededColumns& need, int64_t c, int64_t k0, T* out) {
  static_assert(Points == kNumKeypoints || Points == kNumBodyJoints, "keypoints or body joints");
  constexpr int L = lanes_of<V>();
  constexpr int N = 3 * Points;
  const int64_t len = a.clip_len[c];
  if (k0 >= len) return;
  LaneRows<V> rows;
  load_lane_rows(a, need, c, k0, rows);
  V pos[N];
  const T* rest = a.rest + a.clip_seq[c] * a.rest_stride;
  if constexpr (Points == kNumKeypoints)
    posed_keypoints<V>(rows, rest, a.skel, pos);
  else
    posed_joints<V>(rows, rest, a.skel, pos);
  out += (c * a.window + k0) * N;
  store_lanes(pos, N, len - k0, 0, N, out);
}

// ---------------------------------------------------------------------------------------------------------------
// OpenMP loops.

template <typename V, typename T>
void fk_group(const FkBatch<T>& a, int64_t f0) {
  const int n = 3 * a.skel.num_joints;
  V pose[3 * kMaxJoints], trans[3], pos[3 * kMaxJoints];
  load_lanes(a.poses, a.pose_stride, a.num_frames, f0, n, pose);
  load_lanes(a.trans, 3, a.num_frames, f0, 3, trans);
  fk_frame<V>(pose, trans, a.rest, a.skel, pos);
  store_lanes(pos, n, a.num_frames, f0, n, a.out);
}

template <typename V, typename T>
void fk_backward_group(const FkBackwardBatch<T>& b, int64_t f0) {
  const FkBatch<T>& a = b.fwd;
  const int n = 3 * a.skel.num_joints;
  const int64_t F = a.num_frames;
  V pose[3 * kMaxJoints], trans[3], grad_out[3 * kMaxJoints], grad_pose[3 * kMaxJoints], grad_trans[3],
      grad_rest[3 * kMaxJoints];
  load_lanes(a.poses, a.pose_stride, F, f0, n, pose);
  load_lanes(a.trans, 3, F, f0, 3, trans);
  load_lanes(b.grad_out, n, F, f0, n, grad_out);
  fk_frame_backward<V>(pose, trans, a.rest, a.skel, grad_out, grad_pose, grad_trans,
                       b.grad_rest ? grad_rest : nullptr);
  store_lanes(grad_pose, a.pose_stride, F, f0, n, b.grad_poses);
  store_lanes(grad_trans, 3, F, f0, 3, b.grad_trans);
  if (b.grad_rest) store_lanes(grad_rest, n, F, f0, n, b.grad_rest);
  for (int64_t f = f0; f < std::min<int64_t>(f0 + lanes_of<V>(), F); ++f)
    for (int64_t c = n; c < a.pose_stride; ++c) b.grad_poses[f * a.pose_stride + c] = T(0);
}

template <typename T>
void cpu_fk(const FkBatch<T>& a) {
  using V = typename VecOf<T, kLaneBytes / sizeof(T)>::type;
  constexpr int L = lanes_of<V>();
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (a.num_frames >= kMinParallel)
  for (int64_t g = 0; g < (a.num_frames + L - 1) / L; ++g) fk_group<V>(a, g * L);
}

template <typename T>
void cpu_fk_backward(const FkBackwardBatch<T>& b) {
  using V = typename VecOf<T, kLaneBytes / sizeof(T)>::type;
  constexpr int L = lanes_of<V>();
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (b.fwd.num_frames >= kMinParallel)
  for (int64_t g = 0; g < (b.fwd.num_frames + L - 1) / L; ++g) fk_backward_group<V>(b, g * L);
}

template <typename T>
void cpu_resample_poses(const ResampleBatch<T>& a) {
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (a.out_frames >= kMinParallel)
  for (int64_t k = 0; k < a.out_frames; ++k) resample_item(a, k);
}

// The three passes of launch_convert_batch, chunk by chunk: a chunk is the same batch narrowed to its clips.
template <typename T>
void cpu_convert_batch(const ClipBatch<T>& a) {
  using V = typename VecOf<T, kLaneBytes / sizeof(T)>::type;
  constexpr int L = lanes_of<V>();
  const int64_t groups = (a.window + L - 1) / L;  // lane groups per clip
  const NeededColumns need(a.skel);
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
    // Groups past a clip's end return at once, so hand out small blocks.
#pragma omp for schedule(dynamic, 2)
    for (int64_t g = 0; g < b.num_clips * groups; ++g)
      clip_points_group<V, kNumKeypoints>(b, need, g / groups, (g % groups) * L, b.kp);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < b.num_clips; ++c) clip_camera_item(b, c);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) clip_project_item(b, i);
  }
}

// The three passes of launch_convert_joints_batch, chunk by chunk (as cpu_convert_batch).
template <typename T>
void cpu_convert_joints_batch(const JointBatch<T>& b0) {
  using V = typename VecOf<T, kLaneBytes / sizeof(T)>::type;
  constexpr int L = lanes_of<V>();
  const ClipBatch<T>& a = b0.clips;
  const int64_t groups = (a.window + L - 1) / L;
  const NeededColumns need(a.skel);
  const int64_t chunk = std::min(a.num_clips, kChunkClips);
  std::vector<T> world(chunk * a.window * 3 * kNumBodyJoints), frame(kFrameSize * chunk);
#pragma omp parallel num_threads(num_threads()) if (a.num_clips * a.window >= kMinParallel)
  for (int64_t c0 = 0; c0 < a.num_clips; c0 += chunk) {
    JointBatch<T> b = b0;
    b.clips.num_clips = std::min(chunk, a.num_clips - c0);
    b.clips.clip_seq += c0;
    b.clips.clip_start += c0;
    b.clips.clip_len += c0;
    b.clip_scale += c0;
    b.clip_camera += kCameraFields * c0;
    b.out += c0 * a.window * kNumBodyJoints * b.out_dim;
    b.world = world.data();
    b.frame = frame.data();
    const int64_t n = b.clips.num_clips * a.window;
#pragma omp for schedule(dynamic, 2)
    for (int64_t g = 0; g < b.clips.num_clips * groups; ++g)
      clip_points_group<V, kNumBodyJoints>(b.clips, need, g / groups, (g % groups) * L, b.world);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < b.clips.num_clips; ++c) clip_frame_item(b, c);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) clip_schema_item(b, i);
  }
}

// launch_convert_joints_batch_backward's passes, chunk by chunk; the scatter of each chunk runs on one thread
// (a source row may be shared by several output frames and clips), so the sums are the same on every run.
template <typename T>
void cpu_convert_joints_batch_backward(const JointBackwardBatch<T>& bb0, int64_t num_rows) {
  const ClipBatch<T>& a = bb0.fwd.clips;
  std::fill(bb0.grad_poses, bb0.grad_poses + num_rows * a.pose_stride, T(0));
  std::fill(bb0.grad_trans, bb0.grad_trans + num_rows * 3, T(0));
  const int64_t chunk = std::min(a.num_clips, kChunkClips);
  const int64_t per_clip = a.window * 3 * kNumBodyJoints;
  std::vector<T> world(chunk * per_clip), grad_world(chunk * per_clip), frame(kFrameSize * chunk),
      grad_rows(chunk * a.window * 2 * kRowGrad);
#pragma omp parallel num_threads(num_threads()) if (a.num_clips * a.window >= kMinParallel)
  for (int64_t c0 = 0; c0 < a.num_clips; c0 += chunk) {
    JointBackwardBatch<T> bb = bb0;
    JointBatch<T>& b = bb.fwd;
    b.clips.num_clips = std::min(chunk, a.num_clips - c0);
    b.clips.clip_seq += c0;
    b.clips.clip_start += c0;
    b.clips.clip_len += c0;
    b.clip_scale += c0;
    b.clip_camera += kCameraFields * c0;
    b.world = world.data();
    b.frame = frame.data();
    bb.grad_out += c0 * a.window * kNumBodyJoints * b.out_dim;
    bb.grad_world = grad_world.data();
    bb.grad_rows = grad_rows.data();
    const int64_t n = b.clips.num_clips * a.window;
#pragma omp for schedule(dynamic, 8)
    for (int64_t i = 0; i < n; ++i) clip_joints_item(b, i);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < b.clips.num_clips; ++c) clip_frame_item(b, c);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < b.clips.num_clips; ++c) clip_schema_backward_item(bb, c);
#pragma omp for schedule(dynamic, 8)
    for (int64_t i = 0; i < n; ++i) clip_joints_backward_item(bb, i);
#pragma omp single
    for (int64_t i = 0; i < n; ++i) scatter_rows_item(bb, i);
  }
}

template <typename T>
void cpu_project(const ClipBatch<T>& a) {  // a: project_batch (one clip, clip_len/clip_yaw null)
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
// Entry points, each taking one prepared record: each op runs the OpenMP path; each *_gridshim twin takes
// block_size too and runs the CUDA kernels of kernels.cuh grid-serially with that block size instead (tests of the
// kernels' indexing without a GPU).

template <typename T>
void fk(nb::handle p) {
  Reader<Cpu> r{"fk"};
  const FkBatch<T> a = fk_batch<T>(r, p);
  nb::gil_scoped_release release;
  cpu_fk(a);
}

template <typename T>
void fk_gridshim(nb::handle p, unsigned block_size) {
  Reader<Cpu> r{"fk"};
  const FkBatch<T> a = fk_batch<T>(r, p);
  nb::gil_scoped_release release;
  launch_fk(a, GridShimLaunch{block_size});
}

template <typename T>
void fk_backward(nb::handle p) {
  Reader<Cpu> r{"fk_backward"};
  const FkBackwardBatch<T> b = fk_backward_batch<T>(r, p);
  nb::gil_scoped_release release;
  cpu_fk_backward(b);
}

template <typename T>
void fk_backward_gridshim(nb::handle p, unsigned block_size) {
  Reader<Cpu> r{"fk_backward"};
  const FkBackwardBatch<T> b = fk_backward_batch<T>(r, p);
  nb::gil_scoped_release release;
  launch_fk_backward(b, GridShimLaunch{block_size});
}

template <typename T>
void resample_poses(nb::handle p) {
  Reader<Cpu> r{"resample_poses"};
  const ResampleBatch<T> a = resample_batch<T>(r, p);
  nb::gil_scoped_release release;
  cpu_resample_poses(a);
}

template <typename T>
void resample_poses_gridshim(nb::handle p, unsigned block_size) {
  Reader<Cpu> r{"resample_poses"};
  const ResampleBatch<T> a = resample_batch<T>(r, p);
  nb::gil_scoped_release release;
  launch_resample_poses(a, GridShimLaunch{block_size});
}

template <typename T>
void project(nb::handle p) {
  Reader<Cpu> r{"project"};
  const ClipBatch<T> a = project_batch<T>(r, p);
  nb::gil_scoped_release release;
  cpu_project(a);
}

template <typename T>
void project_gridshim(nb::handle p, unsigned block_size) {
  Reader<Cpu> r{"project"};
  ClipBatch<T> a = project_batch<T>(r, p);
  nb::gil_scoped_release release;
  std::vector<T> kp(a.window * 3 * kNumKeypoints), cam(5);
  a.kp = kp.data();
  a.cam = cam.data();
  launch_project(a, GridShimLaunch{block_size});
}

template <typename T>
void convert_batch(nb::handle p) {
  Reader<Cpu> r{"convert_batch"};
  const ClipBatch<T> a = stick_batch<T>(r, p);
  nb::gil_scoped_release release;
  cpu_convert_batch(a);
}

template <typename T>
void convert_batch_gridshim(nb::handle p, unsigned block_size) {
  Reader<Cpu> r{"convert_batch"};
  ClipBatch<T> a = stick_batch<T>(r, p);
  nb::gil_scoped_release release;
  std::vector<T> kp(a.num_clips * a.window * 3 * kNumKeypoints), cam(5 * a.num_clips);
  a.kp = kp.data();
  a.cam = cam.data();
  launch_convert_batch(a, GridShimLaunch{block_size});
}

template <typename T>
void convert_joints_batch(nb::handle p) {
  Reader<Cpu> r{"convert_joints_batch"};
  const JointBatch<T> b = joints_batch<T>(r, p);
  nb::gil_scoped_release release;
  cpu_convert_joints_batch(b);
}

template <typename T>
void convert_joints_batch_gridshim(nb::handle p, unsigned block_size) {
  Reader<Cpu> r{"convert_joints_batch"};
  JointBatch<T> b = joints_batch<T>(r, p);
  nb::gil_scoped_release release;
  std::vector<T> world(b.clips.num_clips * b.clips.window * 3 * kNumBodyJoints), frame(kFrameSize * b.clips.num_clips);
  b.world = world.data();
  b.frame = frame.data();
  launch_convert_joints_batch(b, GridShimLaunch{block_size});
}

template <typename T>
void convert_joints_batch_backward(nb::handle p) {
  Reader<Cpu> r{"convert_joints_batch_backward"};
  int64_t rows = 0;
  const JointBackwardBatch<T> bb = joints_backward_batch<T>(r, p, rows);
  nb::gil_scoped_release release;
  cpu_convert_joints_batch_backward(bb, rows);
}

template <typename T>
void convert_joints_batch_backward_gridshim(nb::handle p, unsigned block_size) {
  Reader<Cpu> r{"convert_joints_batch_backward"};
  int64_t rows = 0;
  JointBackwardBatch<T> bb = joints_backward_batch<T>(r, p, rows);
  nb::gil_scoped_release release;
  const int64_t n = bb.fwd.clips.num_clips * bb.fwd.clips.window;
  std::vector<T> world(n * 3 * kNumBodyJoints), grad_world(n * 3 * kNumBodyJoints),
      frame(kFrameSize * bb.fwd.clips.num_clips), grad_rows(n * 2 * kRowGrad);
  bb.fwd.world = world.data();
  bb.fwd.frame = frame.data();
  bb.grad_world = grad_world.data();
  bb.grad_rows = grad_rows.data();
  std::fill(bb.grad_poses, bb.grad_poses + rows * bb.fwd.clips.pose_stride, T(0));
  std::fill(bb.grad_trans, bb.grad_trans + rows * 3, T(0));
  launch_convert_joints_batch_backward(bb, GridShimLaunch{block_size});
}

// sin and cos of every x by amass_math.h's sincos_poly, in vector lanes as convert_batch runs it (tests measure
// its error against the exact functions).
template <typename T>
void sincos(CIn<T> x, COut<T> out_sin, COut<T> out_cos) {
  check_shape(x, "sincos", "x", {-1});
  check_shape(out_sin, "sincos", "out_sin", {dim(x, 0)});
  check_shape(out_cos, "sincos", "out_cos", {dim(x, 0)});
  using V = typename VecOf<T, kLaneBytes / sizeof(T)>::type;
  constexpr int L = lanes_of<V>();
  const int64_t n = dim(x, 0);
  for (int64_t i0 = 0; i0 < n; i0 += L) {
    V v = V{} + T(0), s, c;
    for (int l = 0; l < L && i0 + l < n; ++l) v[l] = x.data()[i0 + l];
    sincos_poly(v, &s, &c);
    for (int l = 0; l < L && i0 + l < n; ++l) {
      out_sin.data()[i0 + l] = s[l];
      out_cos.data()[i0 + l] = c[l];
    }
  }
}

// Each op and its *_gridshim twin: name, the record's float array that picks the dtype, both dtypes' entry points.
void def_ops(nb::module_& m) {
  const auto block = nb::arg("block_size");
  const auto op = [&](const char* name, const char* main, auto f32, auto f64, auto shim32, auto shim64,
                      const char* doc) {
    m.def(name, by_dtype(main, f32, f64), nb::arg("p"), doc);
    m.def((std::string(name) + "_gridshim").c_str(), by_dtype(main, shim32, shim64), nb::arg("p"), block,
          (std::string(name) + "'s CUDA kernels run grid-serially with block_size threads per block.").c_str());
  };
  op("fk", "poses", fk<float>, fk<double>, fk_gridshim<float>, fk_gridshim<double>,
     "fk(p: prepared.Fk): poses [F, >=3J], trans [F, 3], rest_joints [J, 3], parents int64 [J] -> out [F, J, 3].");
  op("fk_backward", "grad_out", fk_backward<float>, fk_backward<double>, fk_backward_gridshim<float>,
     fk_backward_gridshim<double>,
     "fk_backward(p: prepared.FkBackward): fk's record, grad_out [F, J, 3] -> grad_poses [F, P], grad_trans "
     "[F, 3], grad_rest [F, J, 3] or None (grad_rest per frame; sum it over frames).");
  op("resample_poses", "poses", resample_poses<float>, resample_poses<double>, resample_poses_gridshim<float>,
     resample_poses_gridshim<double>,
     "resample_poses(p: prepared.Resample): poses [F, P], trans [F, 3], src_fps, dst_fps -> out_poses [T, P], "
     "out_trans [T, 3].");
  op("project", "joints", project<float>, project<double>, project_gridshim<float>, project_gridshim<double>,
     "project(p: prepared.Project): joints [F, >=22, 3], yaw_deg, view_mode (0 front-relative, 1 top) -> "
     "out [F, 20].");
  op("convert_batch", "out", convert_batch<float>, convert_batch<double>, convert_batch_gridshim<float>,
     convert_batch_gridshim<double>,
     "convert_batch(p: prepared.StickBatch): batch (prepared.ClipBatch: poses [N, >=66], trans [N, 3], seq_offsets "
     "int64 [S+1], seq_fps f64 [S], rest_joints [S, >=22, 3], parents int64 [>=22], clip_seq/clip_start/clip_len "
     "int64 [C], dst_fps), clip_yaw f64 [C], view_mode -> out [C, window, 20]; semantics of "
     "amass_fast.kernels.reference.convert_batch.");
  op("convert_joints_batch", "out", convert_joints_batch<float>, convert_joints_batch<double>,
     convert_joints_batch_gridshim<float>, convert_joints_batch_gridshim<double>,
     "convert_joints_batch(p: prepared.JointsBatch): batch, clip_scale f64 [C], clip_camera f64 [C, 6] (packed "
     "cameras), up (0 z, 1 y) -> out [C, window, 22, 3] joints3d or [C, window, 22, 2] joints2d; semantics of "
     "amass_fast.kernels.reference.convert_joints_batch.");
  op("convert_joints_batch_backward", "grad_out", convert_joints_batch_backward<float>,
     convert_joints_batch_backward<double>, convert_joints_batch_backward_gridshim<float>,
     convert_joints_batch_backward_gridshim<double>,
     "convert_joints_batch_backward(p: prepared.JointsBackward): convert_joints_batch's record, grad_out "
     "[C, window, 22, 3 or 2] -> grad_poses [N, P], grad_trans [N, 3]: the gradients w.r.t. poses and trans "
     "(semantics of amass_fast.kernels.reference.convert_joints_batch_backward).");
  const auto arr = [](const char* name) { return nb::arg(name).noconvert(); };
  m.def("sincos", &sincos<float>, arr("x"), arr("out_sin"), arr("out_cos"),
        "sincos(x [n], out_sin [n], out_cos [n]): the polynomial sin/cos of the kernels (for tests).");
  m.def("sincos", &sincos<double>, arr("x"), arr("out_sin"), arr("out_cos"));
}

}  // namespace
}  // namespace af

NB_MODULE(_core, m) {
  m.doc() = "amass-fast CPU kernels (C++17, OpenMP). Use amass_fast.kernels, which checks and prepares arguments.";
  af::def_ops(m);
  m.def(
      "set_num_threads", [](int n) { af::g_num_threads = n > 0 ? std::min(n, af::kMaxThreads) : 0; },
      nanobind::arg("n"),
      "Threads for the OpenMP loops, at most 1024 (amass_fast.cli.args.MAX_THREADS); n <= 0 restores OpenMP's "
      "default.");
  m.def("get_num_threads", &af::num_threads, "Threads the OpenMP loops use.");
  m.def("resampled_length", &af::resampled_length, nanobind::arg("num_frames"), nanobind::arg("src_fps"),
        nanobind::arg("dst_fps"));
  m.attr("max_joints") = af::kMaxJoints;
  m.attr("lane_bytes") = af::kLaneBytes;  // the build's SIMD lane group (AMASS_FAST_LANE_BYTES)
}
