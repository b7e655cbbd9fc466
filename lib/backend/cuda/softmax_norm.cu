// softmax, log_softmax (+ backward), layer_norm (+ backward), batch_norm (+ backward) on CUDA.
//
// Row ops ([R, C] contiguous, reduced along C: softmax family, layer norm):
//  * C <= 1024: a group of G lanes per row (G = 32, or a power of two < 32 for short rows, so 32 / G rows
//    share a warp), the row held in registers, so x is read once and y written once. Lane gl holds CPL
//    chunks of VEC contiguous columns starting at (gl + G k) VEC: VEC = 16 bytes (float4 / double2) when
//    C is a multiple of it and the pointers are aligned, else 1. Row reductions are xor-shuffle
//    butterflies inside the group (every lane gets the same value).
//  * C > 1024: one 256-thread block per row, re-reading the row (L1/L2) per pass, 8 independent loads
//    per thread and step; per-thread sums in double, combined in a fixed order through shared memory.
//  Per-lane sums of the warp path (<= 32 terms) are in the storage type, combined across lanes in double
//  for layer norm. Layer norm's mean comes from sums shifted by the row's first element (no cancellation
//  when |mean| >> std), its variance from a second pass over the registers, and x - mean uses the double
//  mean split into hi + lo parts of T, so y follows the reference's double-precision mean.
//  Layer-norm backward (C <= 1024; f64: C <= 512) is one pass over g and x: dx per row, and each lane
//  accumulates dgamma / dbeta for its columns over the rows of its group (in T; the grid, and so the
//  row -> group assignment, depends on the shape only); the per-group partials are then summed in double
//  in a fixed order. Longer rows: dx per block, dgamma / dbeta by the column reduction below.
//
// Per-channel reductions (batch norm's statistics and gradients over N and S of x [N, C, S]; the column
// sums of layer norm's dgamma / dbeta partials) run in two deterministic stages, never with atomics:
//  1. partial sums (two doubles) per (chunk of n, column): S < 32 treats x as an [N, C*S] matrix and a
//     block of 32 x 8 threads sums 32 adjacent columns over a chunk of rows (coalesced across channels,
//     the [N, C, 1] case of BatchNorm1d); S >= 32 gives a block one channel and a chunk of its N planes
//     (warps over planes, lanes along S). The chunk count depends only on the shape.
//  2. one warp per channel sums its partials in a fixed order and derives the outputs and per-channel
//     coefficients; batch norm then runs an elementwise pass over the stage-1 geometry.
//  Batch-norm statistics are sums of (x - x[0, c, 0]) and its square in double (shifted data: stable);
//  training updates running_mean/var in place with the unbiased variance, as the reference.
// All results are bitwise reproducible run to run (fixed reduction order, no atomics). Scratch (partials,
// per-channel coefficients) comes from Tensor::empty (the stream-ordered caching allocator).
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "lib/backend/cuda/launch.cuh"

