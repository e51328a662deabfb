// Argument checking shared by the nanobind modules _core (device::cpu) and _cuda (device::cuda): shapes are
// checked here and turned into the batch structs of amass_math.h. Both modules take the same arguments for the
// same op, in the same order (_cuda adds scratch arrays after `out`, and the stream). The Python wrapper (amass_fast/kernels/__init__.py) checks
// the same things first with friendlier messages; these checks keep direct callers from reading out of bounds.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cmath>
#include <initializer_list>
#include <string>

#include "amass_math.h"

namespace af::bind {

namespace nb = nanobind;

template <typename T, typename Device>
using In = nb::ndarray<const T, nb::c_contig, Device>;
template <typename T, typename Device>
using Out = nb::ndarray<T, nb::c_contig, Device>;
using HostIndex = nb::ndarray<const int64_t, nb::c_contig, nb::device::cpu>;

[[noreturn]] inline void fail(const std::string& message) { throw nb::value_error(message.c_str()); }

inline void require(bool ok, const char* op, const std::string& message) {
  if (!ok) fail(std::string(op) + ": " + message);
}

template <typename A>
std::string shape_str(const A& a) {
  std::string s = "(";
  for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// Checks ndim and each dimension of `shape` (-1: any size).
template <typename A>
void check_shape(const A& a, const char* op, const char* name, std::initializer_list<int64_t> shape) {
  bool ok = a.ndim() == shape.size();
  size_t i = 0;
  for (int64_t want : shape) {
    if (ok && want >= 0 && static_cast<int64_t>(a.shape(i)) != want) ok = false;
    ++i;
  }
  if (ok) return;
  std::string want = "(";
  i = 0;
  for (int64_t d : shape) want += (i++ ? ", " : "") + (d >= 0 ? std::to_string(d) : std::string("*"));
  fail(std::string(op) + ": `" + name + "` must have shape " + want + (shape.size() == 1 ? ",)" : ")") + ", got " +
       shape_str(a));
}

template <typename A>
int64_t dim(const A& a, size_t i) {
  return static_cast<int64_t>(a.shape(i));
}

inline bool positive_finite(double x) { return std::isfinite(x) && x > 0.0; }

// Which joints a skeleton computes: all of them (fk), the 22 body joints (joints schemas), or only what stick5
// reads of them (convert_batch).
enum JointNeed { kAllJoints, kBodyJoints, kStickJoints };

// The kinematic tree from parents [J] (host), computing the joints of `need`.
inline Skeleton make_skeleton(const HostIndex& parents, int64_t num_joints, JointNeed need, const char* op) {
  require(num_joints >= 1 && num_joints <= kMaxJoints, op,
          "the skeleton must have 1.." + std::to_string(kMaxJoints) + " joints, got " + std::to_string(num_joints));
  require(parents.ndim() == 1 && dim(parents, 0) >= num_joints, op,
          "`parents` must be 1-D with at least " + std::to_string(num_joints) + " entries, got shape " +
              shape_str(parents));
  Skeleton skel{};
  skel.num_joints = static_cast<int32_t>(num_joints);
  const int64_t* p = parents.data();
  require(p[0] < 0, op, "`parents[0]` must be -1 (the root), got " + std::to_string(p[0]));
  skel.parents[0] = -1;
  for (int64_t j = 1; j < num_joints; ++j) {
    require(p[j] >= 0 && p[j] < j, op,
            "`parents` must satisfy 0 <= parents[j] < j for j >= 1; parents[" + std::to_string(j) +
                "] = " + std::to_string(p[j]));
    skel.parents[j] = static_cast<int32_t>(p[j]);
  }
  const uint64_t all = num_joints == 64 ? ~uint64_t(0) : (uint64_t(1) << num_joints) - 1;
  if (need == kAllJoints) {
    skel.need_pos = skel.need_rot = all;
    return skel;
  }
  if (need == kBodyJoints) {
    skel.need_pos = all;
  } else {
    for (int j : {kLHip, kRHip, kLAnkle, kRAnkle, kHead, kLShoulder, kRShoulder, kLWrist, kRWrist})
      for (int a = j; a >= 0; a = skel.parents[a]) skel.need_pos |= uint64_t(1) << a;
  }
  skel.need_rot = 1;  // the root's rotation starts the chain
  for (int j = 1; j < num_joints; ++j)
    if (has_bit(skel.need_pos, j)) skel.need_rot |= uint64_t(1) << skel.parents[j];
  return skel;
}

inline int checked_view_mode(int view_mode, const char* op) {
  require(view_mode == kViewFront || view_mode == kViewTop, op,
          "`view_mode` must be 0 (front-relative) or 1 (top), got " + std::to_string(view_mode));
  return view_mode;
}

// fk's inputs checked (out left null).
template <typename T, typename D>
FkBatch<T> fk_inputs(const char* op, const In<T, D>& poses, const In<T, D>& trans, const In<T, D>& rest,
                     const HostIndex& parents) {
  check_shape(rest, op, "rest_joints", {-1, 3});
  const int64_t J = dim(rest, 0);
  const Skeleton skel = make_skeleton(parents, J, kAllJoints, op);
  check_shape(poses, op, "poses", {-1, -1});
  const int64_t F = dim(poses, 0);
  require(dim(poses, 1) >= 3 * J, op, "`poses` needs >= 3 * J = " + std::to_string(3 * J) + " columns, got " +
                                          std::to_string(dim(poses, 1)));
  check_shape(trans, op, "trans", {F, 3});
  return {poses.data(), dim(poses, 1), trans.data(), rest.data(), skel, F, nullptr};
}

template <typename T, typename D>
FkBatch<T> fk_batch(const In<T, D>& poses, const In<T, D>& trans, const In<T, D>& rest, const HostIndex& parents,
                    const Out<T, D>& out) {
  FkBatch<T> a = fk_inputs<T, D>("fk", poses, trans, rest, parents);
  check_shape(out, "fk", "out", {a.num_frames, a.skel.num_joints, 3});
  a.out = out.data();
  return a;
}

// fk's backward: fk's inputs, grad_out [F, J, 3] -> grad_poses [F, P], grad_trans [F, 3] and, if given (not
// None), grad_rest [F, J, 3] per frame.
template <typename T, typename D>
FkBackwardBatch<T> fk_backward_batch(const In<T, D>& poses, const In<T, D>& trans, const In<T, D>& rest,
                                     const HostIndex& parents, const In<T, D>& grad_out, const Out<T, D>& grad_poses,
                                     const Out<T, D>& grad_trans, const Out<T, D>& grad_rest) {
  const char* op = "fk_backward";
  FkBackwardBatch<T> b{};
  b.fwd = fk_inputs<T, D>(op, poses, trans, rest, parents);
  const int64_t F = b.fwd.num_frames, J = b.fwd.skel.num_joints;
  check_shape(grad_out, op, "grad_out", {F, J, 3});
  check_shape(grad_poses, op, "grad_poses", {F, b.fwd.pose_stride});
  check_shape(grad_trans, op, "grad_trans", {F, 3});
  b.grad_out = grad_out.data();
  b.grad_poses = grad_poses.data();
  b.grad_trans = grad_trans.data();
  if (grad_rest.is_valid()) {
    check_shape(grad_rest, op, "grad_rest", {F, J, 3});
    b.grad_rest = grad_rest.data();
  }
  return b;
}

template <typename T, typename D>
ResampleBatch<T> resample_batch(const In<T, D>& poses, const In<T, D>& trans, double src_fps, double dst_fps,
                                const Out<T, D>& out_poses, const Out<T, D>& out_trans) {
  const char* op = "resample_poses";
  check_shape(poses, op, "poses", {-1, -1});
  const int64_t F = dim(poses, 0), P = dim(poses, 1);
  require(F >= 1, op, "`poses` has no frames");
  require(P % 3 == 0, op, "`poses` must have 3 values per rotation, got " + std::to_string(P) + " columns");
  require(positive_finite(src_fps) && positive_finite(dst_fps), op, "frame rates must be positive and finite");
  check_shape(trans, op, "trans", {F, 3});
  const int64_t T_out = resampled_length(F, src_fps, dst_fps);
  check_shape(out_poses, op, "out_poses", {T_out, P});
  check_shape(out_trans, op, "out_trans", {T_out, 3});
  return {poses.data(), P, trans.data(), F, static_cast<int>(P / 3), src_fps, dst_fps, T_out, out_poses.data(),
          out_trans.data()};
}

// The sequences and clip windows of convert_batch and convert_joints_batch (C clips of W frames): shapes only;
// contents (offsets, clip windows) by check_clip_contents where they are on the host.
template <typename T, typename D, typename IndexArray, typename DoubleArray>
ClipBatch<T> clip_sources(const char* op, const In<T, D>& poses, const In<T, D>& trans,
                          const IndexArray& seq_offsets, const DoubleArray& seq_fps, const In<T, D>& rest,
                          const HostIndex& parents, const IndexArray& clip_seq, const IndexArray& clip_start,
                          const IndexArray& clip_len, double dst_fps, int64_t C, int64_t W, JointNeed need) {
  check_shape(poses, op, "poses", {-1, -1});
  const int64_t N = dim(poses, 0);
  require(dim(poses, 1) >= 3 * kNumBodyJoints, op,
          "`poses` needs >= 66 columns (the 22 body joints), got " + std::to_string(dim(poses, 1)));
  check_shape(trans, op, "trans", {N, 3});
  check_shape(seq_offsets, op, "seq_offsets", {-1});
  const int64_t S = dim(seq_offsets, 0) - 1;
  require(S >= 0, op, "`seq_offsets` must have S + 1 >= 1 entries");
  check_shape(seq_fps, op, "seq_fps", {S});
  check_shape(rest, op, "rest_joints", {S, -1, 3});
  require(dim(rest, 1) >= kNumBodyJoints, op,
          "`rest_joints` needs >= 22 joints per sequence, got " + std::to_string(dim(rest, 1)));
  require(W >= 1, op, "the window must be >= 1 frame");
  check_shape(clip_seq, op, "clip_seq", {C});
  check_shape(clip_start, op, "clip_start", {C});
  check_shape(clip_len, op, "clip_len", {C});
  require(positive_finite(dst_fps), op, "`dst_fps` must be positive and finite");
  ClipBatch<T> a{};
  a.poses = poses.data();
  a.pose_stride = dim(poses, 1);
  a.trans = trans.data();
  a.seq_offsets = seq_offsets.data();
  a.seq_fps = seq_fps.data();
  a.rest = rest.data();
  a.rest_stride = 3 * dim(rest, 1);
  a.skel = make_skeleton(parents, kNumBodyJoints, need, op);
  a.dst_fps = dst_fps;
  a.clip_seq = clip_seq.data();
  a.clip_start = clip_start.data();
  a.clip_len = clip_len.data();
  a.num_clips = C;
  a.window = W;
  return a;
}

// convert_batch: shapes only (see clip_sources).
template <typename T, typename D, typename IndexArray, typename DoubleArray>
ClipBatch<T> convert_batch_args(const In<T, D>& poses, const In<T, D>& trans, const IndexArray& seq_offsets,
                                const DoubleArray& seq_fps, const In<T, D>& rest, const HostIndex& parents,
                                const IndexArray& clip_seq, const IndexArray& clip_start, const IndexArray& clip_len,
                                const DoubleArray& clip_yaw, double dst_fps, int view_mode, const Out<T, D>& out) {
  const char* op = "convert_batch";
  check_shape(out, op, "out", {-1, -1, kStickDim});
  const int64_t C = dim(out, 0), W = dim(out, 1);
  ClipBatch<T> a = clip_sources<T, D>(op, poses, trans, seq_offsets, seq_fps, rest, parents, clip_seq, clip_start,
                                      clip_len, dst_fps, C, W, kStickJoints);
  check_shape(clip_yaw, op, "clip_yaw", {C});
  a.clip_yaw = clip_yaw.data();
  a.view_mode = checked_view_mode(view_mode, op);
  a.out = out.data();
  return a;
}

// convert_joints_batch: the sources of convert_batch, then clip_scale f64 [C], clip_camera f64 [C, 6], up (0: z,
// 1: y) and out [C, window, 22, 3] (joints3d) or [C, window, 22, 2] (joints2d). Shapes only.
template <typename T, typename D, typename IndexArray, typename DoubleArray>
JointBatch<T> joint_batch_sources(const char* op, const In<T, D>& poses, const In<T, D>& trans,
                                  const IndexArray& seq_offsets, const DoubleArray& seq_fps, const In<T, D>& rest,
                                  const HostIndex& parents, const IndexArray& clip_seq, const IndexArray& clip_start,
                                  const IndexArray& clip_len, const DoubleArray& clip_scale,
                                  const DoubleArray& clip_camera, double dst_fps, int up, int64_t C, int64_t W,
                                  int64_t D3, const char* out_name) {
  require(D3 == 2 || D3 == 3, op,
          std::string("`") + out_name + "` must be [C, window, 22, 3] (joints3d) or [C, window, 22, 2] (joints2d)");
  JointBatch<T> b{};
  b.clips = clip_sources<T, D>(op, poses, trans, seq_offsets, seq_fps, rest, parents, clip_seq, clip_start, clip_len,
                               dst_fps, C, W, kBodyJoints);
  check_shape(clip_scale, op, "clip_scale", {C});
  check_shape(clip_camera, op, "clip_camera", {C, kCameraFields});
  require(up == kUpZ || up == kUpY, op, "`up` must be 0 (z) or 1 (y), got " + std::to_string(up));
  b.clip_scale = clip_scale.data();
  b.clip_camera = clip_camera.data();
  b.up = up;
  b.out_dim = static_cast<int>(D3);
  return b;
}

template <typename T, typename D, typename IndexArray, typename DoubleArray>
JointBatch<T> convert_joints_batch_args(const In<T, D>& poses, const In<T, D>& trans, const IndexArray& seq_offsets,
                                        const DoubleArray& seq_fps, const In<T, D>& rest, const HostIndex& parents,
                                        const IndexArray& clip_seq, const IndexArray& clip_start,
                                        const IndexArray& clip_len, const DoubleArray& clip_scale,
                                        const DoubleArray& clip_camera, double dst_fps, int up,
                                        const Out<T, D>& out) {
  const char* op = "convert_joints_batch";
  check_shape(out, op, "out", {-1, -1, kNumBodyJoints, -1});
  JointBatch<T> b = joint_batch_sources<T, D>(op, poses, trans, seq_offsets, seq_fps, rest, parents, clip_seq,
                                              clip_start, clip_len, clip_scale, clip_camera, dst_fps, up,
                                              dim(out, 0), dim(out, 1), dim(out, 3), "out");
  b.out = out.data();
  return b;
}

// convert_joints_batch's backward: its inputs, grad_out [C, window, 22, 3 or 2] -> grad_poses [N, P] and
// grad_trans [N, 3] (zeroed here by the caller's launch). Scratch pointers are the caller's. Shapes only.
template <typename T, typename D, typename IndexArray, typename DoubleArray>
JointBackwardBatch<T> convert_joints_backward_args(const In<T, D>& poses, const In<T, D>& trans,
                                                   const IndexArray& seq_offsets, const DoubleArray& seq_fps,
                                                   const In<T, D>& rest, const HostIndex& parents,
                                                   const IndexArray& clip_seq, const IndexArray& clip_start,
                                                   const IndexArray& clip_len, const DoubleArray& clip_scale,
                                                   const DoubleArray& clip_camera, double dst_fps, int up,
                                                   const In<T, D>& grad_out, const Out<T, D>& grad_poses,
                                                   const Out<T, D>& grad_trans) {
  const char* op = "convert_joints_batch_backward";
  check_shape(grad_out, op, "grad_out", {-1, -1, kNumBodyJoints, -1});
  JointBackwardBatch<T> bb{};
  bb.fwd = joint_batch_sources<T, D>(op, poses, trans, seq_offsets, seq_fps, rest, parents, clip_seq, clip_start,
                                     clip_len, clip_scale, clip_camera, dst_fps, up, dim(grad_out, 0),
                                     dim(grad_out, 1), dim(grad_out, 3), "grad_out");
  check_shape(grad_poses, op, "grad_poses", {dim(poses, 0), dim(poses, 1)});
  check_shape(grad_trans, op, "grad_trans", {dim(poses, 0), 3});
  bb.grad_out = grad_out.data();
  bb.grad_poses = grad_poses.data();
  bb.grad_trans = grad_trans.data();
  return bb;
}

// Contents of a host-side batch: each sequence non-empty with a positive rate, every clip inside its sequence.
template <typename T>
void check_clip_contents(const ClipBatch<T>& a, int64_t num_seqs, int64_t num_frames) {
  const char* op = "convert_batch";
  require(a.seq_offsets[0] >= 0 && a.seq_offsets[num_seqs] <= num_frames, op,
          "`seq_offsets` must lie within 0.." + std::to_string(num_frames) + " (the rows of poses)");
  for (int64_t s = 0; s < num_seqs; ++s) {
    require(a.seq_offsets[s + 1] > a.seq_offsets[s], op,
            "`seq_offsets` must be strictly increasing (every sequence >= 1 frame); sequence " + std::to_string(s) +
                " is empty or reversed");
    require(positive_finite(a.seq_fps[s]), op, "`seq_fps[" + std::to_string(s) + "]` must be positive and finite");
  }
  for (int64_t c = 0; c < a.num_clips; ++c) {
    const int64_t s = a.clip_seq[c];
    const std::string clip = "clip " + std::to_string(c);
    require(s >= 0 && s < num_seqs, op, clip + ": `clip_seq` = " + std::to_string(s) + " is not a sequence index");
    require(a.clip_len[c] >= 1 && a.clip_len[c] <= a.window, op,
            clip + ": `clip_len` must be in 1..window = " + std::to_string(a.window));
    const int64_t frames = a.seq_offsets[s + 1] - a.seq_offsets[s];
    // The length as a double first: a tiny rate would make it overflow int64 (undefined behaviour).
    const double span = static_cast<double>(frames - 1) * a.dst_fps / a.seq_fps[s];
    require(span < 2147483648.0, op,
            clip + ": `seq_fps[" + std::to_string(s) + "]` makes more than 2^31 resampled frames");
    const int64_t T_s = resampled_length(frames, a.seq_fps[s], a.dst_fps);
    // Overflow-safe: clip_start + clip_len would wrap around for a start near 2^63 (clip_len <= window here).
    require(a.clip_start[c] >= 0 && a.clip_start[c] <= T_s - a.clip_len[c], op,
            clip + ": `clip_start` = " + std::to_string(a.clip_start[c]) + " with `clip_len` = " +
                std::to_string(a.clip_len[c]) + " lies outside its sequence's " + std::to_string(T_s) +
                " resampled frames");
  }
}

template <typename T, typename D>
ClipBatch<T> project_args(const In<T, D>& joints, double yaw_deg, int view_mode, const Out<T, D>& out) {
  const char* op = "project";
  check_shape(joints, op, "joints", {-1, -1, 3});
  const int64_t F = dim(joints, 0);
  require(F >= 1, op, "`joints` has no frames");
  require(dim(joints, 1) >= kNumBodyJoints, op,
          "`joints` needs >= 22 joints per frame, got " + std::to_string(dim(joints, 1)));
  check_shape(out, op, "out", {F, kStickDim});
  ClipBatch<T> a{};
  a.joints = joints.data();
  a.joint_stride = 3 * dim(joints, 1);
  require(std::isfinite(yaw_deg), op, "`yaw_deg` must be finite");
  a.num_clips = 1;
  a.window = F;
  a.yaw_deg = yaw_deg;  // clip_len and clip_yaw stay nullptr: one clip of all F frames
  a.view_mode = checked_view_mode(view_mode, op);
  a.out = out.data();
  return a;
}

}  // namespace af::bind
