// Row kernels shared by softmax.cu and layer_norm.cu: [R, C] contiguous rows reduced along C.
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
// All results are bitwise reproducible run to run (fixed reduction order, no atomics). Scratch (partials,
// per-channel coefficients) comes from Tensor::empty (the stream-ordered caching allocator).
#pragma once
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

}  // namespace
}  // namespace dive::cuda