namespace dive::cuda {

namespace {

constexpr int kWarp = 32;
constexpr unsigned kFull = 0xffffffffu;
constexpr int kRowBlock = 256;  // threads of every row / channel kernel launched with 1-D blocks
constexpr int kRowWarps = kRowBlock / kWarp;
constexpr int64_t kWarpMaxCols = 1024;  // rows up to this length take the register (warp) path
constexpr int kU = 8;                   // independent loads per thread and step in the block-per-row kernels
constexpr int64_t kMaxGrid = int64_t(1) << 20;
constexpr int64_t kLnBwdBlocks = 256;  // fused layer-norm backward: blocks (fixes the dgamma/dbeta partials)

// Warp-path kernels hold a row in registers; for f32 ask for 2 resident blocks (<= 128 registers) so the
// long-row instances keep some occupancy (their many independent loads per thread hide the latency).
template <class T>
inline constexpr int kWarpMinBlocks = sizeof(T) == 4 ? 2 : 1;

template <int N>
using IC = std::integral_constant<int, N>;

__device__ __forceinline__ float vexp(float v) { return expf(v); }
__device__ __forceinline__ double vexp(double v) { return exp(v); }
__device__ __forceinline__ float vlog(float v) { return logf(v); }
__device__ __forceinline__ double vlog(double v) { return log(v); }
// max ignoring NaN (as std::max(m, x) with m starting at -inf in the reference); symmetric, so both
// lanes of a butterfly step agree
__device__ __forceinline__ float vmax(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double vmax(double a, double b) { return fmax(a, b); }

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

template <class T>
__device__ __forceinline__ T neg_inf() {
  return T(-INFINITY);
}

// Sum / max over the aligned group of G lanes (G a power of two <= 32); all 32 lanes must call it.
template <int G, class V>
__device__ __forceinline__ V group_sum(V v) {
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
  return v;
}
template <int G, class V>
__device__ __forceinline__ V group_max(V v) {
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) v = vmax(v, __shfl_xor_sync(kFull, v, o));
  return v;
}

// Sum over a block of kRowBlock threads in a fixed order; every thread gets the result. sh: kRowWarps.
template <class A>
__device__ __forceinline__ A block_sum(A v, A* sh) {
  v = group_sum<kWarp>(v);
  if (threadIdx.x % kWarp == 0) sh[threadIdx.x / kWarp] = v;
  __syncthreads();
  A t = sh[0];
#pragma unroll
  for (int w = 1; w < kRowWarps; ++w) t += sh[w];
  __syncthreads();  // sh is reused by the next call
  return t;
}

// Row assignment of the warp path: groups of G lanes, 32 / G rows per warp, grid-stride over rows.
// The loop variable `base` is uniform across the warp, so every lane reaches every shuffle.
template <int G>
struct RowGroups {
  int sub, gl;          // group within the warp, lane within the group
  int64_t first, step;  // first row of this warp, rows per grid step
  __device__ RowGroups() {
    const int lane = int(threadIdx.x) % kWarp;
    sub = lane / G;
    gl = lane % G;
    const int64_t warp = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
    first = warp * (kWarp / G);
    step = int64_t(gridDim.x) * (blockDim.x / kWarp) * (kWarp / G);
  }
};

// Vector loads / stores of VEC contiguous elements at a VEC * sizeof(T)-aligned address.
template <class T, int VEC>
struct VecOf;
template <class T>
struct VecOf<T, 1> {
  using type = T;
};
template <>
struct VecOf<float, 4> {
  using type = float4;
};
template <>
struct VecOf<double, 2> {
  using type = double2;
};

template <int VEC, class T>
__device__ __forceinline__ void ldv(const T* p, T* v) {
  if constexpr (VEC == 1) {
    v[0] = *p;
  } else {
    const typename VecOf<T, VEC>::type q = *reinterpret_cast<const typename VecOf<T, VEC>::type*>(p);
    v[0] = q.x;
    v[1] = q.y;
    if constexpr (VEC == 4) {
      v[2] = q.z;
      v[3] = q.w;
    }
  }
}
template <int VEC, class T>
__device__ __forceinline__ void stv(T* p, const T* v) {
  if constexpr (VEC == 1) {
    *p = v[0];
  } else if constexpr (VEC == 2) {
    *reinterpret_cast<typename VecOf<T, VEC>::type*>(p) = {v[0], v[1]};
  } else {
    *reinterpret_cast<typename VecOf<T, VEC>::type*>(p) = {v[0], v[1], v[2], v[3]};
  }
}

// Warp-path row layout: a group of G lanes per row; lane gl holds CPL chunks of VEC contiguous columns,
// chunk k starting at column (gl + G k) VEC (V = CPL VEC values). With VEC > 1, C is a multiple of VEC,
// so a chunk is entirely inside or entirely outside the row.
template <int G, int CPL, int VEC>
struct RowShape {
  static constexpr int kG = G, kCPL = CPL, kVEC = VEC, kV = CPL * VEC;
  __device__ static int col(int gl, int k) { return (gl + G * k) * VEC; }
};

// The widest vector of T (16 bytes) when C is a multiple of it and every pointer is aligned to it.
template <class T>
inline constexpr int kVecW = int(16 / sizeof(T));

template <class T>
bool vec_ok(int64_t C, std::initializer_list<const void*> ptrs) {
  if (C % kVecW<T> != 0) return false;
  for (const void* p : ptrs)
    if (p && reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

// Calls f(RowShape<G, CPL, VEC>{}) with the warp-path shape of rows of length C (1 <= C <= kWarpMaxCols):
// vector chunks when `vec` (C a multiple of kVecW<T>, aligned pointers), else single columns.
template <class T, class F>
void row_shape(int64_t C, bool vec, F&& f) {
  if (vec) {
    constexpr int W = kVecW<T>;
    const int64_t nc = C / W;  // chunks per row
    if (nc <= 1)
      f(RowShape<1, 1, W>{});
    else if (nc <= 2)
      f(RowShape<2, 1, W>{});
    else if (nc <= 4)
      f(RowShape<4, 1, W>{});
    else if (nc <= 8)
      f(RowShape<8, 1, W>{});
    else if (nc <= 16)
      f(RowShape<16, 1, W>{});
    else if (nc <= 32)
      f(RowShape<32, 1, W>{});
    else if (nc <= 64)
      f(RowShape<32, 2, W>{});
    else if (nc <= 96)
      f(RowShape<32, 3, W>{});
    else if (nc <= 128)
      f(RowShape<32, 4, W>{});
    else if (nc <= 160)
      f(RowShape<32, 5, W>{});
    else if (nc <= 192)
      f(RowShape<32, 6, W>{});
    else if (nc <= 224)
      f(RowShape<32, 7, W>{});
    else if (nc <= 256)
      f(RowShape<32, 8, W>{});
    else
      f(RowShape<32, kWarpMaxCols / (32 * W), W>{});  // f64: up to 16 chunks
    return;
  }
  if (C <= 1)
    f(RowShape<1, 1, 1>{});
  else if (C <= 2)
    f(RowShape<2, 1, 1>{});
  else if (C <= 4)
    f(RowShape<4, 1, 1>{});
  else if (C <= 8)
    f(RowShape<8, 1, 1>{});
  else if (C <= 16)
    f(RowShape<16, 1, 1>{});
  else if (C <= 32)
    f(RowShape<32, 1, 1>{});
  else if (C <= 64)
    f(RowShape<32, 2, 1>{});
  else if (C <= 128)
    f(RowShape<32, 4, 1>{});
  else if (C <= 256)
    f(RowShape<32, 8, 1>{});
  else if (C <= 512)
    f(RowShape<32, 16, 1>{});
  else
    f(RowShape<32, 32, 1>{});
}

unsigned warp_grid(int64_t R, int G) {
  const int64_t rows_per_block = int64_t(kRowWarps) * (kWarp / G);
  return unsigned(std::min<int64_t>((R + rows_per_block - 1) / rows_per_block, kMaxGrid));
}
unsigned block_grid(int64_t R) { return unsigned(std::min<int64_t>(R, kMaxGrid)); }

template <class T>
const T* cptr(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr;
}
template <class T>
T* mptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}

void check_rows(const char* op, const Tensor& t, int64_t R, int64_t C, const char* what) {
  DIVE_CHECK(t.defined() && t.dim() == 2 && t.size(0) == R && t.size(1) == C && t.is_contiguous(), op, ": ", what,
             " must be contiguous [", R, ", ", C, "], got ", t.defined() ? t.str() : std::string("undefined"));
}
void check_vec(const char* op, const Tensor& t, int64_t n, const char* what) {
  DIVE_CHECK(t.defined() && t.numel() == n && t.is_contiguous(), op, ": ", what, " must be contiguous with ", n,
             " elements, got ", t.defined() ? t.str() : std::string("undefined"));
}
void check_opt_vec(const char* op, const Tensor& t, int64_t n, const char* what) {
  if (t.defined()) check_vec(op, t, n, what);
}

// =====================================================================================================
// softmax / log_softmax
// =====================================================================================================

template <class T, bool Log, class SH>
__global__ void __launch_bounds__(kRowBlock, kWarpMinBlocks<T>)
    softmax_warp(const T* __restrict__ x, T* __restrict__ y, int64_t R, int C) {
  constexpr int G = SH::kG, VEC = SH::kVEC, V = SH::kV;
  const RowGroups<G> rg;
  for (int64_t base = rg.first; base < R; base += rg.step) {
    const int64_t r = base + rg.sub;
    const bool ok = r < R;
    const T* xr = x + (ok ? r : 0) * int64_t(C);
    T v[V];
    T m = neg_inf<T>();
#pragma unroll
    for (int k = 0; k < SH::kCPL; ++k) {
      const int c0 = SH::col(rg.gl, k);
      const bool in = c0 < C;
      T* vk = v + k * VEC;
      if (ok && in) {
        ldv<VEC>(xr + c0, vk);
      } else {
#pragma unroll
        for (int e = 0; e < VEC; ++e) vk[e] = neg_inf<T>();
      }
#pragma unroll
      for (int e = 0; e < VEC; ++e) m = vmax(m, vk[e]);
    }
    m = group_max<G>(m);
    T s = T(0);
#pragma unroll
    for (int k = 0; k < SH::kCPL; ++k) {
      const int c0 = SH::col(rg.gl, k);
      const bool in = c0 < C;
      if (in) {
#pragma unroll
        for (int e = 0; e < VEC; ++e) {
          const T ex = vexp(v[k * VEC + e] - m);
          s += ex;
          if constexpr (!Log) v[k * VEC + e] = ex;
        }
      }
    }
    s = group_sum<G>(s);
    if (ok) {
      T* yr = y + r * int64_t(C);
      const T ls = Log ? vlog(s) : T(0), inv = T(1) / s;
#pragma unroll
      for (int k = 0; k < SH::kCPL; ++k) {
        const int c0 = SH::col(rg.gl, k);
        const bool in = c0 < C;
        if (in) {
          T o[VEC];
#pragma unroll
          for (int e = 0; e < VEC; ++e) o[e] = Log ? (v[k * VEC + e] - m) - ls : v[k * VEC + e] * inv;
          stv<VEC>(yr + c0, o);
        }
      }
    }
  }
}

// Online (max, sum of exp(x - max)) pairs; merging is symmetric in its operands.
template <class T>
__device__ __forceinline__ void ms_merge(T& m, double& s, T m2, double s2) {
  const T mm = vmax(m, m2);
  const double a = m == neg_inf<T>() ? 0.0 : s * double(vexp(m - mm));
  const double b = m2 == neg_inf<T>() ? 0.0 : s2 * double(vexp(m2 - mm));
  m = mm;
  s = a + b;
}

template <class T, bool Log>
__global__ void __launch_bounds__(kRowBlock)
    softmax_block(const T* __restrict__ x, T* __restrict__ y, int64_t R, int64_t C) {
  __shared__ T sh_m[kRowWarps];
  __shared__ double sh_s[kRowWarps];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T* xr = x + r * C;
    // online (max, sum) per thread over chunks of kU independent loads: one rescale per chunk
    T m = neg_inf<T>();
    double s = 0;
    for (int64_t c0 = threadIdx.x; c0 < C; c0 += int64_t(kRowBlock) * kU) {
      T v[kU];
      T cm = neg_inf<T>();
#pragma unroll
      for (int u = 0; u < kU; ++u) {
        const int64_t c = c0 + int64_t(u) * kRowBlock;
        v[u] = c < C ? xr[c] : neg_inf<T>();
        cm = vmax(cm, v[u]);
      }
      if (cm > m) {
        s = m == neg_inf<T>() ? 0.0 : s * double(vexp(m - cm));
        m = cm;
      }
      T cs = T(0);  // -inf (and the padding) adds 0; NaN propagates
#pragma unroll
      for (int u = 0; u < kU; ++u) cs += v[u] == neg_inf<T>() ? T(0) : vexp(v[u] - m);
      s += double(cs);
    }
#pragma unroll
    for (int o = kWarp / 2; o > 0; o >>= 1) {
      const T m2 = __shfl_xor_sync(kFull, m, o);
      const double s2 = __shfl_xor_sync(kFull, s, o);
      ms_merge(m, s, m2, s2);
    }
    if (threadIdx.x % kWarp == 0) {
      sh_m[threadIdx.x / kWarp] = m;
      sh_s[threadIdx.x / kWarp] = s;
    }
    __syncthreads();
    m = sh_m[0];
    s = sh_s[0];
    for (int w = 1; w < kRowWarps; ++w) ms_merge(m, s, sh_m[w], sh_s[w]);
    __syncthreads();
    T* yr = y + r * C;
    const T ls = Log ? T(log(s)) : T(0), inv = T(1.0 / s);
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < C; c += kRowBlock) {
      const T v = xr[c];
      yr[c] = Log ? (v - m) - ls : vexp(v - m) * inv;
    }
  }
}

// softmax_backward: d = y (g - sum(g y));  log_softmax_backward: d = g - exp(y) sum(g)
template <class T, bool Log, class SH>
__global__ void __launch_bounds__(kRowBlock, kWarpMinBlocks<T>)
    softmax_bwd_warp(const T* __restrict__ g, const T* __restrict__ y, T* __restrict__ d, int64_t R, int C) {
  constexpr int G = SH::kG, VEC = SH::kVEC, V = SH::kV;
  const RowGroups<G> rg;
  for (int64_t base = rg.first; base < R; base += rg.step) {
    const int64_t r = base + rg.sub;
    const bool ok = r < R;
    const int64_t off = (ok ? r : 0) * int64_t(C);
    T gv[V], yv[V];
    T s = T(0);
#pragma unroll
    for (int k = 0; k < SH::kCPL; ++k) {
      const int c0 = SH::col(rg.gl, k);
      const bool in = c0 < C;
      if (ok && in) {
        ldv<VEC>(g + off + c0, gv + k * VEC);
        ldv<VEC>(y + off + c0, yv + k * VEC);
      } else {
#pragma unroll
        for (int e = 0; e < VEC; ++e) gv[k * VEC + e] = yv[k * VEC + e] = T(0);
      }
#pragma unroll
      for (int e = 0; e < VEC; ++e) s += Log ? gv[k * VEC + e] : gv[k * VEC + e] * yv[k * VEC + e];
    }
    s = group_sum<G>(s);
    if (ok) {
#pragma unroll
      for (int k = 0; k < SH::kCPL; ++k) {
        const int c0 = SH::col(rg.gl, k);
        const bool in = c0 < C;
        if (in) {
          T o[VEC];
#pragma unroll
          for (int e = 0; e < VEC; ++e) {
            const T gi = gv[k * VEC + e], yi = yv[k * VEC + e];
            o[e] = Log ? gi - vexp(yi) * s : yi * (gi - s);
          }
          stv<VEC>(d + off + c0, o);
        }
      }
    }
  }
}

template <class T, bool Log>
__global__ void __launch_bounds__(kRowBlock)
    softmax_bwd_block(const T* __restrict__ g, const T* __restrict__ y, T* __restrict__ d, int64_t R, int64_t C) {
  __shared__ double sh[kRowWarps];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const int64_t off = r * C;
    double s = 0;
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < C; c += kRowBlock)
      s += Log ? double(g[off + c]) : double(g[off + c]) * double(y[off + c]);
    const T st = T(block_sum(s, sh));
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < C; c += kRowBlock) {
      const T gv = g[off + c], yv = y[off + c];
      d[off + c] = Log ? gv - vexp(yv) * st : yv * (gv - st);
    }
  }
}

