// The prepared records of amass_fast.kernels.prepared read in C++, for the nanobind modules _core (device::cpu)
// and _cuda (device::cuda): one reader per record kind takes the record's fields by name, checks them and returns
// the batch struct of amass_math.h. A record is any object with those attributes (prepared's NamedTuples; tests
// build their own). Arrays are taken as they are, never converted: a wrong dtype, layout or device is a TypeError
// naming the field. `parents` is a host array in both modules; the other arrays are on the module's device. A
// batch struct points into the record's arrays, which the record keeps alive for the call. The Python side checks
// the same things first with friendlier messages; these checks keep direct callers from reading out of bounds.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cmath>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <unordered_map>

#include "amass_math.h"

namespace af::bind {

namespace nb = nanobind;

template <typename T, typename Device>
using In = nb::ndarray<const T, nb::c_contig, Device>;
template <typename T, typename Device>
using Out = nb::ndarray<T, nb::c_contig, Device>;
using Host = nb::device::cpu;
using HostIndex = In<int64_t, Host>;

[[noreturn]] inline void fail(const std::string& message) { throw nb::value_error(message.c_str()); }

inline void require(bool ok, const char* op, const std::string& message) {
  if (!ok) fail(std::string(op) + ": " + message);
}

// The op a reader checks for (in its messages) and the device of the arrays read so far: all must be on one.
template <typename Device>
struct Reader {
  const char* op;
  int32_t device = -1;
};

template <typename T>
constexpr const char* dtype_name() {
  if constexpr (std::is_same_v<T, float>) return "float32";
  else if constexpr (std::is_same_v<T, double>) return "float64";
  else return "int64";
}

// Field `name` (a string literal) of `record`. Each name's Python string is made once, then kept for good (the
// GIL guards the table).
inline nb::object field(nb::handle record, const char* name) {
  static std::unordered_map<const char*, PyObject*> strings;
  PyObject*& key = strings[name];
  if (!key) key = PyUnicode_InternFromString(name);
  PyObject* value = key ? PyObject_GetAttr(record.ptr(), key) : nullptr;
  if (!value) throw nb::python_error();
  return nb::steal(value);
}

// `value` (field `name`) as the array type A, without conversion.
template <typename A, typename Device>
A cast_array(const char* op, nb::handle value, const char* name) {
  A a;
  if (!nb::try_cast(value, a, false)) {
    using T = std::remove_const_t<typename A::Scalar>;
    throw nb::type_error((std::string(op) + ": `" + name + "` must be a C-contiguous" +
                          (std::is_const_v<typename A::Scalar> ? " " : ", writeable ") + dtype_name<T>() +
                          " array on " + (std::is_same_v<Device, Host> ? "the host" : "a CUDA device") + ", got " +
                          nb::type_name(value.type()).c_str())
                             .c_str());
  }
  return a;
}

// `a` (field `name`), on the device of the arrays read before it.
template <typename A, typename Device>
A on_device(Reader<Device>& r, A a, const char* name) {
  if (r.device < 0) r.device = a.device_id();
  if (a.device_id() != r.device)
    fail(std::string(r.op) + ": `" + name + "` is on another device: all arrays must be on the same CUDA device");
  return a;
}

// An input array: field `name` of `record`.
template <typename T, typename Device>
In<T, Device> input(Reader<Device>& r, nb::handle record, const char* name) {
  return on_device(r, cast_array<In<T, Device>, Device>(r.op, field(record, name), name), name);
}

// An output array: `value` itself (named `name`).
template <typename T, typename Device>
Out<T, Device> as_output(Reader<Device>& r, nb::handle value, const char* name) {
  return on_device(r, cast_array<Out<T, Device>, Device>(r.op, value, name), name);
}

// An output array: field `name` of `record`.
template <typename T, typename Device>
Out<T, Device> output(Reader<Device>& r, nb::handle record, const char* name) {
  return as_output<T>(r, field(record, name), name);
}

// `parents`: host int64 [>= J] in every module.
template <typename Device>
HostIndex host_parents(Reader<Device>& r, nb::handle record) {
  return cast_array<HostIndex, Host>(r.op, field(record, "parents"), "parents");
}

// A number field (float or int) as S.
template <typename S, typename Device>
S number(Reader<Device>& r, nb::handle record, const char* name) {
  S s;
  if (!nb::try_cast(field(record, name), s))
    throw nb::type_error((std::string(r.op) + ": `" + name + "` must be a number").c_str());
  return s;
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

// Which joints' positions a skeleton computes: all of them (fk; the joints schemas, whose skeleton is the 22 body
// joints), or only what stick5 reads of them (convert_batch). Either way a rotation is computed only where a
// computed child needs it: a leaf's own rotation moves no joint.
enum JointNeed { kAllJoints, kStickJoints };

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
  if (need == kAllJoints) {
    skel.need_pos = num_joints == 64 ? ~uint64_t(0) : (uint64_t(1) << num_joints) - 1;
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

// Calls f64(p, args...) where the record's float array `main` holds float64, else f32 (whose reader names any
// other dtype): an entry point of both dtypes.
template <typename... Args>
auto by_dtype(const char* main, void (*f32)(nb::handle, Args...), void (*f64)(nb::handle, Args...)) {
  return [main, f32, f64](nb::handle p, Args... args) {
    nb::ndarray<> a;
    const bool is_f64 = nb::try_cast(field(p, main), a, false) && a.dtype() == nb::dtype<double>();
    (is_f64 ? f64 : f32)(p, args...);
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The readers, one per record of amass_fast.kernels.prepared (named after it), each returning its batch struct.

// Fk's inputs (out left null): poses [F, >=3J], trans [F, 3], rest_joints [J, 3], parents [>=J].
template <typename T, typename D>
FkBatch<T> fk_inputs(Reader<D>& r, nb::handle p) {
  const In<T, D> poses = input<T>(r, p, "poses"), trans = input<T>(r, p, "trans"),
                 rest = input<T>(r, p, "rest_joints");
  check_shape(rest, r.op, "rest_joints", {-1, 3});
  const int64_t J = dim(rest, 0);
  const Skeleton skel = make_skeleton(host_parents(r, p), J, kAllJoints, r.op);
  check_shape(poses, r.op, "poses", {-1, -1});
  const int64_t F = dim(poses, 0);
  require(dim(poses, 1) >= 3 * J, r.op, "`poses` needs >= 3 * J = " + std::to_string(3 * J) + " columns, got " +
                                            std::to_string(dim(poses, 1)));
  check_shape(trans, r.op, "trans", {F, 3});
  return {poses.data(), dim(poses, 1), trans.data(), rest.data(), skel, F, nullptr};
}

// Fk: fk's inputs -> out [F, J, 3].
template <typename T, typename D>
FkBatch<T> fk_batch(Reader<D>& r, nb::handle p) {
  FkBatch<T> a = fk_inputs<T>(r, p);
  const Out<T, D> out = output<T>(r, p, "out");
  check_shape(out, r.op, "out", {a.num_frames, a.skel.num_joints, 3});
  a.out = out.data();
  return a;
}

// FkBackward: fwd (an Fk), grad_out [F, J, 3] -> grad_poses [F, P], grad_trans [F, 3] and, unless None,
// grad_rest [F, J, 3] per frame.
template <typename T, typename D>
FkBackwardBatch<T> fk_backward_batch(Reader<D>& r, nb::handle p) {
  FkBackwardBatch<T> b{};
  b.fwd = fk_inputs<T>(r, field(p, "fwd"));
  const int64_t F = b.fwd.num_frames, J = b.fwd.skel.num_joints;
  const In<T, D> grad_out = input<T>(r, p, "grad_out");
  const Out<T, D> grad_poses = output<T>(r, p, "grad_poses"), grad_trans = output<T>(r, p, "grad_trans");
  check_shape(grad_out, r.op, "grad_out", {F, J, 3});
  check_shape(grad_poses, r.op, "grad_poses", {F, b.fwd.pose_stride});
  check_shape(grad_trans, r.op, "grad_trans", {F, 3});
  b.grad_out = grad_out.data();
  b.grad_poses = grad_poses.data();
  b.grad_trans = grad_trans.data();
  const nb::object rest = field(p, "grad_rest");
  if (!rest.is_none()) {
    const Out<T, D> grad_rest = as_output<T>(r, rest, "grad_rest");
    check_shape(grad_rest, r.op, "grad_rest", {F, J, 3});
    b.grad_rest = grad_rest.data();
  }
  return b;
}

// Resample: poses [F, P], trans [F, 3], src_fps, dst_fps -> out_poses [T, P], out_trans [T, 3].
template <typename T, typename D>
ResampleBatch<T> resample_batch(Reader<D>& r, nb::handle p) {
  const In<T, D> poses = input<T>(r, p, "poses"), trans = input<T>(r, p, "trans");
  const Out<T, D> out_poses = output<T>(r, p, "out_poses"), out_trans = output<T>(r, p, "out_trans");
  const double src_fps = number<double>(r, p, "src_fps"), dst_fps = number<double>(r, p, "dst_fps");
  check_shape(poses, r.op, "poses", {-1, -1});
  const int64_t F = dim(poses, 0), P = dim(poses, 1);
  require(F >= 1, r.op, "`poses` has no frames");
  require(P % 3 == 0, r.op, "`poses` must have 3 values per rotation, got " + std::to_string(P) + " columns");
  require(positive_finite(src_fps) && positive_finite(dst_fps), r.op, "frame rates must be positive and finite");
  check_shape(trans, r.op, "trans", {F, 3});
  const int64_t T_out = resampled_length(F, src_fps, dst_fps);
  check_shape(out_poses, r.op, "out_poses", {T_out, P});
  check_shape(out_trans, r.op, "out_trans", {T_out, 3});
  return {poses.data(), P, trans.data(), F, static_cast<int>(P / 3), src_fps, dst_fps, T_out, out_poses.data(),
          out_trans.data()};
}

// Project: joints [F, >=22, 3], yaw_deg, view_mode -> out [F, 20], as one clip of F frames (clip_len and
// clip_yaw null).
template <typename T, typename D>
ClipBatch<T> project_batch(Reader<D>& r, nb::handle p) {
  const In<T, D> joints = input<T>(r, p, "joints");
  const Out<T, D> out = output<T>(r, p, "out");
  check_shape(joints, r.op, "joints", {-1, -1, 3});
  const int64_t F = dim(joints, 0);
  require(F >= 1, r.op, "`joints` has no frames");
  require(dim(joints, 1) >= kNumBodyJoints, r.op,
          "`joints` needs >= 22 joints per frame, got " + std::to_string(dim(joints, 1)));
  check_shape(out, r.op, "out", {F, kStickDim});
  ClipBatch<T> a{};
  a.joints = joints.data();
  a.joint_stride = 3 * dim(joints, 1);
  a.yaw_deg = number<double>(r, p, "yaw_deg");
  require(std::isfinite(a.yaw_deg), r.op, "`yaw_deg` must be finite");
  a.num_clips = 1;
  a.window = F;
  a.view_mode = checked_view_mode(number<int>(r, p, "view_mode"), r.op);
  a.out = out.data();
  return a;
}

// ClipBatch (C clips of W frames, the sizes of the output): poses [N, >=66], trans [N, 3], seq_offsets [S + 1],
// seq_fps [S], rest_joints [S, >=22, 3], parents [>=22], clip_seq / clip_start / clip_len [C], dst_fps. Contents
// (offsets, clip windows) are checked too where they are on the host.
template <typename T, typename D>
ClipBatch<T> clip_sources(Reader<D>& r, nb::handle batch, int64_t C, int64_t W, JointNeed need) {
  const char* op = r.op;
  const In<T, D> poses = input<T>(r, batch, "poses"), trans = input<T>(r, batch, "trans"),
                 rest = input<T>(r, batch, "rest_joints");
  const In<int64_t, D> seq_offsets = input<int64_t>(r, batch, "seq_offsets"),
                       clip_seq = input<int64_t>(r, batch, "clip_seq"),
                       clip_start = input<int64_t>(r, batch, "clip_start"),
                       clip_len = input<int64_t>(r, batch, "clip_len");
  const In<double, D> seq_fps = input<double>(r, batch, "seq_fps");
  const double dst_fps = number<double>(r, batch, "dst_fps");
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
  a.skel = make_skeleton(host_parents(r, batch), kNumBodyJoints, need, op);
  a.dst_fps = dst_fps;
  a.clip_seq = clip_seq.data();
  a.clip_start = clip_start.data();
  a.clip_len = clip_len.data();
  a.num_clips = C;
  a.window = W;
  if constexpr (std::is_same_v<D, Host>) check_clip_contents(a, S, N);
  return a;
}

// StickBatch (convert_batch): batch, clip_yaw f64 [C], view_mode -> out [C, window, 20].
template <typename T, typename D>
ClipBatch<T> stick_batch(Reader<D>& r, nb::handle p) {
  const Out<T, D> out = output<T>(r, p, "out");
  check_shape(out, r.op, "out", {-1, -1, kStickDim});
  const int64_t C = dim(out, 0);
  ClipBatch<T> a = clip_sources<T>(r, field(p, "batch"), C, dim(out, 1), kStickJoints);
  const In<double, D> clip_yaw = input<double>(r, p, "clip_yaw");
  check_shape(clip_yaw, r.op, "clip_yaw", {C});
  a.clip_yaw = clip_yaw.data();
  a.view_mode = checked_view_mode(number<int>(r, p, "view_mode"), r.op);
  a.out = out.data();
  return a;
}

// JointsBatch's inputs for an output (or its gradient) `out_name` [C, W, 22, D3]: batch, clip_scale f64 [C],
// clip_camera f64 [C, 6] (packed cameras), up (0: z, 1: y).
template <typename T, typename D>
JointBatch<T> joint_sources(Reader<D>& r, nb::handle p, int64_t C, int64_t W, int64_t D3, const char* out_name) {
  require(D3 == 2 || D3 == 3, r.op,
          std::string("`") + out_name + "` must be [C, window, 22, 3] (joints3d) or [C, window, 22, 2] (joints2d)");
  JointBatch<T> b{};
  b.clips = clip_sources<T>(r, field(p, "batch"), C, W, kAllJoints);
  const In<double, D> clip_scale = input<double>(r, p, "clip_scale"), clip_camera = input<double>(r, p, "clip_camera");
  check_shape(clip_scale, r.op, "clip_scale", {C});
  check_shape(clip_camera, r.op, "clip_camera", {C, kCameraFields});
  const int up = number<int>(r, p, "up");
  require(up == kUpZ || up == kUpY, r.op, "`up` must be 0 (z) or 1 (y), got " + std::to_string(up));
  b.clip_scale = clip_scale.data();
  b.clip_camera = clip_camera.data();
  b.up = up;
  b.out_dim = static_cast<int>(D3);
  return b;
}

// JointsBatch (convert_joints_batch) -> out [C, window, 22, 3] (joints3d) or [C, window, 22, 2] (joints2d).
template <typename T, typename D>
JointBatch<T> joints_batch(Reader<D>& r, nb::handle p) {
  const Out<T, D> out = output<T>(r, p, "out");
  check_shape(out, r.op, "out", {-1, -1, kNumBodyJoints, -1});
  JointBatch<T> b = joint_sources<T>(r, p, dim(out, 0), dim(out, 1), dim(out, 3), "out");
  b.out = out.data();
  return b;
}

// JointsBackward (convert_joints_batch_backward): fwd (a JointsBatch, its `out` unused), grad_out [C, window, 22,
// 3 or 2] -> grad_poses [N, P], grad_trans [N, 3]; num_rows is set to N. Scratch pointers are the caller's.
template <typename T, typename D>
JointBackwardBatch<T> joints_backward_batch(Reader<D>& r, nb::handle p, int64_t& num_rows) {
  const In<T, D> grad_out = input<T>(r, p, "grad_out");
  const Out<T, D> grad_poses = output<T>(r, p, "grad_poses"), grad_trans = output<T>(r, p, "grad_trans");
  check_shape(grad_out, r.op, "grad_out", {-1, -1, kNumBodyJoints, -1});
  const nb::object fwd = field(p, "fwd");
  JointBackwardBatch<T> bb{};
  bb.fwd = joint_sources<T>(r, fwd, dim(grad_out, 0), dim(grad_out, 1), dim(grad_out, 3), "grad_out");
  num_rows = dim(input<T>(r, field(fwd, "batch"), "poses"), 0);
  check_shape(grad_poses, r.op, "grad_poses", {num_rows, bb.fwd.clips.pose_stride});
  check_shape(grad_trans, r.op, "grad_trans", {num_rows, 3});
  bb.grad_out = grad_out.data();
  bb.grad_poses = grad_poses.data();
  bb.grad_trans = grad_trans.data();
  return bb;
}

}  // namespace af::bind
