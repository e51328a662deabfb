// CUDA kernels: index and bounds logic only, one thread per output frame or per clip, no shared memory, no block
// synchronisation. The work of each thread is an *_item function of amass_math.h.
//
// The same file compiles for the host with grid_shim.h (core_module.cpp), where the launch_* sequences run the
// grid serially; tests compare that with the OpenMP path to check the indexing without a GPU.
#pragma once

#include "amass_math.h"

namespace af {

__device__ inline int64_t thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

template <typename T>
__global__ void fk_kernel(FkBatch<T> a) {
  const int64_t f = thread_index();
  if (f < a.num_frames) fk_item(a, f);
}

template <typename T>
__global__ void fk_backward_kernel(FkBackwardBatch<T> b) {
  const int64_t f = thread_index();
  if (f < b.fwd.num_frames) fk_backward_item(b, f);
}

template <typename T>
__global__ void resample_kernel(ResampleBatch<T> a) {
  const int64_t k = thread_index();
  if (k < a.out_frames) resample_item(a, k);
}

template <typename T>
__global__ void clip_keypoints_kernel(ClipBatch<T> a) {
  const int64_t i = thread_index();
  if (i < a.num_clips * a.window) clip_keypoints_item(a, i);
}

template <typename T>
__global__ void joint_keypoints_kernel(ClipBatch<T> a) {
  const int64_t k = thread_index();
  if (k < a.window) joint_keypoints_item(a, k);
}

template <typename T>
__global__ void clip_camera_kernel(ClipBatch<T> a) {
  const int64_t c = thread_index();
  if (c < a.num_clips) clip_camera_item(a, c);
}

template <typename T>
__global__ void clip_project_kernel(ClipBatch<T> a) {
  const int64_t i = thread_index();
  if (i < a.num_clips * a.window) clip_project_item(a, i);
}

template <typename T>
__global__ void clip_joints_kernel(JointBatch<T> b) {
  const int64_t i = thread_index();
  if (i < b.clips.num_clips * b.clips.window) clip_joints_item(b, i);
}

template <typename T>
__global__ void clip_frame_kernel(JointBatch<T> b) {
  const int64_t c = thread_index();
  if (c < b.clips.num_clips) clip_frame_item(b, c);
}

template <typename T>
__global__ void clip_schema_kernel(JointBatch<T> b) {
  const int64_t i = thread_index();
  if (i < b.clips.num_clips * b.clips.window) clip_schema_item(b, i);
}

template <typename T>
__global__ void clip_schema_backward_kernel(JointBackwardBatch<T> bb) {
  const int64_t c = thread_index();
  if (c < bb.fwd.clips.num_clips) clip_schema_backward_item(bb, c);
}

template <typename T>
__global__ void clip_joints_backward_kernel(JointBackwardBatch<T> bb) {
  const int64_t i = thread_index();
  if (i < bb.fwd.clips.num_clips * bb.fwd.clips.window) clip_joints_backward_item(bb, i);
}

template <typename T>
__global__ void scatter_rows_kernel(JointBackwardBatch<T> bb) {
  const int64_t i = thread_index();
  if (i < bb.fwd.clips.num_clips * bb.fwd.clips.window) scatter_rows_item(bb, i);
}

// Launch sequences. `launch(num_threads, kernel, args)` starts a 1-D grid of at least num_threads threads: the
// CUDA module launches on a stream, the grid shim loops. Passes of one op run in order on one stream.

template <typename T, typename Launch>
void launch_fk(const FkBatch<T>& a, Launch&& launch) {
  launch(a.num_frames, fk_kernel<T>, a);
}

template <typename T, typename Launch>
void launch_fk_backward(const FkBackwardBatch<T>& b, Launch&& launch) {
  launch(b.fwd.num_frames, fk_backward_kernel<T>, b);
}

template <typename T, typename Launch>
void launch_resample_poses(const ResampleBatch<T>& a, Launch&& launch) {
  launch(a.out_frames, resample_kernel<T>, a);
}

template <typename T, typename Launch>
void launch_convert_batch(const ClipBatch<T>& a, Launch&& launch) {
  launch(a.num_clips * a.window, clip_keypoints_kernel<T>, a);
  launch(a.num_clips, clip_camera_kernel<T>, a);
  launch(a.num_clips * a.window, clip_project_kernel<T>, a);
}

template <typename T, typename Launch>
void launch_convert_joints_batch(const JointBatch<T>& b, Launch&& launch) {
  launch(b.clips.num_clips * b.clips.window, clip_joints_kernel<T>, b);
  launch(b.clips.num_clips, clip_frame_kernel<T>, b);
  launch(b.clips.num_clips * b.clips.window, clip_schema_kernel<T>, b);
}

// The backward: the forward's passes A and B, then C^T, A^T and the scatter S (atomics on the device). grad_poses
// and grad_trans must be zero before (the caller clears them).
template <typename T, typename Launch>
void launch_convert_joints_batch_backward(const JointBackwardBatch<T>& bb, Launch&& launch) {
  const int64_t n = bb.fwd.clips.num_clips * bb.fwd.clips.window;
  launch(n, clip_joints_kernel<T>, bb.fwd);
  launch(bb.fwd.clips.num_clips, clip_frame_kernel<T>, bb.fwd);
  launch(bb.fwd.clips.num_clips, clip_schema_backward_kernel<T>, bb);
  launch(n, clip_joints_backward_kernel<T>, bb);
  launch(n, scatter_rows_kernel<T>, bb);
}

template <typename T, typename Launch>
void launch_project(const ClipBatch<T>& a, Launch&& launch) {
  launch(a.window, joint_keypoints_kernel<T>, a);
  launch(a.num_clips, clip_camera_kernel<T>, a);
  launch(a.num_clips * a.window, clip_project_kernel<T>, a);
}

}  // namespace af