template <bool Log>
void softmax_fwd(KernelArgs& a) {
  const char* op = Log ? "log_softmax" : "softmax";
  DIVE_CHECK(a.in.size() >= 1 && a.out.size() >= 1, op, ": expected 1 input and 1 output");
  const Tensor &x = a.in[0], &y = a.out[0];
  DIVE_CHECK(x.dim() == 2, op, ": expected a 2-D [R, C] input, got ", x.str());
  const int64_t R = x.size(0), C = x.size(1);
  check_rows(op, x, R, C, "input");
  check_rows(op, y, R, C, "output");
  check_dtypes(op, a.in, y.dtype());
  if (R * C == 0) return;
  const int dev = y.device().index;
  DeviceGuard guard(dev);
  cudaStream_t st = stream(dev);
  DIVE_DISPATCH_FLOAT(y.dtype(), op, [&] {
    using T = scalar_t;
    const T* xp = cptr<T>(x);
    T* yp = mptr<T>(y);
    if (C <= kWarpMaxCols) {
      row_shape<T>(C, vec_ok<T>(C, {xp, yp}), [&](auto sh) {
        using SH = decltype(sh);
        softmax_warp<T, Log, SH><<<warp_grid(R, SH::kG), kRowBlock, 0, st>>>(xp, yp, R, int(C));
      });
    } else {
      softmax_block<T, Log><<<block_grid(R), kRowBlock, 0, st>>>(xp, yp, R, C);
    }
  });
  CUDA_CHECK_LAUNCH();
}

template <bool Log>
void softmax_bwd(KernelArgs& a) {
  const char* op = Log ? "log_softmax_backward" : "softmax_backward";
  DIVE_CHECK(a.in.size() >= 2 && a.out.size() >= 1, op, ": expected inputs g, y and 1 output");
  const Tensor &g = a.in[0], &y = a.in[1], &d = a.out[0];
  DIVE_CHECK(g.dim() == 2, op, ": expected a 2-D [R, C] gradient, got ", g.str());
  const int64_t R = g.size(0), C = g.size(1);
  check_rows(op, g, R, C, "g");
  check_rows(op, y, R, C, "y");
  check_rows(op, d, R, C, "output");
  check_dtypes(op, a.in, d.dtype());
  if (R * C == 0) return;
  const int dev = d.device().index;
  DeviceGuard guard(dev);
  cudaStream_t st = stream(dev);
  DIVE_DISPATCH_FLOAT(d.dtype(), op, [&] {
    using T = scalar_t;
    const T *gp = cptr<T>(g), *yp = cptr<T>(y);
    T* dp = mptr<T>(d);
    if (C <= kWarpMaxCols) {
      row_shape<T>(C, vec_ok<T>(C, {gp, yp, dp}), [&](auto sh) {
        using SH = decltype(sh);
        softmax_bwd_warp<T, Log, SH><<<warp_grid(R, SH::kG), kRowBlock, 0, st>>>(gp, yp, dp, R, int(C));
      });
    } else {
      softmax_bwd_block<T, Log><<<block_grid(R), kRowBlock, 0, st>>>(gp, yp, dp, R, C);
    }
  });
  CUDA_CHECK_LAUNCH();
}

// =====================================================================================================
// Per-channel two-stage reductions (shared by layer norm's dgamma/dbeta and batch norm)
// =====================================================================================================

constexpr int kColTile = 32;              // columns per block of the column layout (one warp wide)
constexpr int kColRows = 8;               // row lanes per block of the column layout
constexpr int64_t kTargetBlocks = 1024;   // stage-1 blocks aimed for (several waves of resident blocks)
constexpr int64_t kMinColRows = 64;       // column layout: rows per chunk at least (8 per thread)
constexpr int64_t kMinPlaneElems = 8192;  // plane layout: elements per block at least

