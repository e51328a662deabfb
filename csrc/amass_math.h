// Per-frame math of the hot path, shared by the CPU loops (core_module.cpp) and the CUDA kernels (kernels.cuh).
//
// This header mirrors amass_fast/kernels/reference.py function by function, with the same names:
//   rodrigues_terms, rodrigues, aa_to_quat, quat_slerp, quat_to_mat, quat_to_aa, joint_chain, resampled_length, source_position,
//   interpolate_frame, stick_keypoints, clip_camera, project_keypoints, rodrigues_backward, joint_chain_backward
// plus three per-output-frame compositions used by both backends (fk_frame, resample_frame, output_keypoints).
//
// Lanes: the rotation and chain math (sincos_poly, aa_to_quat, quat_slerp, quat_to_mat, mat_mul, joint_chain,
// stick_keypoints, posed_keypoints) is written once for a lane value V: either the scalar T (one output frame: a
// CUDA thread, the grid shim, fk, resample) or, on the host, a GCC vector of several output frames (structure of
// arrays across frames, core_module.cpp). Branches become selects (`mask ? a : b` works for both); the only data-
// dependent branch left is slerp's trigonometric path for rotations more than ~52 degrees apart (never between
// consecutive mocap frames), taken lane by lane. Scalar and vector runs of the same op give bit-identical results
// (no FMA contraction: CMakeLists.txt builds with -ffp-contract=off).
//
// Everything is templated on the float type T of the data (float or double). Time and index math
// (resampled_length, source_position) is double always, so rates like 59.99999 fps do not drift in float32.
// No allocation, no exceptions, no globals: every function runs unchanged on the host and on the device.
#pragma once

#include <math.h>
#include <stdint.h>

#include <type_traits>
#include <utility>

#if defined(__CUDACC__)
#define AF_HD __host__ __device__ __forceinline__
#else
#define AF_HD inline
#endif

namespace af {

constexpr int kMaxJoints = 64;  // longest skeleton a chain may have (SMPL-X has 55)
constexpr int kNumBodyJoints = 22;
constexpr int kNumKeypoints = 8;
constexpr int kStickDim = 20;

// Same constants as reference.py.
constexpr double kSmallAngle = 1e-4;
// At or above this quaternion dot product (rotations up to ~52 degrees apart: consecutive mocap frames) slerp's
// weights come from a series with no trigonometry (slerp_weight), exact to the type's rounding.
constexpr double kSlerpSeriesDot = 0.9;
constexpr double kLengthEps = 1e-6;

enum ViewMode : int { kViewFront = 0, kViewTop = 1 };

// SMPL joint indices used by stick5.
constexpr int kPelvis = 0, kLHip = 1, kRHip = 2, kLAnkle = 7, kRAnkle = 8, kHead = 15;
constexpr int kLShoulder = 16, kRShoulder = 17, kLWrist = 20, kRWrist = 21;
// Rows of the keypoint record written by stick_keypoints.
constexpr int kKpHead = 0, kKpNeck = 1, kKpLWrist = 2, kKpRWrist = 3, kKpPelvis = 4, kKpLAnkle = 5, kKpRAnkle = 6,
              kKpLeftAxis = 7;

// ---------------------------------------------------------------------------------------------------------------
// Small helpers: libm calls picked by type (sinf for float), so device code never silently promotes to double.

AF_HD float msin(float x) { return sinf(x); }
AF_HD double msin(double x) { return sin(x); }
AF_HD float mcos(float x) { return cosf(x); }
AF_HD double mcos(double x) { return cos(x); }
AF_HD float macos(float x) { return acosf(x); }
AF_HD double macos(double x) { return acos(x); }
AF_HD float msqrt(float x) { return sqrtf(x); }
AF_HD double msqrt(double x) { return sqrt(x); }
AF_HD float matan2(float y, float x) { return atan2f(y, x); }
AF_HD double matan2(double y, double x) { return atan2(y, x); }
// sin and cos of one angle in one call (CUDA and glibc have sincos; elsewhere two calls).
#if defined(__CUDACC__) || defined(__GLIBC__)
AF_HD void msincos(float x, float* s, float* c) { sincosf(x, s, c); }
AF_HD void msincos(double x, double* s, double* c) { sincos(x, s, c); }
#else
AF_HD void msincos(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
AF_HD void msincos(double x, double* s, double* c) { *s = sin(x); *c = cos(x); }
#endif

// ---------------------------------------------------------------------------------------------------------------
// Lanes (see the top of the file). elem_t<V>: the float type of a lane value (V itself for scalars).

template <typename V, typename = void>
struct Elem {
  using type = V;
};
template <typename V>
struct Elem<V, std::void_t<decltype(std::declval<V>()[0])>> {
  using type = std::decay_t<decltype(std::declval<V>()[0])>;
};
template <typename V>
using elem_t = typename Elem<V>::type;

// A lane value with every lane x (V{} is all zeros for vectors and 0 for scalars).
template <typename V>
AF_HD V splat(elem_t<V> x) {
  return V{} + x;
}

// Scalar lanes: masks are bool.
AF_HD float vsqrt(float x) { return msqrt(x); }
AF_HD double vsqrt(double x) { return msqrt(x); }
AF_HD bool all_lanes(bool m) { return m; }
template <typename T>
AF_HD void slerp_trig_weights(T d, T alpha, T& w0, T& w1);
template <typename T>
AF_HD void fix_far_lanes(bool far, T d, T alpha, T& w0, T& w1) {
  if (far) slerp_trig_weights(d, alpha, w0, w1);
}

#if !defined(__CUDACC__)
// Host vector lanes: GCC vector extensions (SSE/AVX/AVX-512 as the build targets); masks are integer vectors.
template <typename T, int N>
struct VecOf {
  typedef T type __attribute__((vector_size(N * sizeof(T))));
};
template <typename V>
constexpr int lanes_of() {
  return static_cast<int>(sizeof(V) / sizeof(elem_t<V>));
}
template <typename V, typename = std::enable_if_t<!std::is_arithmetic<V>::value>>
inline V vsqrt(V v) {
  V r;
  for (int i = 0; i < lanes_of<V>(); ++i) r[i] = msqrt(v[i]);  // one vsqrtps/vsqrtpd: IEEE, as the scalar
  return r;
}
template <typename M, typename = std::enable_if_t<!std::is_arithmetic<M>::value>>
inline bool all_lanes(M m) {
  bool all = true;
  for (int i = 0; i < static_cast<int>(sizeof(M) / sizeof(m[0])); ++i) all &= m[i] != 0;
  return all;
}
// Lanes whose rotations are far apart take slerp's trigonometric path, one by one, with the scalar function.
template <typename M, typename V, typename = std::enable_if_t<!std::is_arithmetic<V>::value>>
inline void fix_far_lanes(M far, V d, V alpha, V& w0, V& w1) {
  for (int i = 0; i < lanes_of<V>(); ++i) {
    if (!far[i]) continue;
    elem_t<V> a, b;
    slerp_trig_weights<elem_t<V>>(d[i], alpha[i], a, b);
    w0[i] = a;
    w1[i] = b;
  }
}
#endif

// ---------------------------------------------------------------------------------------------------------------
// sin and cos by polynomials, branch-free (the same code for scalars and vectors; one sincos per call).
//
// x = n pi/2 + r with n = round(x 2/pi) (the float "magic number" rounding: exact for |x 2/pi| < 2^22 in float,
// 2^51 in double) and r = x - n pi/2 in three parts (Cody-Waite; each n * part is exact for |n| < 2^14 in float,
// 2^20 in double), so |r| <= pi/4; then minimax polynomials on [-pi/4, pi/4] (float: S. Moshier's Cephes sinf/cosf;
// double: fdlibm's __kernel_sin/__kernel_cos) and the quadrant n mod 4 picks and signs them.
// Error against the exact sin/cos (tests/kernels/test_native.py measures it): float <= 2 ulp of 1 for |x| <= 8192; double
// <= 2 ulp of 1 for |x| <= 1e5. Axis-angle rotations need |x| <= pi (half angles <= pi/2) for any real data;
// beyond the ranges above the result loses accuracy gradually.
template <typename T>
struct TrigConsts;
template <>
struct TrigConsts<float> {
  static constexpr float two_over_pi = 0.636619772367581343f, round_magic = 12582912.0f;  // 1.5 * 2^23
  static constexpr float pio2_1 = 1.5703125f, pio2_2 = 4.837512969970703125e-4f, pio2_3 = 7.54978995489188216e-8f;
  template <typename V>
  AF_HD static V sin_poly(V r, V z) {
    return r + r * z * (-1.6666654611e-1f + z * (8.3321608736e-3f + z * -1.9515295891e-4f));
  }
  template <typename V>
  AF_HD static V cos_poly(V z) {
    return 1.0f - 0.5f * z + z * z * (4.166664568298827e-2f + z * (-1.388731625493765e-3f + z * 2.443315711809948e-5f));
  }
};
template <>
struct TrigConsts<double> {
  static constexpr double two_over_pi = 0.636619772367581343, round_magic = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double pio2_1 = 1.57079632673412561417e+00, pio2_2 = 6.07710050630396597660e-11,
                          pio2_3 = 2.02226624871116645580e-21;
  template <typename V>
  AF_HD static V sin_poly(V r, V z) {
    return r + r * z * (-1.66666666666666324348e-01 +
                        z * (8.33333333332248946124e-03 +
                             z * (-1.98412698298579493134e-04 +
                                  z * (2.75573137070700676789e-06 +
                                       z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10)))));
  }
  template <typename V>
  AF_HD static V cos_poly(V z) {
    return 1.0 - 0.5 * z +
           z * z * (4.16666666666666019037e-02 +
                    z * (-1.38888888888741095749e-03 +
                         z * (2.48015872894767294178e-05 +
                              z * (-2.75573143513906633035e-07 +
                                   z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11)))));
  }
};