// Geometry of x [N, C, S] for the channel reductions (trivially copyable: passed to kernels by value).
struct ChanGeo {
  bool planes = false;                 // S >= 32: blocks (channel, chunk of planes); else column tiles of [N, C*S]
  int64_t N = 0, C = 0, S = 1, W = 0;  // W = C * S
  int64_t rpc = 1, chunks = 0;         // n per chunk, chunk count (0 when there is nothing to reduce)
  int64_t pw = 0, ps = 1;              // partials: row width (C or W) and columns per channel (1 or S)
};

ChanGeo chan_geo(int64_t N, int64_t C, int64_t S) {
  ChanGeo g;
  g.N = N;
  g.C = C;
  g.S = S;
  g.W = C * S;
  g.planes = S >= 32;
  g.pw = g.planes ? C : g.W;
  g.ps = g.planes ? 1 : S;
  if (N == 0 || C == 0 || S == 0) return g;
  int64_t want, most;
  if (g.planes) {
    want = (kTargetBlocks + C - 1) / C;
    const int64_t min_rows = (kMinPlaneElems + S - 1) / S;
    most = (N + min_rows - 1) / min_rows;
  } else {
    const int64_t tiles = (g.W + kColTile - 1) / kColTile;
    want = (kTargetBlocks + tiles - 1) / tiles;
    most = (N + kMinColRows - 1) / kMinColRows;
  }
  const int64_t ch = std::max<int64_t>(1, std::min<int64_t>({want, most, 65535}));
  g.rpc = (N + ch - 1) / ch;
  g.chunks = (N + g.rpc - 1) / g.rpc;
  return g;
}

dim3 chan_grid(const ChanGeo& g) {
  return g.planes ? dim3(unsigned(g.C), unsigned(g.chunks))
                  : dim3(unsigned((g.W + kColTile - 1) / kColTile), unsigned(g.chunks));
}
dim3 chan_block(const ChanGeo& g) { return g.planes ? dim3(kRowBlock) : dim3(kColTile, kColRows); }

// Stage 1, column layout: block (32 columns, chunk of rows) -> part[chunk, column] = (sum a, sum b).
// F: Ctx prep(int64_t channel); void acc(const Ctx&, int64_t n, int64_t offset, double& a, double& b).
template <class F>
__global__ void __launch_bounds__(kColTile* kColRows) col_partials(F f, ChanGeo geo, double2* __restrict__ part) {
  __shared__ double sa[kColRows][kColTile], sb[kColRows][kColTile];
  const int tx = int(threadIdx.x), ty = int(threadIdx.y);
  const int64_t j = int64_t(blockIdx.x) * kColTile + tx;
  const int64_t n0 = int64_t(blockIdx.y) * geo.rpc, n1 = min64(geo.N, n0 + geo.rpc);
  double a = 0, b = 0;
  if (j < geo.W) {
    const auto ctx = f.prep(j / geo.S);
#pragma unroll 4
    for (int64_t n = n0 + ty; n < n1; n += kColRows) f.acc(ctx, n, n * geo.W + j, a, b);
  }
  sa[ty][tx] = a;
  sb[ty][tx] = b;
  __syncthreads();
  if (ty == 0 && j < geo.W) {
#pragma unroll
    for (int t = 1; t < kColRows; ++t) {
      a += sa[t][tx];
      b += sb[t][tx];
    }
    part[int64_t(blockIdx.y) * geo.W + j] = make_double2(a, b);
  }
}

// Stage 1, plane layout: block (channel c, chunk of n) -> part[chunk, c].
template <class F>
__global__ void __launch_bounds__(kRowBlock) plane_partials(F f, ChanGeo geo, double2* __restrict__ part) {
  __shared__ double sa[kRowWarps], sb[kRowWarps];
  const int64_t c = blockIdx.x;
  const int w = int(threadIdx.x) / kWarp, lane = int(threadIdx.x) % kWarp;
  const int64_t n0 = int64_t(blockIdx.y) * geo.rpc, n1 = min64(geo.N, n0 + geo.rpc);
  const auto ctx = f.prep(c);
  double a = 0, b = 0;
  for (int64_t n = n0 + w; n < n1; n += kRowWarps) {
    const int64_t base = (n * geo.C + c) * geo.S;
#pragma unroll 4
    for (int64_t s = lane; s < geo.S; s += kWarp) f.acc(ctx, n, base + s, a, b);
  }
  a = group_sum<kWarp>(a);
  b = group_sum<kWarp>(b);
  if (lane == 0) {
    sa[w] = a;
    sb[w] = b;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
#pragma unroll
    for (int t = 1; t < kRowWarps; ++t) {
      a += sa[t];
      b += sb[t];
    }
    part[int64_t(blockIdx.y) * geo.C + c] = make_double2(a, b);
  }
}

// Elementwise pass over the stage-1 geometry. F: Ctx prep(int64_t channel); void apply(const Ctx&, int64_t offset).
template <class F>
__global__ void __launch_bounds__(kColTile* kColRows) col_apply(F f, ChanGeo geo) {
  const int64_t j = int64_t(blockIdx.x) * kColTile + threadIdx.x;
  if (j >= geo.W) return;
  const int64_t n0 = int64_t(blockIdx.y) * geo.rpc, n1 = min64(geo.N, n0 + geo.rpc);
  const auto ctx = f.prep(j / geo.S);
#pragma unroll 4
  for (int64_t n = n0 + threadIdx.y; n < n1; n += kColRows) f.apply(ctx, n * geo.W + j);
}

template <class F>
__global__ void __launch_bounds__(kRowBlock) plane_apply(F f, ChanGeo geo) {
  const int64_t c = blockIdx.x;
  const int w = int(threadIdx.x) / kWarp, lane = int(threadIdx.x) % kWarp;
  const int64_t n0 = int64_t(blockIdx.y) * geo.rpc, n1 = min64(geo.N, n0 + geo.rpc);
  const auto ctx = f.prep(c);
  for (int64_t n = n0 + w; n < n1; n += kRowWarps) {
    const int64_t base = (n * geo.C + c) * geo.S;
#pragma unroll 4
    for (int64_t s = lane; s < geo.S; s += kWarp) f.apply(ctx, base + s);
  }
}

template <class F>
void launch_partials(const ChanGeo& geo, const F& f, double2* part, cudaStream_t st) {
  if (geo.chunks == 0) return;
  if (geo.planes)
    plane_partials<F><<<chan_grid(geo), chan_block(geo), 0, st>>>(f, geo, part);
  else
    col_partials<F><<<chan_grid(geo), chan_block(geo), 0, st>>>(f, geo, part);
  CUDA_CHECK_LAUNCH();
}

template <class F>
void launch_apply(const ChanGeo& geo, const F& f, cudaStream_t st) {
  if (geo.chunks == 0) return;
  if (geo.planes)
    plane_apply<F><<<chan_grid(geo), chan_block(geo), 0, st>>>(f, geo);
  else
    col_apply<F><<<chan_grid(geo), chan_block(geo), 0, st>>>(f, geo);
  CUDA_CHECK_LAUNCH();
}

// Scratch for the partials of `geo` (nullptr when there are none); keep the tensor alive over the launches
// (freeing it right after is fine: the caching allocator is stream-ordered).
double2* partial_scratch(const ChanGeo& geo, Device dev, Tensor& hold) {
  if (geo.chunks == 0) return nullptr;
  hold = Tensor::empty({geo.chunks * geo.pw * 2}, DType::f64, dev);
  return static_cast<double2*>(hold.raw_data());
}