template <typename V>
AF_HD void sincos_poly(V x, V* s, V* c) {
  using T = elem_t<V>;
  using K = TrigConsts<T>;
  const V n = (x * K::two_over_pi + K::round_magic) - K::round_magic;
  const V r = ((x - n * K::pio2_1) - n * K::pio2_2) - n * K::pio2_3;
  const V z = r * r;
  const V sr = K::sin_poly(r, z), cr = K::cos_poly(z);
  const V h = n * T(0.25);
  V fl = (h + K::round_magic) - K::round_magic;
  fl = fl > h ? fl - T(1) : fl;  // floor(n / 4)
  const V q = n - T(4) * fl;     // n mod 4: 0..3
  const V ss = (q == T(1)) | (q == T(3)) ? cr : sr;
  const V cc = (q == T(1)) | (q == T(3)) ? sr : cr;
  *s = q >= T(2) ? -ss : ss;
  *c = (q == T(1)) | (q == T(2)) ? -cc : cc;
}

template <typename T>
struct Quat {
  T w, x, y, z;
};

template <typename T>
struct Mat3 {
  T m[9];  // row-major
};

// The kinematic tree of one call, passed by value (to kernels as an argument, no device array needed).
// need_pos / need_rot: bit j set when joint j's position / world rotation must be computed. fk and the joints
// schemas set every position and the rotations of the joints with children (a leaf's rotation moves no joint);
// stick5 sets only what it reads (its joints and their ancestors; rotations of their parents), which also skips
// the feet.
struct Skeleton {
  int32_t parents[kMaxJoints];
  int32_t num_joints;
  uint64_t need_pos;
  uint64_t need_rot;
};

AF_HD bool has_bit(uint64_t mask, int j) { return (mask >> j) & 1u; }

// ---------------------------------------------------------------------------------------------------------------
// Rotations.

// |aa|^2, |aa| and sin, cos of k |aa| (k = 1: rodrigues_terms; k = 1/2: aa_to_quat). k t is exact for
// k = 1 and 1/2, so each caller gets the bits it computed inline before.
template <typename V>
struct AxisAngle {
  V t2, t, s, c;
};
template <typename V>
AF_HD AxisAngle<V> axis_angle(V x, V y, V z, elem_t<V> k) {
  AxisAngle<V> r;
  r.t2 = x * x + y * y + z * z;
  r.t = vsqrt(r.t2);
  sincos_poly(k * r.t, &r.s, &r.c);
  return r;
}

// The coefficients of R(aa) and of its backward, t = |aa|: a = sin(t)/t, b = (1 - cos t)/t^2 (rodrigues) and
// c = (t - sin t)/t^3 (rodrigues_backward); below kSmallAngle their series (selects: the same code for one frame
// and for a lane group of frames). c is computed only when asked for (fk's backward keeps all three per joint).
template <typename V>
struct RodriguesTerms {
  V t2, a, b, c;  // t2 = |aa|^2
};
template <typename V>
AF_HD RodriguesTerms<V> rodrigues_terms(V x, V y, V z, bool with_c) {
  using T = elem_t<V>;
  const AxisAngle<V> g = axis_angle(x, y, z, T(1));
  const V t2 = g.t2, t = g.t, s = g.s, c = g.c;
  const auto small = t < T(kSmallAngle);
  const V one = splat<V>(T(1));
  RodriguesTerms<V> k;
  k.t2 = t2;
  k.a = small ? T(1) - t2 / T(6) : s / (small ? one : t);
  k.b = small ? T(0.5) - t2 / T(24) : (T(1) - c) / (small ? one : t2);
  k.c = with_c ? (small ? T(1) / T(6) - t2 / T(120) : (t - s) / (small ? one : t2 * t)) : splat<V>(T(0));
  return k;
}

// R = I + a S + b S^2, S = skew(aa), with a, b of rodrigues_terms; S^2 = aa aa^T - t^2 I.
template <typename V>
AF_HD Mat3<V> rodrigues(V x, V y, V z, const RodriguesTerms<V>& k) {
  using T = elem_t<V>;
  const V a = k.a, b = k.b;
  const V d = T(1) - b * k.t2;  // diagonal of I + b (aa aa^T - t^2 I), before adding b x^2 etc.
  Mat3<V> r;
  r.m[0] = d + b * x * x;
  r.m[1] = b * x * y - a * z;
  r.m[2] = b * x * z + a * y;
  r.m[3] = b * x * y + a * z;
  r.m[4] = d + b * y * y;
  r.m[5] = b * y * z - a * x;
  r.m[6] = b * x * z - a * y;
  r.m[7] = b * y * z + a * x;
  r.m[8] = d + b * z * z;
  return r;
}

template <typename V>
AF_HD Mat3<V> rodrigues(V x, V y, V z) {
  return rodrigues(x, y, z, rodrigues_terms(x, y, z, false));
}

// q = (cos(t/2), sin(t/2)/t * aa); below kSmallAngle sin(t/2)/t by its series (a select, no branch).
template <typename V>
AF_HD Quat<V> aa_to_quat(V x, V y, V z) {
  using T = elem_t<V>;
  const AxisAngle<V> h = axis_angle(x, y, z, T(0.5));
  const V s = h.t < T(kSmallAngle) ? T(0.5) - h.t2 / T(48) : h.s / h.t;
  return {h.c, s * x, s * y, s * z};
}

template <typename T>
AF_HD Quat<T> aa_to_quat(const T* aa) {
  return aa_to_quat(aa[0], aa[1], aa[2]);
}

// Terms of slerp_weight's series: max error 6e-16 in double, 2e-9 in float (reference.SLERP_SERIES_TERMS: 10).
template <typename T>
struct SlerpTerms {
  static constexpr int value = 10;
};
template <>
struct SlerpTerms<float> {
  static constexpr int value = 5;
};

// sin(a t) / sin t for x = cos t near 1, given xm1 = x - 1 (D. Eberly, "A Fast and Accurate Algorithm for Computing
// SLERP", 2011): a (1 + b_1 (1 + b_2 (1 + ...))) with b_i = (a^2 - i^2) / (i (2i + 1)) (x - 1). A fixed short loop
// of multiply-adds (unrolled by the compiler) instead of acos and sincos.
template <typename V>
AF_HD V slerp_weight(V a, V xm1) {
  using T = elem_t<V>;
  V f = a * T(0) + T(1);
  for (int i = SlerpTerms<T>::value; i >= 1; --i)
    f = T(1) + (a * a - T(i * i)) * T(1.0 / (i * (2 * i + 1))) * xm1 * f;
  return a * f;
}

// Slerp's weights by trigonometry, for rotations far apart (d < kSlerpSeriesDot): w1 = sin(a t) / sin t,
// w0 = sin((1-a) t) / sin t = cos(a t) - cos t w1, sin t = sqrt((1 - d)(1 + d)). Scalar: taken lane by lane.
template <typename T>
AF_HD void slerp_trig_weights(T d, T alpha, T& w0, T& w1) {
  const T theta = macos(d);
  const T sin_theta = msqrt((T(1) - d) * (T(1) + d));
  T s, c;
  msincos(alpha * theta, &s, &c);
  w1 = s / sin_theta;
  w0 = c - d * w1;
}

// Shortest-path slerp; alpha = 0 gives q0, alpha = 1 gives +-q1. Close rotations (d >= kSlerpSeriesDot, i.e. up
// to ~52 degrees apart: consecutive mocap frames) take the series, exact to the type's rounding, no
// trigonometry; lanes farther apart take slerp_trig_weights.
template <typename V>
AF_HD Quat<V> quat_slerp(const Quat<V>& q0, const Quat<V>& q1, V alpha) {
  using T = elem_t<V>;
  const V dot = q0.w * q1.w + q0.x * q1.x + q0.y * q1.y + q0.z * q1.z;
  const auto negative = dot < T(0);
  const V d = negative ? -dot : dot;
  V w0 = slerp_weight(T(1) - alpha, d - T(1));
  V w1 = slerp_weight(alpha, d - T(1));
  fix_far_lanes(d < T(kSlerpSeriesDot), d, alpha, w0, w1);
  w1 = negative ? -w1 : w1;
  const V w = w0 * q0.w + w1 * q1.w, x = w0 * q0.x + w1 * q1.x, y = w0 * q0.y + w1 * q1.y,
          z = w0 * q0.z + w1 * q1.z;
  const V inv = T(1) / vsqrt(w * w + x * x + y * y + z * z);
  return {w * inv, x * inv, y * inv, z * inv};
}

template <typename V>
AF_HD Mat3<V> quat_to_mat(const Quat<V>& q) {
  using T = elem_t<V>;
  const V w = q.w, x = q.x, y = q.y, z = q.z;
  Mat3<V> r;
  r.m[0] = T(1) - T(2) * (y * y + z * z);
  r.m[1] = T(2) * (x * y - w * z);
  r.m[2] = T(2) * (x * z + w * y);
  r.m[3] = T(2) * (x * y + w * z);
  r.m[4] = T(1) - T(2) * (x * x + z * z);
  r.m[5] = T(2) * (y * z - w * x);
  r.m[6] = T(2) * (x * z - w * y);
  r.m[7] = T(2) * (y * z + w * x);
  r.m[8] = T(1) - T(2) * (x * x + y * y);
  return r;
}

// Inverse of aa_to_quat, angle in [0, pi] (resample_poses only; scalar).
template <typename T>
AF_HD void quat_to_aa(const Quat<T>& q, T* aa) {
  T w = q.w, x = q.x, y = q.y, z = q.z;
  if (w < T(0)) {
    w = -w;
    x = -x;
    y = -y;
    z = -z;
  }
  const T n = msqrt(x * x + y * y + z * z);
  const T k = n < T(kSmallAngle) ? T(2) / w : T(2) * matan2(n, w) / n;  // t = 2 atan2(n, w) ~ 2 n / w
  aa[0] = k * x;
  aa[1] = k * y;
  aa[2] = k * z;
}