// Stage 2 helper: channel c's total over every chunk (and its S columns in the column layout), summed by
// one warp in a fixed order; every lane gets it.
__device__ __forceinline__ double2 channel_total(const double2* __restrict__ part, ChanGeo geo, int64_t c, int lane) {
  const int items = int(geo.chunks * geo.ps), ps = int(geo.ps);  // chunks <= 65535, ps <= 31
  double a = 0, b = 0;
  for (int i = lane; i < items; i += kWarp) {
    const int k = i / ps, s = i - k * ps;
    const double2 v = part[int64_t(k) * geo.pw + c * geo.ps + s];
    a += v.x;
    b += v.y;
  }
  return make_double2(group_sum<kWarp>(a), group_sum<kWarp>(b));
}

unsigned chan_warp_grid(int64_t C) { return unsigned((C + kRowWarps - 1) / kRowWarps); }

// =====================================================================================================
// layer norm
// =====================================================================================================

template <class T, class SH>
__global__ void __launch_bounds__(kRowBlock, kWarpMinBlocks<T>)
    layer_norm_warp(const T* __restrict__ x, const T* __restrict__ gamma, const T* __restrict__ beta, T* __restrict__ y,
                    T* __restrict__ mean, T* __restrict__ rstd, int64_t R, int C, double eps) {
  constexpr int G = SH::kG, VEC = SH::kVEC, V = SH::kV;
  const RowGroups<G> rg;
  // This lane's columns are the same for every row: short rows keep gamma/beta in registers, long ones
  // re-load them (L1 hits) to keep the register count, and with it the occupancy, reasonable.
  constexpr bool kCache = V <= 8;
  T gm[kCache ? V : 1], bt[kCache ? V : 1];
  if constexpr (kCache) {
#pragma unroll
    for (int k = 0; k < SH::kCPL; ++k) {
      const int c0 = SH::col(rg.gl, k);
#pragma unroll
      for (int e = 0; e < VEC; ++e) {
        gm[k * VEC + e] = T(1);
        bt[k * VEC + e] = T(0);
      }
      if (c0 < C && gamma) ldv<VEC>(gamma + c0, gm + k * VEC);
      if (c0 < C && beta) ldv<VEC>(beta + c0, bt + k * VEC);
    }
  }
  for (int64_t base = rg.first; base < R; base += rg.step) {
    const int64_t r = base + rg.sub;
    const bool ok = r < R;
    const T* xr = x + (ok ? r : 0) * int64_t(C);
    const T k0 = ok ? xr[0] : T(0);  // shift
    T v[V];
    T s1 = T(0);
#pragma unroll
    for (int k = 0; k < SH::kCPL; ++k) {
      const int c0 = SH::col(rg.gl, k);
      T* vk = v + k * VEC;
      if (ok && c0 < C) {
        ldv<VEC>(xr + c0, vk);
      } else {
#pragma unroll
        for (int e = 0; e < VEC; ++e) vk[e] = k0;
      }
#pragma unroll
      for (int e = 0; e < VEC; ++e) s1 += vk[e] - k0;  // 0 outside the row
    }
    const double mu = double(k0) + group_sum<G>(double(s1)) / double(C);
    const T mh = T(mu), ml = T(mu - double(mh));
    T s2 = T(0);
#pragma unroll
    for (int k = 0; k < SH::kCPL; ++k) {
      const bool in = SH::col(rg.gl, k) < C;
#pragma unroll
      for (int e = 0; e < VEC; ++e) {
        const T d = (v[k * VEC + e] - mh) - ml;
        v[k * VEC + e] = d;
        if (in) s2 += d * d;
      }
    }
    const double var = group_sum<G>(double(s2)) / double(C);
    const double rs = 1.0 / sqrt(var + eps);
    if (ok) {
      const T rst = T(rs);
      T* yr = y + r * int64_t(C);
#pragma unroll
      for (int k = 0; k < SH::kCPL; ++k) {
        const int c0 = SH::col(rg.gl, k);
        if (c0 < C) {
          T o[VEC];
          if constexpr (kCache) {
#pragma unroll
            for (int e = 0; e < VEC; ++e) o[e] = v[k * VEC + e] * rst * gm[k * VEC + e] + bt[k * VEC + e];
          } else {
            T gk[VEC], bk[VEC];
#pragma unroll
            for (int e = 0; e < VEC; ++e) {
              gk[e] = T(1);
              bk[e] = T(0);
            }
            if (gamma) ldv<VEC>(gamma + c0, gk);
            if (beta) ldv<VEC>(beta + c0, bk);
#pragma unroll
            for (int e = 0; e < VEC; ++e) o[e] = v[k * VEC + e] * rst * gk[e] + bk[e];
          }
          stv<VEC>(yr + c0, o);
        }
      }
      if (rg.gl == 0) {
        mean[r] = T(mu);
        rstd[r] = T(rs);
      }
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kRowBlock)
    layer_norm_block(const T* __restrict__ x, const T* __restrict__ gamma, const T* __restrict__ beta,
                     T* __restrict__ y, T* __restrict__ mean, T* __restrict__ rstd, int64_t R, int64_t C, double eps) {
  __shared__ double sh[kRowWarps];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T* xr = x + r * C;
    const double k0 = double(xr[0]);
    double s1 = 0;
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < C; c += kRowBlock) s1 += double(xr[c]) - k0;
    const double mu = k0 + block_sum(s1, sh) / double(C);
    double s2 = 0;
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < C; c += kRowBlock) {
      const double d = double(xr[c]) - mu;
      s2 += d * d;
    }
    const double rs = 1.0 / sqrt(block_sum(s2, sh) / double(C) + eps);
    const T mh = T(mu), ml = T(mu - double(mh)), rst = T(rs);
    T* yr = y + r * C;
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < C; c += kRowBlock) {
      const T g = gamma ? gamma[c] : T(1), b = beta ? beta[c] : T(0);
      yr[c] = ((xr[c] - mh) - ml) * rst * g + b;
    }
    if (threadIdx.x == 0) {
      mean[r] = T(mu);
      rstd[r] = T(rs);
    }
  }
}