template <typename V>
AF_HD Mat3<V> mat_mul(const Mat3<V>& a, const Mat3<V>& b) {
  Mat3<V> r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      r.m[3 * i + j] = a.m[3 * i] * b.m[j] + a.m[3 * i + 1] * b.m[3 + j] + a.m[3 * i + 2] * b.m[6 + j];
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// The joint chain.

// Local rotations of one frame, computed when joint_chain asks for joint j (each is used once, so nothing is
// stored: on the GPU a [J] array of matrices would live in slow local memory).
template <typename V>
struct AxisAngleRotations {  // fk: Rodrigues of the pose row (one frame, or a lane group's columns)
  const V* pose;
  AF_HD Mat3<V> operator()(int j) const { return rodrigues(pose[3 * j], pose[3 * j + 1], pose[3 * j + 2]); }
};

// The same, keeping each joint's rodrigues_terms (c included) for fk's backward.
template <typename V>
struct AxisAngleRotationsKept {
  const V* pose;
  RodriguesTerms<V>* terms;  // [J]
  AF_HD Mat3<V> operator()(int j) const {
    const V x = pose[3 * j], y = pose[3 * j + 1], z = pose[3 * j + 2];
    terms[j] = rodrigues_terms(x, y, z, true);
    return rodrigues(x, y, z, terms[j]);
  }
};

// Where the source values of one output frame (or one lane group of output frames) come from: the rows i0 and i1
// around it and the weight alpha of i1. One scalar frame reads them in place (SourceRows); the host's vector path
// gathers the columns it needs into lane buffers first (core_module.cpp, LaneRows). Both give:
//   pose0(c), pose1(c): column c of rows i0 / i1;  trans0(i), trans1(i): translation;  alpha.
template <typename T>
struct SourceRows {
  const T* p0;  // poses row i0
  const T* p1;  // poses row i1
  const T* t0;  // trans row i0
  const T* t1;  // trans row i1
  T alpha;
  AF_HD T pose0(int c) const { return p0[c]; }
  AF_HD T pose1(int c) const { return p1[c]; }
  AF_HD T trans0(int i) const { return t0[i]; }
  AF_HD T trans1(int i) const { return t1[i]; }
};

template <typename V, typename Rows>
struct InterpolatedRotations {  // convert: slerp between two source rows
  const Rows& rows;
  V alpha;
  AF_HD Mat3<V> operator()(int j) const {
    const Quat<V> q0 = aa_to_quat(rows.pose0(3 * j), rows.pose0(3 * j + 1), rows.pose0(3 * j + 2));
    // On a source frame (every frame at 100 or 250 fps, every 5th at 60 or 120) no slerp: half the work where
    // every lane is on one; a select where some are.
    const auto on_source = alpha == elem_t<V>(0);
    if (all_lanes(on_source)) return quat_to_mat(q0);
    const Quat<V> q1 = aa_to_quat(rows.pose1(3 * j), rows.pose1(3 * j + 1), rows.pose1(3 * j + 2));
    const Quat<V> q = quat_slerp(q0, q1, alpha);
    return quat_to_mat(Quat<V>{on_source ? q0.w : q.w, on_source ? q0.x : q.x, on_source ? q0.y : q.y,
                               on_source ? q0.z : q.z});
  }
};

// World joint positions pos [J, 3] from local rotations rot(j) and rest joints rest [J, 3]; parents[j] < j.
// The root rotates about its own rest position, then moves by trans (as smplx does):
//   p_0 = rest_0 + trans;  G_0 = R_0;  p_j = p_parent + G_parent (rest_j - rest_parent);  G_j = G_parent R_j.
// Only the joints in skel.need_pos / skel.need_rot are computed; rot(j) is called only where need_rot has j.
// MaxJ bounds skel.num_joints (checked by the caller); it sizes the local array, which matters on the GPU.
// rest is scalar (one body for every lane); trans and pos are lane values.
// joint_chain_world keeps the world rotations G [J] (fk's backward needs them); joint_chain is it with G local.
template <typename V, typename Rotations>
AF_HD void joint_chain_world(const Rotations& rot, const elem_t<V>* rest, const Skeleton& skel, const V* trans,
                             V* pos, Mat3<V>* G) {
  using T = elem_t<V>;
  G[0] = rot(0);
  pos[0] = trans[0] + rest[0];
  pos[1] = trans[1] + rest[1];
  pos[2] = trans[2] + rest[2];
  for (int j = 1; j < skel.num_joints; ++j) {
    const int q = skel.parents[j];
    if (has_bit(skel.need_pos, j)) {
      const V* g = G[q].m;
      const T dx = rest[3 * j] - rest[3 * q], dy = rest[3 * j + 1] - rest[3 * q + 1],
              dz = rest[3 * j + 2] - rest[3 * q + 2];
      pos[3 * j] = pos[3 * q] + (g[0] * dx + g[1] * dy + g[2] * dz);
      pos[3 * j + 1] = pos[3 * q + 1] + (g[3] * dx + g[4] * dy + g[5] * dz);
      pos[3 * j + 2] = pos[3 * q + 2] + (g[6] * dx + g[7] * dy + g[8] * dz);
    }
    if (has_bit(skel.need_rot, j)) G[j] = mat_mul(G[q], rot(j));
  }
}

template <int MaxJ, typename V, typename Rotations>
AF_HD void joint_chain(const Rotations& rot, const elem_t<V>* rest, const Skeleton& skel, const V* trans, V* pos) {
  Mat3<V> G[MaxJ];
  joint_chain_world(rot, rest, skel, trans, pos, G);
}

// ---------------------------------------------------------------------------------------------------------------
// Backward of fk (reference.py mirrors these: rodrigues_backward, joint_chain_backward, fk_frame_backward).
//
// A joint's local rotation moves as R_j exp([w]x) (w in the joint's own frame): every joint k below j moves by
// (G_j w) x (p_k - p_j), so with gp_k = dL/dp_k and the subtree sums A_j = sum p_k x gp_k, B_j = sum gp_k
// (k in j's subtree, j included): dL/dw_j = G_j^T (A_j - p_j x B_j). The offsets: p_k for k below j moves with
// rest_j - rest_parent(j) through G_parent(j), so dL/drest_j gains G_parent^T B_j and dL/drest_parent loses it
// (the root: B_0, as dL/dtrans). One pass from the leaves up; O(J), no matrices of derivatives.

// dL/daa from dL/dw for R(aa) (w: R(aa + d) = R(aa) exp([J_r d]x), J_r the right Jacobian of SO(3)):
// J_r^T g = g + b (aa x g) + c (aa x (aa x g)), b = (1 - cos t) / t^2, c = (t - sin t) / t^3; below kSmallAngle
// their series. c's cancellation costs at most the type's rounding of |g| (it multiplies |aa|^2).
// k: rodrigues_terms(aa, with c), as the forward computed them.
template <typename V>
AF_HD void rodrigues_backward(const V* aa, const RodriguesTerms<V>& k, const V* g, V* grad_aa) {
  const V x = aa[0], y = aa[1], z = aa[2];
  const V b = k.b, c = k.c;
  const V u[3] = {y * g[2] - z * g[1], z * g[0] - x * g[2], x * g[1] - y * g[0]};  // aa x g
  const V w[3] = {y * u[2] - z * u[1], z * u[0] - x * u[2], x * u[1] - y * u[0]};  // aa x u
  for (int i = 0; i < 3; ++i) grad_aa[i] = g[i] + b * u[i] + c * w[i];
}

// From the world rotations G [J] and positions pos [J, 3] of one frame and dL/dpos grad_pos [J, 3]: dL/dw
// grad_w [J, 3] (each joint's local rotation, in its own frame), dL/dtrans grad_trans [3] and, unless grad_rest
// is null, dL/drest grad_rest [J, 3] (overwritten). Every joint's position is used (skel.need_pos all set); a
// joint whose rotation moves no joint (not in skel.need_rot: a leaf) gets grad_w 0, exactly its derivative, and
// needs no G.
template <int MaxJ, typename V>
AF_HD void joint_chain_backward(const Mat3<V>* G, const V* pos, const elem_t<V>* rest, const Skeleton& skel,
                                const V* grad_pos, V* grad_w, V* grad_trans, V* grad_rest) {
  using T = elem_t<V>;
  V A[3 * MaxJ], B[3 * MaxJ];
  const int J = skel.num_joints;
  for (int j = 0; j < J; ++j) {
    const V* p = pos + 3 * j;
    const V* g = grad_pos + 3 * j;
    A[3 * j] = p[1] * g[2] - p[2] * g[1];
    A[3 * j + 1] = p[2] * g[0] - p[0] * g[2];
    A[3 * j + 2] = p[0] * g[1] - p[1] * g[0];
    for (int i = 0; i < 3; ++i) B[3 * j + i] = g[i];
    if (grad_rest)
      for (int i = 0; i < 3; ++i) grad_rest[3 * j + i] = splat<V>(T(0));
  }
  for (int j = J - 1; j >= 0; --j) {
    const V* p = pos + 3 * j;
    const V* b = B + 3 * j;
    if (has_bit(skel.need_rot, j)) {
      const V v[3] = {A[3 * j] - (p[1] * b[2] - p[2] * b[1]), A[3 * j + 1] - (p[2] * b[0] - p[0] * b[2]),
                      A[3 * j + 2] - (p[0] * b[1] - p[1] * b[0])};
      const V* m = G[j].m;
      for (int i = 0; i < 3; ++i) grad_w[3 * j + i] = m[i] * v[0] + m[3 + i] * v[1] + m[6 + i] * v[2];  // G_j^T v
    } else {
      for (int i = 0; i < 3; ++i) grad_w[3 * j + i] = splat<V>(T(0));
    }
    if (j == 0) break;
    const int q = skel.parents[j];
    if (grad_rest) {
      const V* mq = G[q].m;
      for (int i = 0; i < 3; ++i) {
        const V u = mq[i] * b[0] + mq[3 + i] * b[1] + mq[6 + i] * b[2];  // G_parent^T B_j
        grad_rest[3 * j + i] += u;
        grad_rest[3 * q + i] -= u;
      }
    }
    for (int i = 0; i < 3; ++i) {
      A[3 * q + i] += A[3 * j + i];
      B[3 * q + i] += b[i];
    }
  }
  for (int i = 0; i < 3; ++i) grad_trans[i] = B[i];
  if (grad_rest)
    for (int i = 0; i < 3; ++i) grad_rest[i] += B[i];
}

// ---------------------------------------------------------------------------------------------------------------
// Time.

// Output frames k = 0 .. floor((F - 1) / src_fps * dst_fps), i.e. every 1/dst_fps s inside the source.
AF_HD int64_t resampled_length(int64_t num_frames, double src_fps, double dst_fps) {
  return static_cast<int64_t>(floor(static_cast<double>(num_frames - 1) * dst_fps / src_fps + kLengthEps)) + 1;
}

struct SourcePosition {
  int64_t i0, i1;
  double alpha;  // weight of i1
};

// Output frame k is at t = k / dst_fps s, source position s = k * src_fps / dst_fps, from k, never accumulated.
AF_HD SourcePosition source_position(int64_t k, int64_t num_frames, double src_fps, double dst_fps) {
  const double s = static_cast<double>(k) * src_fps / dst_fps;
  const double f = floor(s);
  if (f >= static_cast<double>(num_frames - 1)) return {num_frames - 1, num_frames - 1, 0.0};
  if (f < 0.0) return {0, 0, 0.0};
  const int64_t i0 = static_cast<int64_t>(f);
  return {i0, i0 + 1, s - f};
}

// The source rows around output frame sp of one sequence (poses: its first frame, row stride pose_stride; trans:
// its first translation, row stride 3).
template <typename T>
AF_HD SourceRows<T> interpolate_frame(const T* poses, int64_t pose_stride, const T* trans, const SourcePosition& sp) {
  return {poses + sp.i0 * pose_stride, poses + sp.i1 * pose_stride, trans + 3 * sp.i0, trans + 3 * sp.i1,
          static_cast<T>(sp.alpha)};
}

// ---------------------------------------------------------------------------------------------------------------
// Stick schema and camera.

// The 7 stick5 points plus the body's left axis (left hip - right hip) as row 7. joints: [>=22, 3]; kp: [8, 3].
template <typename V>
AF_HD void stick_keypoints(const V* joints, V* kp) {
  using T = elem_t<V>;
  for (int i = 0; i < 3; ++i) {
    kp[3 * kKpHead + i] = joints[3 * kHead + i];
    kp[3 * kKpNeck + i] = T(0.5) * (joints[3 * kLShoulder + i] + joints[3 * kRShoulder + i]);
    kp[3 * kKpLWrist + i] = joints[3 * kLWrist + i];
    kp[3 * kKpRWrist + i] = joints[3 * kRWrist + i];
    kp[3 * kKpPelvis + i] = T(0.5) * (joints[3 * kLHip + i] + joints[3 * kRHip + i]);
    kp[3 * kKpLAnkle + i] = joints[3 * kLAnkle + i];
    kp[3 * kKpRAnkle + i] = joints[3 * kRAnkle + i];
    kp[3 * kKpLeftAxis + i] = joints[3 * kLHip + i] - joints[3 * kRHip + i];
  }
}

// The lower of the two ankles of one frame's keypoints (a clip's floor is the minimum over its frames).
template <typename T>
AF_HD T lowest_ankle_z(const T* kp) {
  const T l = kp[3 * kKpLAnkle + 2], r = kp[3 * kKpRAnkle + 2];
  return l < r ? l : r;
}

// Camera of one clip as cam [5] = (right_x, right_y, origin_x, origin_y, origin_z); see reference.clip_camera.
// front: right = the body's left axis on the ground at the first frame, turned counter-clockwise by yaw_deg
// (the camera orbits the body); origin = first-frame pelvis (x, y) and the clip's lowest ankle (z).
// top: right = world x, origin = first-frame pelvis (x, y).
template <typename T>
AF_HD void clip_camera(const T* first_kp, T min_ankle_z, double yaw_deg, int view_mode, T* cam) {
  cam[2] = first_kp[3 * kKpPelvis];
  cam[3] = first_kp[3 * kKpPelvis + 1];
  if (view_mode == kViewTop) {
    cam[0] = T(1);
    cam[1] = T(0);
    cam[4] = T(0);
    return;
  }
  T lx = first_kp[3 * kKpLeftAxis], ly = first_kp[3 * kKpLeftAxis + 1];
  T n = msqrt(lx * lx + ly * ly);
  if (n < T(1e-9)) {  // hips vertical (lying on a side): no facing, keep the world axes
    lx = T(1);
    ly = T(0);
    n = T(1);
  }
  lx /= n;
  ly /= n;
  const double yaw = yaw_deg * (3.14159265358979323846 / 180.0);
  const T c = static_cast<T>(cos(yaw)), s = static_cast<T>(sin(yaw));
  cam[0] = c * lx - s * ly;
  cam[1] = s * lx + c * ly;
  cam[4] = min_ankle_z;
}

// One frame of stick5 lines [20] in screen space from keypoints [8, 3] and a clip camera [5].
template <typename T>
AF_HD void project_keypoints(const T* kp, const T* cam, int view_mode, T* out) {
  constexpr int kLines[5][2] = {{kKpHead, kKpNeck}, {kKpNeck, kKpLWrist}, {kKpNeck, kKpRWrist},
                                {kKpPelvis, kKpLAnkle}, {kKpPelvis, kKpRAnkle}};
  const T rx = cam[0], ry = cam[1], ox = cam[2], oy = cam[3], oz = cam[4];
  for (int line = 0; line < 5; ++line) {
    for (int end = 0; end < 2; ++end) {
      const T* p = kp + 3 * kLines[line][end];
      T sx, sy;
      if (view_mode == kViewTop) {
        sx = p[0] - ox;
        sy = p[1] - oy;
      } else {
        sx = (p[0] - ox) * rx + (p[1] - oy) * ry;
        sy = p[2] - oz;
      }
      out[4 * line + 2 * end] = sx;
      out[4 * line + 2 * end + 1] = sy;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// joints3d / joints2d: the 22 body joints in the clip's canonical frame, and through a camera
// (amass_fast/schemas/joints.py and cameras.py are the float64 specification; reference.clip_frame etc. mirror
// these functions).

// Packed camera (amass_fast.schemas.cameras.CAMERA_FIELDS): perspective 0/1, yaw, elevation, distance, focal,
// target height.
constexpr int kCameraFields = 6;
constexpr double kNearM = 0.1;  // schemas.cameras.NEAR_M
enum UpAxis : int { kUpZ = 0, kUpY = 1 };
// Rows of the clip frame record written by clip_frame: the canonical frame (rotation cos/sin about the vertical,
// origin, scale) and the camera (perspective flag, right/up/forward axes in the canonical frame, distance, target
// height).
constexpr int kFrCos = 0, kFrSin = 1, kFrOrigin = 2, kFrScale = 5, kFrPersp = 6, kFrRight = 7, kFrUp = 10,
              kFrForward = 13, kFrDistance = 16, kFrTarget = 17, kFrameSize = 18;

// The frame record of one clip from its first frame's world joints [22, 3], its lowest ankle z over the valid
// frames, its scale and its packed camera [6] (double). Facing: the first frame's left axis (left hip - right
// hip) on the ground becomes +x; hips vertical: the world's x axis is kept. Origin: first-frame pelvis (x, y),
// lowest ankle (z). Camera axes: right (cos yaw, sin yaw, 0), forward (-sin yaw cos el, cos yaw cos el, -sin el),
// up = right x forward = (-sin yaw sin el, cos yaw sin el, cos el); angles in double.
template <typename T>
AF_HD void clip_frame(const T* first, T min_ankle_z, double scale, const double* camera, T* fr) {
  T lx = first[3 * kLHip] - first[3 * kRHip], ly = first[3 * kLHip + 1] - first[3 * kRHip + 1];
  T n = msqrt(lx * lx + ly * ly);
  if (n < T(1e-9)) {  // hips vertical (lying on a side): no facing, keep the world axes
    lx = T(1);
    ly = T(0);
    n = T(1);
  }
  fr[kFrCos] = lx / n;
  fr[kFrSin] = ly / n;
  fr[kFrOrigin] = T(0.5) * (first[3 * kLHip] + first[3 * kRHip]);
  fr[kFrOrigin + 1] = T(0.5) * (first[3 * kLHip + 1] + first[3 * kRHip + 1]);
  fr[kFrOrigin + 2] = min_ankle_z;
  fr[kFrScale] = static_cast<T>(scale);
  const double deg = 3.14159265358979323846 / 180.0;
  const double cy = cos(camera[1] * deg), sy = sin(camera[1] * deg), ce = cos(camera[2] * deg),
               se = sin(camera[2] * deg);
  fr[kFrPersp] = camera[0] != 0.0 ? T(1) : T(0);
  const double axes[9] = {cy, sy, 0.0, -sy * se, cy * se, ce, -sy * ce, cy * ce, -se};
  for (int i = 0; i < 9; ++i) fr[kFrRight + i] = static_cast<T>(axes[i]);
  fr[kFrDistance] = static_cast<T>(camera[3]);
  fr[kFrTarget] = static_cast<T>(camera[5]);
}

// One world point [3] -> canonical (z up) [3]: scale * rotation (p - origin).
template <typename T>
AF_HD void canonical_point(const T* p, const T* fr, T* out) {
  const T dx = p[0] - fr[kFrOrigin], dy = p[1] - fr[kFrOrigin + 1], dz = p[2] - fr[kFrOrigin + 2];
  const T c = fr[kFrCos], s = fr[kFrSin], k = fr[kFrScale];
  out[0] = k * (c * dx + s * dy);
  out[1] = k * (c * dy - s * dx);
  out[2] = k * dz;
}

// One frame's world joints [22, 3] -> joints3d [22, 3] with the up axis asked for ((x, y, z) -> (x, z, -y) for y).
template <typename T>
AF_HD void frame_joints3d(const T* world, const T* fr, int up, T* out) {
  for (int j = 0; j < kNumBodyJoints; ++j) {
    T p[3];
    canonical_point(world + 3 * j, fr, p);
    out[3 * j] = p[0];
    out[3 * j + 1] = up == kUpY ? p[2] : p[1];
    out[3 * j + 2] = up == kUpY ? -p[1] : p[2];
  }
}

// One frame's world joints [22, 3] -> joints2d [22, 2] through the clip's camera. Orthographic: (P.r, P.u).
// Perspective: target t = (pelvis x, pelvis y, target height), q = P - t, depth z = max(q.d + distance, near),
// s = distance / z (q.r, q.u) + (t.r, t.u).
template <typename T>
AF_HD void frame_joints2d(const T* world, const T* fr, T* out) {
  const T* r = fr + kFrRight;
  const T* u = fr + kFrUp;
  const T* d = fr + kFrForward;
  T P[3 * kNumBodyJoints];
  for (int j = 0; j < kNumBodyJoints; ++j) canonical_point(world + 3 * j, fr, P + 3 * j);
  if (fr[kFrPersp] == T(0)) {
    for (int j = 0; j < kNumBodyJoints; ++j) {
      const T* p = P + 3 * j;
      out[2 * j] = p[0] * r[0] + p[1] * r[1] + p[2] * r[2];
      out[2 * j + 1] = p[0] * u[0] + p[1] * u[1] + p[2] * u[2];
    }
    return;
  }
  const T t[3] = {T(0.5) * (P[3 * kLHip] + P[3 * kRHip]), T(0.5) * (P[3 * kLHip + 1] + P[3 * kRHip + 1]),
                  fr[kFrTarget]};
  const T tr = t[0] * r[0] + t[1] * r[1] + t[2] * r[2], tu = t[0] * u[0] + t[1] * u[1] + t[2] * u[2];
  const T dist = fr[kFrDistance];
  for (int j = 0; j < kNumBodyJoints; ++j) {
    const T q[3] = {P[3 * j] - t[0], P[3 * j + 1] - t[1], P[3 * j + 2] - t[2]};
    T z = q[0] * d[0] + q[1] * d[1] + q[2] * d[2] + dist;
    z = z < T(kNearM) ? T(kNearM) : z;
    const T k = dist / z;
    out[2 * j] = k * (q[0] * r[0] + q[1] * r[1] + q[2] * r[2]) + tr;
    out[2 * j + 1] = k * (q[0] * u[0] + q[1] * u[1] + q[2] * u[2]) + tu;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Backward of the joint schemas (joints3d, joints2d) w.r.t. poses and trans (reference.py mirrors these:
// aa_to_quat_backward, slerp_weight_backward, slerp_trig_weights_backward, quat_slerp_backward,
// quat_rotation_backward, interpolate_frame_backward, canonical_point_backward, frame_joints3d_backward,
// frame_joints2d_backward, clip_frame_backward, lowest_ankle). Scalar (one output frame or one clip per call).
// The rest joints, cameras and scales are constants (no gradient).

// Gradient of a frame record's differentiable fields: cos, sin, origin x, y, z.
constexpr int kFrGrad = 5;

// dL/daa from dL/dq for q = aa_to_quat(aa) = (cos(t/2), s aa), s = sin(t/2) / t:
// dL/daa = (-s/2 gq_w + h (aa . gq_v)) aa + s gq_v, h = s'(t) / t = (t/2 cos(t/2) - sin(t/2)) / t^3; below
// kSmallAngle the derivatives of the forward's series (s = 1/2 - t^2/48, h = -1/24).
template <typename T>
AF_HD void aa_to_quat_backward(const T* aa, const T* gq, T* grad_aa) {
  const T x = aa[0], y = aa[1], z = aa[2];
  const T t2 = x * x + y * y + z * z;
  const T t = msqrt(t2);
  T s, h;
  if (t < T(kSmallAngle)) {
    s = T(0.5) - t2 / T(48);
    h = T(-1) / T(24);
  } else {
    T sh, ch;
    msincos(T(0.5) * t, &sh, &ch);
    s = sh / t;
    h = (T(0.5) * t * ch - sh) / (t2 * t);
  }
  const T k = T(-0.5) * s * gq[0] + h * (x * gq[1] + y * gq[2] + z * gq[3]);
  for (int i = 0; i < 3; ++i) grad_aa[i] = k * aa[i] + s * gq[1 + i];
}

// d slerp_weight(a, xm1) / d xm1: the series' Horner loop differentiated alongside it.
template <typename T>
AF_HD T slerp_weight_backward(T a, T xm1) {
  T f = T(1), df = T(0);
  for (int i = SlerpTerms<T>::value; i >= 1; --i) {
    const T c = (a * a - T(i * i)) * T(1.0 / (i * (2 * i + 1)));
    df = c * (f + xm1 * df);
    f = T(1) + c * xm1 * f;
  }
  return a * df;
}

// dw0/dd and dw1/dd of slerp_trig_weights: dw1 = (d sin(a theta) - a cos(a theta) sin theta) / sin^3 theta,
// dw0 = a sin(a theta) / sin theta - w1 - d dw1.
template <typename T>
AF_HD void slerp_trig_weights_backward(T d, T alpha, T& dw0, T& dw1) {
  const T theta = macos(d);
  const T sin_theta = msqrt((T(1) - d) * (T(1) + d));
  T s, c;
  msincos(alpha * theta, &s, &c);
  const T w1 = s / sin_theta;
  dw1 = (d * s - alpha * c * sin_theta) / (sin_theta * sin_theta * sin_theta);
  dw0 = alpha * s / sin_theta - w1 - d * dw1;
}

// dL/dq0, dL/dq1 from dL/dq for q = quat_slerp(q0, q1, alpha) (alpha a constant): through the normalisation, the
// weights (q~ = w0 q0 + sign w1 q1) and the weights' dependence on d = |q0 . q1|.
template <typename T>
AF_HD void quat_slerp_backward(const Quat<T>& q0, const Quat<T>& q1, T alpha, const T* gq, T* gq0, T* gq1) {
  const T dot = q0.w * q1.w + q0.x * q1.x + q0.y * q1.y + q0.z * q1.z;
  const T sign = dot < T(0) ? T(-1) : T(1);
  const T d = sign * dot;
  T w0, w1, dw0, dw1;
  if (d >= T(kSlerpSeriesDot)) {
    w0 = slerp_weight(T(1) - alpha, d - T(1));
    w1 = slerp_weight(alpha, d - T(1));
    dw0 = slerp_weight_backward(T(1) - alpha, d - T(1));
    dw1 = slerp_weight_backward(alpha, d - T(1));
  } else {
    slerp_trig_weights(d, alpha, w0, w1);
    slerp_trig_weights_backward(d, alpha, dw0, dw1);
  }
  const T a[4] = {q0.w, q0.x, q0.y, q0.z}, b[4] = {q1.w, q1.x, q1.y, q1.z};
  T q[4], nn = T(0);
  for (int i = 0; i < 4; ++i) {
    q[i] = w0 * a[i] + sign * w1 * b[i];
    nn += q[i] * q[i];
  }
  const T n = msqrt(nn);
  T og = T(0);
  for (int i = 0; i < 4; ++i) og += q[i] / n * gq[i];
  T g[4], ga = T(0), gb = T(0);
  for (int i = 0; i < 4; ++i) {
    g[i] = (gq[i] - q[i] / n * og) / n;
    ga += g[i] * a[i];
    gb += g[i] * b[i];
  }
  const T gd = ga * dw0 + sign * gb * dw1;
  for (int i = 0; i < 4; ++i) {
    gq0[i] = w0 * g[i] + sign * gd * b[i];
    gq1[i] = sign * w1 * g[i] + sign * gd * a[i];
  }
}

// dL/dq (tangent to the unit sphere) of a unit quaternion whose rotation quat_to_mat(q) has dL/dw, w its change in
// its own frame: q (x) (1, w/2) turns R(q) into R(q) exp([w]x), so dL/dq = 2 q (x) (0, grad_w).
template <typename T>
AF_HD void quat_rotation_backward(const Quat<T>& q, const T* g, T* gq) {
  gq[0] = T(-2) * (q.x * g[0] + q.y * g[1] + q.z * g[2]);
  gq[1] = T(2) * (q.w * g[0] + (q.y * g[2] - q.z * g[1]));
  gq[2] = T(2) * (q.w * g[1] + (q.z * g[0] - q.x * g[2]));
  gq[3] = T(2) * (q.w * g[2] + (q.x * g[1] - q.y * g[0]));
}

// interpolate_frame's backward for source pose rows p0, p1 at weight alpha: dL/dw [J, 3] of the local rotations
// and dL/dt [3] -> dL/dp0, dL/dp1 [3J] and dL/dtrans0, dL/dtrans1 [3] (overwritten).
template <typename T>
AF_HD void interpolate_frame_backward(const T* p0, const T* p1, T alpha, int num_joints, const T* grad_w,
                                      const T* grad_t, T* g0, T* g1, T* gt0, T* gt1) {
  for (int j = 0; j < num_joints; ++j) {
    const Quat<T> q0 = aa_to_quat(p0 + 3 * j);
    T gq[4];
    if (alpha == T(0)) {
      quat_rotation_backward(q0, grad_w + 3 * j, gq);
      aa_to_quat_backward(p0 + 3 * j, gq, g0 + 3 * j);
      for (int i = 0; i < 3; ++i) g1[3 * j + i] = T(0);
      continue;
    }
    const Quat<T> q1 = aa_to_quat(p1 + 3 * j);
    quat_rotation_backward(quat_slerp(q0, q1, alpha), grad_w + 3 * j, gq);
    T gq0[4], gq1[4];
    quat_slerp_backward(q0, q1, alpha, gq, gq0, gq1);
    aa_to_quat_backward(p0 + 3 * j, gq0, g0 + 3 * j);
    aa_to_quat_backward(p1 + 3 * j, gq1, g1 + 3 * j);
  }
  for (int i = 0; i < 3; ++i) {
    gt0[i] = (T(1) - alpha) * grad_t[i];
    gt1[i] = alpha * grad_t[i];
  }
}

// canonical_point's backward: dL/dout [3] -> dL/dp [3] (overwritten) and dL/d(cos, sin, origin) added to gf [5].
template <typename T>
AF_HD void canonical_point_backward(const T* p, const T* fr, const T* g, T* gp, T* gf) {
  const T dx = p[0] - fr[kFrOrigin], dy = p[1] - fr[kFrOrigin + 1], dz = p[2] - fr[kFrOrigin + 2];
  const T c = fr[kFrCos], s = fr[kFrSin], k = fr[kFrScale];
  gp[0] = k * (c * g[0] - s * g[1]);
  gp[1] = k * (s * g[0] + c * g[1]);
  gp[2] = k * g[2];
  gf[0] += k * (dx * g[0] + dy * g[1]);
  gf[1] += k * (dy * g[0] - dx * g[1]);
  for (int i = 0; i < 3; ++i) gf[2 + i] -= gp[i];
}

// frame_joints3d's backward: dL/dout [22, 3] -> dL/dworld added to gw [22, 3], dL/dframe added to gf [5].
template <typename T>
AF_HD void frame_joints3d_backward(const T* world, const T* fr, int up, const T* g, T* gw, T* gf) {
  for (int j = 0; j < kNumBodyJoints; ++j) {
    const T* o = g + 3 * j;
    const T gc[3] = {o[0], up == kUpY ? -o[2] : o[1], up == kUpY ? o[1] : o[2]};
    T gp[3];
    canonical_point_backward(world + 3 * j, fr, gc, gp, gf);
    for (int i = 0; i < 3; ++i) gw[3 * j + i] += gp[i];
  }
}

// frame_joints2d's backward: dL/dout [22, 2] -> dL/dworld added to gw [22, 3], dL/dframe added to gf [5].
// Perspective: with e_j = g_x r + g_y u, dL/dq_j = k e_j + dL/dk_j (-distance / z_j^2) d (zero where z is clamped
// to kNearM), dL/dt = sum (e_j - dL/dq_j), and t's (x, y) is the mean of the hips.
template <typename T>
AF_HD void frame_joints2d_backward(const T* world, const T* fr, const T* g, T* gw, T* gf) {
  const T* r = fr + kFrRight;
  const T* u = fr + kFrUp;
  const T* d = fr + kFrForward;
  T gP[3 * kNumBodyJoints];
  for (int j = 0; j < kNumBodyJoints; ++j)
    for (int i = 0; i < 3; ++i) gP[3 * j + i] = g[2 * j] * r[i] + g[2 * j + 1] * u[i];
  if (fr[kFrPersp] != T(0)) {
    T P[3 * kNumBodyJoints];
    for (int j = 0; j < kNumBodyJoints; ++j) canonical_point(world + 3 * j, fr, P + 3 * j);
    const T t[3] = {T(0.5) * (P[3 * kLHip] + P[3 * kRHip]), T(0.5) * (P[3 * kLHip + 1] + P[3 * kRHip + 1]),
                    fr[kFrTarget]};
    const T dist = fr[kFrDistance];
    T gt[3] = {T(0), T(0), T(0)};
    for (int j = 0; j < kNumBodyJoints; ++j) {
      const T q[3] = {P[3 * j] - t[0], P[3 * j + 1] - t[1], P[3 * j + 2] - t[2]};
      const T zr = q[0] * d[0] + q[1] * d[1] + q[2] * d[2] + dist;
      const T z = zr < T(kNearM) ? T(kNearM) : zr;
      const T k = dist / z;
      const T gk = g[2 * j] * (q[0] * r[0] + q[1] * r[1] + q[2] * r[2]) +
                   g[2 * j + 1] * (q[0] * u[0] + q[1] * u[1] + q[2] * u[2]);
      const T gz = zr < T(kNearM) ? T(0) : -gk * dist / (z * z);
      for (int i = 0; i < 3; ++i) {
        const T e = gP[3 * j + i];
        gP[3 * j + i] = k * e + gz * d[i];
        gt[i] += e - gP[3 * j + i];
      }
    }
    for (int i = 0; i < 2; ++i) {
      gP[3 * kLHip + i] += T(0.5) * gt[i];
      gP[3 * kRHip + i] += T(0.5) * gt[i];
    }
  }
  for (int j = 0; j < kNumBodyJoints; ++j) {
    T gp[3];
    canonical_point_backward(world + 3 * j, fr, gP + 3 * j, gp, gf);
    for (int i = 0; i < 3; ++i) gw[3 * j + i] += gp[i];
  }
}

// clip_frame's backward for the frame's (cos, sin, origin x, origin y) gf [>=4] -> dL/dfirst added to gw [22, 3]
// (the hips; the origin's z, the lowest ankle, is the caller's). Hips vertical (no facing): cos, sin constant.
template <typename T>
AF_HD void clip_frame_backward(const T* first, const T* gf, T* gw) {
  const T lx = first[3 * kLHip] - first[3 * kRHip], ly = first[3 * kLHip + 1] - first[3 * kRHip + 1];
  const T n = msqrt(lx * lx + ly * ly);
  if (!(n < T(1e-9))) {
    const T c = lx / n, s = ly / n;
    const T m = c * gf[0] + s * gf[1];
    const T glx = (gf[0] - c * m) / n, gly = (gf[1] - s * m) / n;
    gw[3 * kLHip] += glx;
    gw[3 * kLHip + 1] += gly;
    gw[3 * kRHip] -= glx;
    gw[3 * kRHip + 1] -= gly;
  }
  for (int i = 0; i < 2; ++i) {
    gw[3 * kLHip + i] += T(0.5) * gf[2 + i];
    gw[3 * kRHip + i] += T(0.5) * gf[2 + i];
  }
}

// Index (frame * 22 + joint) of a clip's lowest ankle over its n valid frames world [n, 22, 3]: the first frame
// strictly lower than all before it; in a frame the left ankle when strictly lower, else the right (the order of
// clip_frame_item's comparisons, so that the gradient goes where the minimum was taken).
template <typename T>
AF_HD int64_t lowest_ankle(const T* world, int64_t n) {
  int64_t where = 0;
  T best = T(0);
  for (int64_t k = 0; k < n; ++k) {
    const T* f = world + k * 3 * kNumBodyJoints;
    const int j = f[3 * kLAnkle + 2] < f[3 * kRAnkle + 2] ? kLAnkle : kRAnkle;
    if (k == 0 || f[3 * j + 2] < best) {
      best = f[3 * j + 2];
      where = k * kNumBodyJoints + j;
    }
  }
  return where;
}

// ---------------------------------------------------------------------------------------------------------------
// Per-output-frame compositions: one call = one thread's work in the CUDA kernels and one loop body on the CPU.

// fk of one frame (or a lane group): pose row [>=3J] axis-angle, trans [3], rest [J, 3] -> pos [J, 3].
template <typename V>
AF_HD void fk_frame(const V* pose, const V* trans, const elem_t<V>* rest, const Skeleton& skel, V* pos) {
  joint_chain<kMaxJoints>(AxisAngleRotations<V>{pose}, rest, skel, trans, pos);
}

// fk's backward of one frame (or of a lane group of frames: pose, trans, grads are lane values, rest scalar):
// dL/dpos grad_pos [J, 3] -> dL/dpose grad_pose [3J] (the row's first 3J columns), dL/dtrans grad_trans [3] and
// (unless null) this frame's dL/drest grad_rest [J, 3].
template <typename V>
AF_HD void fk_frame_backward(const V* pose, const V* trans, const elem_t<V>* rest, const Skeleton& skel,
                             const V* grad_pos, V* grad_pose, V* grad_trans, V* grad_rest) {
  Mat3<V> G[kMaxJoints];
  RodriguesTerms<V> terms[kMaxJoints];
  V pos[3 * kMaxJoints], grad_w[3 * kMaxJoints];
  joint_chain_world(AxisAngleRotationsKept<V>{pose, terms}, rest, skel, trans, pos, G);
  joint_chain_backward<kMaxJoints>(G, pos, rest, skel, grad_pos, grad_w, grad_trans, grad_rest);
  for (int j = 0; j < skel.num_joints; ++j) {
    if (has_bit(skel.need_rot, j)) {
      rodrigues_backward(pose + 3 * j, terms[j], grad_w + 3 * j, grad_pose + 3 * j);
    } else {  // a leaf: its rotation moves no joint (and its terms were not computed)
      for (int i = 0; i < 3; ++i) grad_pose[3 * j + i] = splat<V>(elem_t<V>(0));
    }
  }
}

// Output frame k of resample_poses: every one of the num_rot rotations slerped, translation lerped.
template <typename T>
AF_HD void resample_frame(const T* poses, int64_t pose_stride, const T* trans, int64_t num_frames, int num_rot,
                          double src_fps, double dst_fps, int64_t k, T* out_pose, T* out_trans) {
  const SourcePosition sp = source_position(k, num_frames, src_fps, dst_fps);
  const T* p0 = poses + sp.i0 * pose_stride;
  const T* p1 = poses + sp.i1 * pose_stride;
  const T alpha = static_cast<T>(sp.alpha);
  for (int j = 0; j < num_rot; ++j)
    quat_to_aa(quat_slerp(aa_to_quat(p0 + 3 * j), aa_to_quat(p1 + 3 * j), alpha), out_pose + 3 * j);
  for (int i = 0; i < 3; ++i) out_trans[i] = (T(1) - alpha) * trans[3 * sp.i0 + i] + alpha * trans[3 * sp.i1 + i];
}

// Keypoints kp [8, 3] of the output frame(s) whose source rows are `rows` (SourceRows: one frame; LaneRows: a
// lane group): slerp/lerp, chain the 22 body joints (skel.num_joints == kNumBodyJoints), pick the stick's points.
// This is the fused convert path, the same code for one CUDA thread and for one SIMD group on the host.
template <typename V, typename Rows>
AF_HD void posed_joints(const Rows& rows, const elem_t<V>* rest, const Skeleton& skel, V* pos) {
  using T = elem_t<V>;
  const V alpha = rows.alpha;
  V t[3];
  for (int i = 0; i < 3; ++i) t[i] = (T(1) - alpha) * rows.trans0(i) + alpha * rows.trans1(i);
  joint_chain<kNumBodyJoints>(InterpolatedRotations<V, Rows>{rows, alpha}, rest, skel, t, pos);
}

// The same, then the stick's points: the fused stick5 path.
template <typename V, typename Rows>
AF_HD void posed_keypoints(const Rows& rows, const elem_t<V>* rest, const Skeleton& skel, V* kp) {
  V pos[3 * kNumBodyJoints];
  posed_joints<V>(rows, rest, skel, pos);
  stick_keypoints(pos, kp);
}

// World body joints [22, 3] of output frame k of one sequence (poses/trans point at its first source frame).
template <typename T>
AF_HD void output_joints(const T* poses, int64_t pose_stride, const T* trans, int64_t num_frames, double src_fps,
                         double dst_fps, int64_t k, const T* rest, const Skeleton& skel, T* pos) {
  const SourceRows<T> rows =
      interpolate_frame(poses, pose_stride, trans, source_position(k, num_frames, src_fps, dst_fps));
  posed_joints<T>(rows, rest, skel, pos);
}

// Keypoints [8, 3] of output frame k of one sequence: output_joints, then the stick's points.
template <typename T>
AF_HD void output_keypoints(const T* poses, int64_t pose_stride, const T* trans, int64_t num_frames, double src_fps,
                            double dst_fps, int64_t k, const T* rest, const Skeleton& skel, T* kp) {
  T pos[3 * kNumBodyJoints];
  output_joints(poses, pose_stride, trans, num_frames, src_fps, dst_fps, k, rest, skel, pos);
  stick_keypoints(pos, kp);
}

// ---------------------------------------------------------------------------------------------------------------
// Batch work items. Each *_item function is the whole work of one CUDA thread (kernels.cuh) and one iteration of
// an OpenMP loop (core_module.cpp), so both backends run the same code per output frame / per clip.
// The argument structs hold raw pointers into c-contiguous arrays and are passed to kernels by value.

template <typename T>
struct FkBatch {
  const T* poses;       // [F, pose_stride]
  int64_t pose_stride;  // >= 3 J
  const T* trans;       // [F, 3]
  const T* rest;        // [J, 3]
  Skeleton skel;        // J = skel.num_joints
  int64_t num_frames;
  T* out;  // [F, J, 3]
};

template <typename T>
AF_HD void fk_item(const FkBatch<T>& a, int64_t f) {
  fk_frame(a.poses + f * a.pose_stride, a.trans + 3 * f, a.rest, a.skel, a.out + f * 3 * a.skel.num_joints);
}

// fk's backward over frames: the inputs of an FkBatch and dL/dout -> dL/dposes (columns past 3J zero),
// dL/dtrans and, unless grad_rest is null, each frame's dL/drest (the caller sums them over frames).
template <typename T>
struct FkBackwardBatch {
  FkBatch<T> fwd;       // fwd.out unused
  const T* grad_out;    // [F, J, 3]
  T* grad_poses;        // [F, pose_stride]
  T* grad_trans;        // [F, 3]
  T* grad_rest;         // [F, J, 3] or nullptr
};

template <typename T>
AF_HD void fk_backward_item(const FkBackwardBatch<T>& b, int64_t f) {
  const FkBatch<T>& a = b.fwd;
  const int J = a.skel.num_joints;
  T* gp = b.grad_poses + f * a.pose_stride;
  for (int64_t c = 3 * J; c < a.pose_stride; ++c) gp[c] = T(0);
  fk_frame_backward(a.poses + f * a.pose_stride, a.trans + 3 * f, a.rest, a.skel, b.grad_out + f * 3 * J, gp,
                    b.grad_trans + 3 * f, b.grad_rest ? b.grad_rest + f * 3 * J : nullptr);
}

template <typename T>
struct ResampleBatch {
  const T* poses;       // [F, pose_stride]
  int64_t pose_stride;  // P = 3 * num_rot
  const T* trans;       // [F, 3]
  int64_t num_frames;
  int num_rot;
  double src_fps, dst_fps;
  int64_t out_frames;  // resampled_length(F, src_fps, dst_fps)
  T* out_poses;        // [out_frames, pose_stride]
  T* out_trans;        // [out_frames, 3]
};

template <typename T>
AF_HD void resample_item(const ResampleBatch<T>& a, int64_t k) {
  resample_frame(a.poses, a.pose_stride, a.trans, a.num_frames, a.num_rot, a.src_fps, a.dst_fps, k,
                 a.out_poses + k * a.pose_stride, a.out_trans + 3 * k);
}

// Clips: C windows of `window` output frames. Keypoints come either from sequences (convert_batch: poses ...
// clip_start) or from given world joints of one clip (project: joints, with C = 1 and window = frames).
template <typename T>
struct ClipBatch {
  // convert_batch sources: S sequences concatenated along frames.
  const T* poses;              // [N, pose_stride]
  int64_t pose_stride;         // >= 66
  const T* trans;              // [N, 3]
  const int64_t* seq_offsets;  // [S + 1]
  const double* seq_fps;       // [S]
  const T* rest;               // [S, rest_stride / 3, 3]
  int64_t rest_stride;         // >= 66
  Skeleton skel;               // the 22 body joints, stick joints only
  double dst_fps;
  const int64_t* clip_seq;    // [C]
  const int64_t* clip_start;  // [C] first output frame, counted in dst_fps frames from the sequence start
  // project source: world joints [window, joint_stride / 3, 3] of one clip.
  const T* joints;
  int64_t joint_stride;
  // Clips.
  const int64_t* clip_len;  // [C] valid frames, 1..window; nullptr: one clip of `window` frames (project)
  const double* clip_yaw;   // [C] camera yaw, degrees; nullptr: yaw_deg (project)
  double yaw_deg;
  int64_t num_clips, window;
  int view_mode;
  T* kp;   // scratch [C, window, 8, 3]: keypoints of the valid frames
  T* cam;  // scratch [C, 5]: clip_camera of each clip
  T* out;  // [C, window, 20]
};

// Valid frames and camera yaw of clip c.
template <typename T>
AF_HD int64_t clip_length(const ClipBatch<T>& a, int64_t c) {
  return a.clip_len ? a.clip_len[c] : a.window;
}
template <typename T>
AF_HD double clip_yaw(const ClipBatch<T>& a, int64_t c) {
  return a.clip_yaw ? a.clip_yaw[c] : a.yaw_deg;
}

// Pass A (convert_batch), item i = c * window + k: keypoints of valid output frame k of clip c.
template <typename T>
AF_HD void clip_keypoints_item(const ClipBatch<T>& a, int64_t i) {
  const int64_t c = i / a.window, k = i - c * a.window;
  if (k >= clip_length(a, c)) return;  // padding: pass C copies the last valid frame
  const int64_t s = a.clip_seq[c];
  const int64_t first = a.seq_offsets[s], num_frames = a.seq_offsets[s + 1] - first;
  output_keypoints(a.poses + first * a.pose_stride, a.pose_stride, a.trans + 3 * first, num_frames, a.seq_fps[s],
                   a.dst_fps, a.clip_start[c] + k, a.rest + s * a.rest_stride, a.skel, a.kp + i * 3 * kNumKeypoints);
}

// Pass A (project), item k: keypoints of frame k of the given joints.
template <typename T>
AF_HD void joint_keypoints_item(const ClipBatch<T>& a, int64_t k) {
  stick_keypoints(a.joints + k * a.joint_stride, a.kp + k * 3 * kNumKeypoints);
}

// Pass B, item c: the camera of clip c (first-frame keypoints, lowest ankle over its valid frames).
template <typename T>
AF_HD void clip_camera_item(const ClipBatch<T>& a, int64_t c) {
  const T* kp = a.kp + c * a.window * 3 * kNumKeypoints;
  T min_z = lowest_ankle_z(kp);
  for (int64_t k = 1; k < clip_length(a, c); ++k) {
    const T z = lowest_ankle_z(kp + k * 3 * kNumKeypoints);
    min_z = z < min_z ? z : min_z;
  }
  clip_camera(kp, min_z, clip_yaw(a, c), a.view_mode, a.cam + 5 * c);
}

// Pass C, item i = c * window + k: sticks of output frame k; frames past clip_len hold the last valid frame.
template <typename T>
AF_HD void clip_project_item(const ClipBatch<T>& a, int64_t i) {
  const int64_t c = i / a.window, k = i - c * a.window;
  const int64_t last = clip_length(a, c) - 1;
  const int64_t src = c * a.window + (k < last ? k : last);
  project_keypoints(a.kp + src * 3 * kNumKeypoints, a.cam + 5 * c, a.view_mode, a.out + i * kStickDim);
}

// convert_joints_batch: the clips of a ClipBatch (its sequence sources, clip_seq/clip_start/clip_len; its
// clip_yaw, view_mode, kp, cam and out unused) as joints3d (out [C, window, 22, 3]) or joints2d through a camera
// per clip (out [C, window, 22, 2]).
template <typename T>
struct JointBatch {
  ClipBatch<T> clips;
  const double* clip_scale;   // [C] canonical scale (1: none)
  const double* clip_camera;  // [C, 6] packed cameras (joints2d)
  int up;                     // kUpZ / kUpY (joints3d)
  int out_dim;                // 3: joints3d, 2: joints2d
  T* world;                   // scratch [C, window, 22, 3]: world joints of the valid frames
  T* frame;                   // scratch [C, kFrameSize]: clip_frame of each clip
  T* out;                     // [C, window, 22, out_dim]
};

// Pass A, item i = c * window + k: world joints of valid output frame k of clip c.
template <typename T>
AF_HD void clip_joints_item(const JointBatch<T>& b, int64_t i) {
  const ClipBatch<T>& a = b.clips;
  const int64_t c = i / a.window, k = i - c * a.window;
  if (k >= clip_length(a, c)) return;  // padding: pass C copies the last valid frame
  const int64_t s = a.clip_seq[c];
  const int64_t first = a.seq_offsets[s], num_frames = a.seq_offsets[s + 1] - first;
  output_joints(a.poses + first * a.pose_stride, a.pose_stride, a.trans + 3 * first, num_frames, a.seq_fps[s],
                a.dst_fps, a.clip_start[c] + k, a.rest + s * a.rest_stride, a.skel,
                b.world + i * 3 * kNumBodyJoints);
}

// Pass B, item c: the frame record of clip c (first frame, lowest ankle over its valid frames, camera).
template <typename T>
AF_HD void clip_frame_item(const JointBatch<T>& b, int64_t c) {
  const int64_t stride = 3 * kNumBodyJoints;
  const T* w = b.world + c * b.clips.window * stride;
  T min_z = w[3 * kLAnkle + 2] < w[3 * kRAnkle + 2] ? w[3 * kLAnkle + 2] : w[3 * kRAnkle + 2];
  for (int64_t k = 1; k < clip_length(b.clips, c); ++k) {
    const T* f = w + k * stride;
    const T z = f[3 * kLAnkle + 2] < f[3 * kRAnkle + 2] ? f[3 * kLAnkle + 2] : f[3 * kRAnkle + 2];
    min_z = z < min_z ? z : min_z;
  }
  clip_frame(w, min_z, b.clip_scale[c], b.clip_camera + kCameraFields * c, b.frame + kFrameSize * c);
}

// Pass C, item i = c * window + k: joints3d or joints2d of output frame k; padding holds the last valid frame.
template <typename T>
AF_HD void clip_schema_item(const JointBatch<T>& b, int64_t i) {
  const ClipBatch<T>& a = b.clips;
  const int64_t c = i / a.window, k = i - c * a.window;
  const int64_t last = clip_length(a, c) - 1;
  const T* world = b.world + (c * a.window + (k < last ? k : last)) * 3 * kNumBodyJoints;
  const T* fr = b.frame + kFrameSize * c;
  if (b.out_dim == 3)
    frame_joints3d(world, fr, b.up, b.out + i * 3 * kNumBodyJoints);
  else
    frame_joints2d(world, fr, b.out + i * 2 * kNumBodyJoints);
}


// convert_joints_batch's backward w.r.t. poses and trans. The forward's passes A and B run first (fwd.world and
// fwd.frame filled); then pass C^T, item c: dL/dworld of clip c's valid frames (padding frames add to the last
// valid one; the frame record's gradient goes to the first frame's hips and to the lowest ankle); pass A^T, item
// i = c * window + k: the chain and slerp backward of valid frame k into grad_rows[i] (its two source rows); then
// pass S adds grad_rows into grad_poses / grad_trans (zeroed by the caller): serially on the host, by atomics on
// the device.
constexpr int kRowGrad = 3 * kNumBodyJoints + 3;  // one source row's gradient: 66 pose columns, then trans [3]

template <typename T>
struct JointBackwardBatch {
  JointBatch<T> fwd;   // fwd.out unused
  const T* grad_out;   // [C, window, 22, out_dim]
  T* grad_world;       // scratch [C, window, 22, 3]
  T* grad_rows;        // scratch [C, window, 2, kRowGrad]: rows i0 and i1 of each output frame
  T* grad_poses;       // [N, pose_stride]
  T* grad_trans;       // [N, 3]
};

// Pass C^T, item c.
template <typename T>
AF_HD void clip_schema_backward_item(const JointBackwardBatch<T>& bb, int64_t c) {
  const JointBatch<T>& b = bb.fwd;
  const int64_t W = b.clips.window, n = clip_length(b.clips, c), stride = 3 * kNumBodyJoints;
  const T* world = b.world + c * W * stride;
  const T* fr = b.frame + kFrameSize * c;
  T* gw = bb.grad_world + c * W * stride;
  for (int64_t i = 0; i < n * stride; ++i) gw[i] = T(0);
  T gf[kFrGrad] = {T(0), T(0), T(0), T(0), T(0)};
  for (int64_t k = 0; k < W; ++k) {
    const int64_t src = k < n - 1 ? k : n - 1;
    const T* g = bb.grad_out + (c * W + k) * kNumBodyJoints * b.out_dim;
    if (b.out_dim == 3)
      frame_joints3d_backward(world + src * stride, fr, b.up, g, gw + src * stride, gf);
    else
      frame_joints2d_backward(world + src * stride, fr, g, gw + src * stride, gf);
  }
  clip_frame_backward(world, gf, gw);
  gw[3 * lowest_ankle(world, n) + 2] += gf[4];
}

// The world joints' backward of one output frame (source rows of SourceRows form): dL/dpos [22, 3] -> the two
// source rows' gradients g [2, kRowGrad]. skel is the forward's (every position; no rotation of a leaf, whose
// gradient is 0).
template <typename T>
AF_HD void posed_joints_backward(const SourceRows<T>& rows, const T* rest, const Skeleton& skel, const T* grad_pos,
                                 T* g) {
  T t[3], pos[3 * kNumBodyJoints], grad_w[3 * kNumBodyJoints], grad_t[3];
  for (int i = 0; i < 3; ++i) t[i] = (T(1) - rows.alpha) * rows.t0[i] + rows.alpha * rows.t1[i];
  Mat3<T> G[kNumBodyJoints];
  joint_chain_world(InterpolatedRotations<T, SourceRows<T>>{rows, rows.alpha}, rest, skel, t, pos, G);
  joint_chain_backward<kNumBodyJoints>(G, pos, rest, skel, grad_pos, grad_w, grad_t, static_cast<T*>(nullptr));
  interpolate_frame_backward(rows.p0, rows.p1, rows.alpha, kNumBodyJoints, grad_w, grad_t, g, g + kRowGrad,
                             g + 3 * kNumBodyJoints, g + kRowGrad + 3 * kNumBodyJoints);
}

// Pass A^T, item i = c * window + k.
template <typename T>
AF_HD void clip_joints_backward_item(const JointBackwardBatch<T>& bb, int64_t i) {
  const ClipBatch<T>& a = bb.fwd.clips;
  const int64_t c = i / a.window, k = i - c * a.window;
  T* g = bb.grad_rows + i * 2 * kRowGrad;
  if (k >= clip_length(a, c)) {
    for (int r = 0; r < 2 * kRowGrad; ++r) g[r] = T(0);
    return;
  }
  const int64_t s = a.clip_seq[c];
  const int64_t first = a.seq_offsets[s], num_frames = a.seq_offsets[s + 1] - first;
  const SourceRows<T> rows = interpolate_frame(a.poses + first * a.pose_stride, a.pose_stride, a.trans + 3 * first,
                                               source_position(a.clip_start[c] + k, num_frames, a.seq_fps[s],
                                                               a.dst_fps));
  posed_joints_backward(rows, a.rest + s * a.rest_stride, a.skel, bb.grad_world + i * 3 * kNumBodyJoints, g);
}

// *p += v, atomically on the device (threads of pass S may share a source row).
template <typename T>
AF_HD void add_to(T* p, T v) {
#if defined(__CUDA_ARCH__)
  atomicAdd(p, v);
#else
  *p += v;
#endif
}

// Pass S, item i = c * window + k: grad_rows[i] into the gradients of its two source rows.
template <typename T>
AF_HD void scatter_rows_item(const JointBackwardBatch<T>& bb, int64_t i) {
  const ClipBatch<T>& a = bb.fwd.clips;
  const int64_t c = i / a.window, k = i - c * a.window;
  if (k >= clip_length(a, c)) return;
  const int64_t s = a.clip_seq[c];
  const int64_t first = a.seq_offsets[s];
  const SourcePosition sp = source_position(a.clip_start[c] + k, a.seq_offsets[s + 1] - first, a.seq_fps[s],
                                            a.dst_fps);
  const T* g = bb.grad_rows + i * 2 * kRowGrad;
  for (int r = 0; r < 2; ++r) {
    const int64_t row = first + (r == 0 ? sp.i0 : sp.i1);
    const T* gr = g + r * kRowGrad;
    for (int col = 0; col < 3 * kNumBodyJoints; ++col) add_to(bb.grad_poses + row * a.pose_stride + col, gr[col]);
    for (int col = 0; col < 3; ++col) add_to(bb.grad_trans + 3 * row + col, gr[3 * kNumBodyJoints + col]);
  }
}

}  // namespace af