// dx = rstd (g gamma - mean(g gamma) - xh mean(g gamma xh)), xh = (x - mean) rstd, and this row group's
// share of dgamma = sum g xh and dbeta = sum g: each lane accumulates its own columns over the rows of its
// group (fixed by the grid, which depends on the shape only) in T, then writes them as row
// `warp * 32 / G + group` of the partials pg, pb [gridDim.x * kRowWarps * 32 / G, C], summed afterwards
// in double in a fixed order. g and x are read once.
template <class T, class SH>
__global__ void __launch_bounds__(kRowBlock, 1)
    layer_norm_bwd_warp(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ gamma,
                        const T* __restrict__ mean, const T* __restrict__ rstd, T* __restrict__ dx, int64_t R, int C,
                        T* __restrict__ pg, T* __restrict__ pb) {
  constexpr int G = SH::kG, VEC = SH::kVEC, V = SH::kV;
  const RowGroups<G> rg;
  constexpr bool kCache = V <= 8;  // gamma in registers for short rows (see layer_norm_warp)
  T gm[kCache ? V : 1];
  if constexpr (kCache) {
#pragma unroll
    for (int k = 0; k < SH::kCPL; ++k) {
      const int c0 = SH::col(rg.gl, k);
#pragma unroll
      for (int e = 0; e < VEC; ++e) gm[k * VEC + e] = T(1);
      if (c0 < C && gamma) ldv<VEC>(gamma + c0, gm + k * VEC);
    }
  }
  T ag[V], ab[V];
#pragma unroll
  for (int i = 0; i < V; ++i) ag[i] = ab[i] = T(0);
  for (int64_t base = rg.first; base < R; base += rg.step) {
    const int64_t r = base + rg.sub;
    const bool ok = r < R;
    const int64_t off = (ok ? r : 0) * int64_t(C);
    const T mu = ok ? mean[r] : T(0), rs = ok ? rstd[r] : T(0);
    T xh[V], dxh[V];  // loaded as g and x, then turned into xh and g gamma
    T s1 = T(0), s2 = T(0);
#pragma unroll
    for (int k = 0; k < SH::kCPL; ++k) {
      const int c0 = SH::col(rg.gl, k);
      const bool in = ok && c0 < C;
      T gk[VEC];
#pragma unroll
      for (int e = 0; e < VEC; ++e) gk[e] = T(1);
      if (in) {
        ldv<VEC>(g + off + c0, dxh + k * VEC);
        ldv<VEC>(x + off + c0, xh + k * VEC);
        if constexpr (kCache) {
#pragma unroll
          for (int e = 0; e < VEC; ++e) gk[e] = gm[k * VEC + e];
        } else {
          if (gamma) ldv<VEC>(gamma + c0, gk);
        }
      } else {
#pragma unroll
        for (int e = 0; e < VEC; ++e) dxh[k * VEC + e] = xh[k * VEC + e] = T(0);
      }
#pragma unroll
      for (int e = 0; e < VEC; ++e) {
        const int i = k * VEC + e;
        const T gi = dxh[i];
        if (in) xh[i] = (xh[i] - mu) * rs;  // (g = xh = 0 outside the row)
        ag[i] += gi * xh[i];
        ab[i] += gi;
        dxh[i] = gi * gk[e];
        s1 += dxh[i];
        s2 += dxh[i] * xh[i];
      }
    }
    const T m1 = T(group_sum<G>(double(s1)) / double(C)), m2 = T(group_sum<G>(double(s2)) / double(C));
    if (ok) {
#pragma unroll
      for (int k = 0; k < SH::kCPL; ++k) {
        const int c0 = SH::col(rg.gl, k);
        if (c0 < C) {
          T o[VEC];
#pragma unroll
          for (int e = 0; e < VEC; ++e) o[e] = rs * (dxh[k * VEC + e] - m1 - xh[k * VEC + e] * m2);
          stv<VEC>(dx + off + c0, o);
        }
      }
    }
  }
  const int64_t prow = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp * (kWarp / G) + rg.sub;
#pragma unroll
  for (int k = 0; k < SH::kCPL; ++k) {
    const int c0 = SH::col(rg.gl, k);
    if (c0 < C) {
      stv<VEC>(pg + prow * C + c0, ag + k * VEC);
      stv<VEC>(pb + prow * C + c0, ab + k * VEC);
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kRowBlock)
    layer_norm_bwd_block(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ gamma,
                         const T* __restrict__ mean, const T* __restrict__ rstd, T* __restrict__ dx, int64_t R,
                         int64_t C) {
  __shared__ double sh[kRowWarps];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const int64_t off = r * C;
    const T mu = mean[r], rs = rstd[r];
    double s1 = 0, s2 = 0;
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < C; c += kRowBlock) {
      const T xh = (x[off + c] - mu) * rs, dxh = g[off + c] * (gamma ? gamma[c] : T(1));
      s1 += double(dxh);
      s2 += double(dxh) * double(xh);
    }
    const T m1 = T(block_sum(s1, sh) / double(C));
    const T m2 = T(block_sum(s2, sh) / double(C));
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < C; c += kRowBlock) {
      const T xh = (x[off + c] - mu) * rs, dxh = g[off + c] * (gamma ? gamma[c] : T(1));
      dx[off + c] = rs * (dxh - m1 - xh * m2);
    }
  }
}

// Column sums of g xh (-> dgamma) and g (-> dbeta) over rows.
template <class T>
struct LnGradF {
  const T* g;
  const T* x;
  const T* mean;
  const T* rstd;
  __device__ int prep(int64_t) const { return 0; }
  __device__ void acc(int, int64_t n, int64_t off, double& a, double& b) const {
    const T gv = g[off], xh = (x[off] - mean[n]) * rstd[n];
    a += double(gv * xh);
    b += double(gv);
  }
};

// Column sums of two [P, C] matrices of partials (the fused backward's dgamma / dbeta shares).
template <class T>
struct SumPairF {
  const T* a;
  const T* b;
  __device__ int prep(int64_t) const { return 0; }
  __device__ void acc(int, int64_t, int64_t off, double& sa, double& sb) const {
    sa += double(a[off]);
    sb += double(b[off]);
  }
};

template <class T>
__global__ void __launch_bounds__(kRowBlock) layer_norm_param_grads(const double2* __restrict__ part, ChanGeo geo,
                                                                    T* __restrict__ dgamma, T* __restrict__ dbeta) {
  const int64_t c = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  if (c >= geo.C) return;  // uniform per warp
  const int lane = int(threadIdx.x) % kWarp;
  const double2 t = channel_total(part, geo, c, lane);
  if (lane == 0) {
    if (dgamma) dgamma[c] = T(t.x);
    if (dbeta) dbeta[c] = T(t.y);
  }
}

void layer_norm_fwd(KernelArgs& a) {
  const char* op = "layer_norm";
  DIVE_CHECK(a.in.size() >= 3 && a.out.size() >= 3 && !a.attrs.f.empty(), op,
             ": expected inputs x, gamma, beta, outputs y, mean, rstd and f[0] = eps");
  const Tensor &x = a.in[0], &gamma = a.in[1], &beta = a.in[2];
  const Tensor &y = a.out[0], &mean = a.out[1], &rstd = a.out[2];
  DIVE_CHECK(x.dim() == 2, op, ": expected a 2-D [R, C] input, got ", x.str());
  const int64_t R = x.size(0), C = x.size(1);
  check_rows(op, x, R, C, "x");
  check_rows(op, y, R, C, "y");
  check_opt_vec(op, gamma, C, "gamma");
  check_opt_vec(op, beta, C, "beta");
  check_vec(op, mean, R, "mean");
  check_vec(op, rstd, R, "rstd");
  check_dtypes(op, a.in, y.dtype());
  check_dtypes(op, a.out, y.dtype());
  if (R * C == 0) return;
  const double eps = a.attrs.f[0];
  const int dev = y.device().index;
  DeviceGuard guard(dev);
  cudaStream_t st = stream(dev);
  DIVE_DISPATCH_FLOAT(y.dtype(), op, [&] {
    using T = scalar_t;
    const T *xp = cptr<T>(x), *gp = cptr<T>(gamma), *bp = cptr<T>(beta);
    T *yp = mptr<T>(y), *mp = mptr<T>(mean), *rp = mptr<T>(rstd);
    if (C <= kWarpMaxCols) {
      row_shape<T>(C, vec_ok<T>(C, {xp, gp, bp, yp}), [&](auto sh) {
        using SH = decltype(sh);
        layer_norm_warp<T, SH><<<warp_grid(R, SH::kG), kRowBlock, 0, st>>>(xp, gp, bp, yp, mp, rp, R, int(C), eps);
      });
    } else {
      layer_norm_block<T><<<block_grid(R), kRowBlock, 0, st>>>(xp, gp, bp, yp, mp, rp, R, C, eps);
    }
  });
  CUDA_CHECK_LAUNCH();
}

void layer_norm_bwd(KernelArgs& a) {
  const char* op = "layer_norm_backward";
  DIVE_CHECK(a.in.size() >= 5 && a.out.size() >= 1, op,
             ": expected inputs g, x, gamma, mean, rstd and outputs dx, dgamma, dbeta");
  const Tensor &g = a.in[0], &x = a.in[1], &gamma = a.in[2], &mean = a.in[3], &rstd = a.in[4];
  const Tensor& dx = a.out[0];
  const Tensor dgamma = a.out.size() > 1 ? a.out[1] : Tensor(), dbeta = a.out.size() > 2 ? a.out[2] : Tensor();
  DIVE_CHECK(g.dim() == 2, op, ": expected a 2-D [R, C] gradient, got ", g.str());
  const int64_t R = g.size(0), C = g.size(1);
  check_rows(op, g, R, C, "g");
  check_rows(op, x, R, C, "x");
  check_rows(op, dx, R, C, "dx");
  check_opt_vec(op, gamma, C, "gamma");
  check_vec(op, mean, R, "mean");
  check_vec(op, rstd, R, "rstd");
  check_opt_vec(op, dgamma, C, "dgamma");
  check_opt_vec(op, dbeta, C, "dbeta");
  check_dtypes(op, a.in, dx.dtype());
  check_dtypes(op, a.out, dx.dtype());
  if (C == 0) return;
  const int dev = dx.device().index;
  DeviceGuard guard(dev);
  cudaStream_t st = stream(dev);
  DIVE_DISPATCH_FLOAT(dx.dtype(), op, [&] {
    using T = scalar_t;
    const T *gp = cptr<T>(g), *xp = cptr<T>(x), *gmp = cptr<T>(gamma), *mp = cptr<T>(mean), *rp = cptr<T>(rstd);
    T* dxp = mptr<T>(dx);
    Tensor hold, phold;
    if (R > 0 && C <= kWarpMaxCols / int64_t(sizeof(T) / 4)) {  // (f64 rows past 512 would spill: unfused)
      // fused: dx and per-row-group partials of dgamma / dbeta, then their fixed-order column sums
      row_shape<T>(C, vec_ok<T>(C, {gp, xp, gmp, dxp}), [&](auto sh) {
        using SH = decltype(sh);
        if constexpr (sizeof(T) * SH::kV <= 128) {  // (longer f64 rows take the unfused path above)
          const unsigned grid = unsigned(std::min<int64_t>(warp_grid(R, SH::kG), kLnBwdBlocks));
          const int64_t P = int64_t(grid) * kRowWarps * (kWarp / SH::kG);  // partial rows
          phold = Tensor::empty({2, P, C}, dx.dtype(), dx.device());
          T* pg = mptr<T>(phold);
          layer_norm_bwd_warp<T, SH><<<grid, kRowBlock, 0, st>>>(gp, xp, gmp, mp, rp, dxp, R, int(C), pg, pg + P * C);
          CUDA_CHECK_LAUNCH();
          const ChanGeo geo = chan_geo(P, C, 1);
          double2* part = partial_scratch(geo, dx.device(), hold);
          launch_partials(geo, SumPairF<T>{pg, pg + P * C}, part, st);
          layer_norm_param_grads<T>
              <<<chan_warp_grid(C), kRowBlock, 0, st>>>(part, geo, mptr<T>(dgamma), mptr<T>(dbeta));
          CUDA_CHECK_LAUNCH();
        }
      });
      return;
    }
    if (R > 0) {
      layer_norm_bwd_block<T><<<block_grid(R), kRowBlock, 0, st>>>(gp, xp, gmp, mp, rp, dxp, R, C);
      CUDA_CHECK_LAUNCH();
    }
    // column sums of g xh and g straight from g and x (long rows, or R = 0: zeros)
    const ChanGeo geo = chan_geo(R, C, 1);
    double2* part = partial_scratch(geo, dx.device(), hold);
    launch_partials(geo, LnGradF<T>{gp, xp, mp, rp}, part, st);
    layer_norm_param_grads<T><<<chan_warp_grid(C), kRowBlock, 0, st>>>(part, geo, mptr<T>(dgamma), mptr<T>(dbeta));
    CUDA_CHECK_LAUNCH();
  });
}

// =====================================================================================================
// batch norm
// =====================================================================================================

// Shifted sums of x over a channel: (sum d, sum d^2), d = x - x[0, c, 0].
template <class T>
struct BnStatsF {
  const T* x;
  int64_t S;
  __device__ double prep(int64_t c) const { return double(x[c * S]); }
  __device__ void acc(double k, int64_t, int64_t off, double& a, double& b) const {
    const double d = double(x[off]) - k;
    a += d;
    b += d * d;
  }
};

// Per-channel coefficients of the forward: y = ((x - mh) - ml) sc + sh.
template <class T>
struct BnCoef {
  T mh, ml, sc, sh;
};

template <class T>
__global__ void __launch_bounds__(kRowBlock)
    bn_stats_finalize(const double2* __restrict__ part, ChanGeo geo, const T* __restrict__ x,
                      const T* __restrict__ gamma, const T* __restrict__ beta, T* __restrict__ rm, T* __restrict__ rv,
                      T* __restrict__ mean, T* __restrict__ rstd, BnCoef<T>* __restrict__ coef, bool training,
                      double momentum, double eps) {
  const int64_t c = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  if (c >= geo.C) return;  // uniform per warp
  const int lane = int(threadIdx.x) % kWarp;
  double mu, rs;
  if (training) {
    const double2 t = channel_total(part, geo, c, lane);
    const double n = double(geo.N * geo.S);
    const double k = geo.chunks > 0 ? double(x[c * geo.S]) : 0.0;
    mu = k + t.x / n;
    double m2 = t.y - t.x * t.x / n;  // sum of squared deviations
    m2 = m2 < 0 ? 0.0 : m2;           // (keeps NaN)
    rs = 1.0 / sqrt(m2 / n + eps);
    if (lane == 0 && rm && rv) {
      rm[c] = T((1.0 - momentum) * double(rm[c]) + momentum * mu);
      rv[c] = T((1.0 - momentum) * double(rv[c]) + momentum * m2 / (n - 1.0));
    }
  } else {
    mu = double(rm[c]);
    rs = 1.0 / sqrt(double(rv[c]) + eps);
  }
  if (lane == 0) {
    mean[c] = T(mu);
    rstd[c] = T(rs);
    const T mh = T(mu);
    coef[c] = BnCoef<T>{mh, T(mu - double(mh)), T(rs * (gamma ? double(gamma[c]) : 1.0)), beta ? beta[c] : T(0)};
  }
}

template <class T>
struct BnNormF {
  const T* x;
  T* y;
  const BnCoef<T>* coef;
  __device__ BnCoef<T> prep(int64_t c) const { return coef[c]; }
  __device__ void apply(const BnCoef<T>& k, int64_t off) const { y[off] = ((x[off] - k.mh) - k.ml) * k.sc + k.sh; }
};

// Backward sums per channel: (sum g, sum g (x - mean)).
template <class T>
struct BnGradF {
  const T* g;
  const T* x;
  const T* mean;
  __device__ T prep(int64_t c) const { return mean[c]; }
  __device__ void acc(T mu, int64_t, int64_t off, double& a, double& b) const {
    const T gv = g[off];
    a += double(gv);
    b += double(gv * (x[off] - mu));
  }
};

// dx = a g + b (x - mu) + c (b = c = 0 in eval mode)
template <class T>
struct BnDxCoef {
  T mu, a, b, c;
};

template <class T>
__global__ void __launch_bounds__(kRowBlock)
    bn_grad_finalize(const double2* __restrict__ part, ChanGeo geo, const T* __restrict__ gamma,
                     const T* __restrict__ mean, const T* __restrict__ rstd, T* __restrict__ dgamma,
                     T* __restrict__ dbeta, BnDxCoef<T>* __restrict__ coef, bool training) {
  const int64_t c = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  if (c >= geo.C) return;  // uniform per warp
  const int lane = int(threadIdx.x) % kWarp;
  const double2 t = channel_total(part, geo, c, lane);
  if (lane == 0) {
    const double rs = double(rstd[c]), n = double(geo.N * geo.S);
    const double sg = t.x, sgx = t.y * rs;  // sum g, sum g xh
    if (dgamma) dgamma[c] = T(sgx);
    if (dbeta) dbeta[c] = T(sg);
    const double gr = (gamma ? double(gamma[c]) : 1.0) * rs;
    coef[c] = training ? BnDxCoef<T>{mean[c], T(gr), T(-gr * rs * sgx / n), T(-gr * sg / n)}
                       : BnDxCoef<T>{mean[c], T(gr), T(0), T(0)};
  }
}

template <class T, bool Training>
struct BnDxF {
  const T* g;
  const T* x;
  T* dx;
  const BnDxCoef<T>* coef;
  __device__ BnDxCoef<T> prep(int64_t c) const { return coef[c]; }
  __device__ void apply(const BnDxCoef<T>& k, int64_t off) const {
    if constexpr (Training)
      dx[off] = k.a * g[off] + k.b * (x[off] - k.mu) + k.c;
    else
      dx[off] = k.a * g[off];
  }
};

void batch_norm_fwd(KernelArgs& a) {
  const char* op = "batch_norm";
  DIVE_CHECK(a.in.size() >= 5 && a.out.size() >= 3 && !a.attrs.i.empty() && a.attrs.f.size() >= 2, op,
             ": expected inputs x, gamma, beta, running_mean, running_var, outputs y, mean, rstd, i[0] = training, "
             "f = [momentum, eps]");
  const Tensor &x = a.in[0], &gamma = a.in[1], &beta = a.in[2], &rm = a.in[3], &rv = a.in[4];
  const Tensor &y = a.out[0], &mean = a.out[1], &rstd = a.out[2];
  DIVE_CHECK(x.dim() == 3 && x.is_contiguous() && y.shape() == x.shape() && y.is_contiguous(), op,
             ": expected contiguous x and y [N, C, S], got ", x.str(), " and ", y.str());
  const int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  const bool training = a.attrs.i[0] != 0;
  const bool have_running = rm.defined() && rv.defined();
  check_opt_vec(op, gamma, C, "gamma");
  check_opt_vec(op, beta, C, "beta");
  check_opt_vec(op, rm, C, "running_mean");
  check_opt_vec(op, rv, C, "running_var");
  check_vec(op, mean, C, "mean");
  check_vec(op, rstd, C, "rstd");
  DIVE_CHECK(training || have_running, op, ": eval mode needs running statistics");
  check_dtypes(op, a.in, y.dtype());
  check_dtypes(op, a.out, y.dtype());
  if (C == 0) return;
  const double momentum = a.attrs.f[0], eps = a.attrs.f[1];
  const int dev = y.device().index;
  DeviceGuard guard(dev);
  cudaStream_t st = stream(dev);
  const ChanGeo geo = chan_geo(N, C, S);
  DIVE_DISPATCH_FLOAT(y.dtype(), op, [&] {
    using T = scalar_t;
    const T* xp = cptr<T>(x);
    Tensor hold;
    double2* part = nullptr;
    if (training) {
      part = partial_scratch(geo, y.device(), hold);
      launch_partials(geo, BnStatsF<T>{xp, S}, part, st);
    }
    static_assert(sizeof(BnCoef<T>) == 4 * sizeof(T), "BnCoef layout");
    Tensor coef_t = Tensor::empty({C, 4}, y.dtype(), y.device());
    auto* coef = static_cast<BnCoef<T>*>(coef_t.raw_data());
    bn_stats_finalize<T><<<chan_warp_grid(C), kRowBlock, 0, st>>>(
        part, geo, xp, cptr<T>(gamma), cptr<T>(beta), have_running ? mptr<T>(rm) : nullptr,
        have_running ? mptr<T>(rv) : nullptr, mptr<T>(mean), mptr<T>(rstd), coef, training, momentum, eps);
    CUDA_CHECK_LAUNCH();
    launch_apply(geo, BnNormF<T>{xp, mptr<T>(y), coef}, st);
  });
}

void batch_norm_bwd(KernelArgs& a) {
  const char* op = "batch_norm_backward";
  DIVE_CHECK(a.in.size() >= 5 && a.out.size() >= 3 && !a.attrs.i.empty(), op,
             ": expected inputs g, x, gamma, mean, rstd, outputs dx, dgamma, dbeta and i[0] = training");
  const Tensor &g = a.in[0], &x = a.in[1], &gamma = a.in[2], &mean = a.in[3], &rstd = a.in[4];
  const Tensor &dx = a.out[0], &dgamma = a.out[1], &dbeta = a.out[2];
  DIVE_CHECK(g.dim() == 3 && g.is_contiguous() && x.shape() == g.shape() && x.is_contiguous() &&
                 dx.shape() == g.shape() && dx.is_contiguous(),
             op, ": expected contiguous g, x, dx [N, C, S], got ", g.str(), ", ", x.str(), ", ", dx.str());
  const int64_t N = g.size(0), C = g.size(1), S = g.size(2);
  const bool training = a.attrs.i[0] != 0;
  check_opt_vec(op, gamma, C, "gamma");
  check_vec(op, mean, C, "mean");
  check_vec(op, rstd, C, "rstd");
  check_opt_vec(op, dgamma, C, "dgamma");
  check_opt_vec(op, dbeta, C, "dbeta");
  check_dtypes(op, a.in, dx.dtype());
  check_dtypes(op, a.out, dx.dtype());
  if (C == 0) return;
  const int dev = dx.device().index;
  DeviceGuard guard(dev);
  cudaStream_t st = stream(dev);
  const ChanGeo geo = chan_geo(N, C, S);
  DIVE_DISPATCH_FLOAT(dx.dtype(), op, [&] {
    using T = scalar_t;
    const T *gp = cptr<T>(g), *xp = cptr<T>(x), *mp = cptr<T>(mean);
    Tensor hold;
    double2* part = partial_scratch(geo, dx.device(), hold);
    launch_partials(geo, BnGradF<T>{gp, xp, mp}, part, st);
    static_assert(sizeof(BnDxCoef<T>) == 4 * sizeof(T), "BnDxCoef layout");
    Tensor coef_t = Tensor::empty({C, 4}, dx.dtype(), dx.device());
    auto* coef = static_cast<BnDxCoef<T>*>(coef_t.raw_data());
    bn_grad_finalize<T><<<chan_warp_grid(C), kRowBlock, 0, st>>>(part, geo, cptr<T>(gamma), mp, cptr<T>(rstd),
                                                                 mptr<T>(dgamma), mptr<T>(dbeta), coef, training);
    CUDA_CHECK_LAUNCH();
    if (training)
      launch_apply(geo, BnDxF<T, true>{gp, xp, mptr<T>(dx), coef}, st);
    else
      launch_apply(geo, BnDxF<T, false>{gp, xp, mptr<T>(dx), coef}, st);
  });
}

}  // namespace

void register_softmax_norm(KernelTable& t) {
  t.kernels[int(OpId::softmax)] = softmax_fwd<false>;
  t.kernels[int(OpId::log_softmax)] = softmax_fwd<true>;
  t.kernels[int(OpId::softmax_backward)] = softmax_bwd<false>;
  t.kernels[int(OpId::log_softmax_backward)] = softmax_bwd<true>;
  t.kernels[int(OpId::layer_norm)] = layer_norm_fwd;
  t.kernels[int(OpId::layer_norm_backward)] = layer_norm_bwd;
  t.kernels[int(OpId::batch_norm)] = batch_norm_fwd;
  t.kernels[int(OpId::batch_norm_backward)] = batch_norm_bwd;
}

}  // namespace dive::cuda
