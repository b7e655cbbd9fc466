// smooth_chamfer (+ backward) on CUDA.
//
// Smooth Chamfer: one thread per (set a, set b) pair, grid-stride over the Bi * Bt pairs with b fastest,
// so a warp reads 32 adjacent Kt-wide column groups of each of the Ki rows (coalesced). Each thread does
// the whole Ki x Kt block as the reference: per-row and per-column maxima of alpha M, then
// sum exp(alpha M - max) for every row and column (stable LSE with exact maxima, so no recomputation
// fallback is needed). Ki = Kt = 4 (the model's sets) has its own kernels with the block in registers,
// read once (float4 rows for aligned f32); other Kt <= 16 keep the column state in registers (loops
// unrolled to 4, 8 or 16 with guards) and re-read rows from L1; larger Kt takes a generic path.
// The backward thread writes its own Ki x Kt block of dM (pairs never overlap: no atomics, bitwise
// reproducible). f32 math in f32 per element (the block is tiny), the final combination in double.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "lib/backend/cuda/launch.cuh"
#include "lib/backend/kernel_math.h"
#include "lib/ops/attrs.h"

namespace dive::cuda {

namespace {

constexpr int64_t kMaxGrid = int64_t(1) << 20;

unsigned grid_1d(int64_t n, int block) { return unsigned(std::min<int64_t>((n + block - 1) / block, kMaxGrid)); }


// =====================================================================================================
// smooth Chamfer
// =====================================================================================================

constexpr int kPairBlock = 128;

__device__ __forceinline__ float vexp(float v) { return expf(v); }
__device__ __forceinline__ double vexp(double v) { return exp(v); }
__device__ __forceinline__ float vlog(float v) { return logf(v); }
__device__ __forceinline__ double vlog(double v) { return log(v); }
// std::max(m, x) of the reference (m first): keeps m when x is NaN
template <class T>
__device__ __forceinline__ T smax(T m, T x) {
  return m < x ? x : m;
}
template <class T>
__device__ __forceinline__ T neg_inf() {
  return T(-INFINITY);
}

struct PairGeo {
  int64_t bi, bt, ld;  // sets, groups, row length of M (= bt * kt)
  int ki, kt;
  double alpha, denom;
};

// The (a, b) pair of flat index p (b fastest); I = uint32_t (cheap division) when the pair count allows.
template <class I>
__device__ __forceinline__ void pair_of(int64_t p, int64_t bt, int64_t& a, int64_t& b) {
  const I q = I(p) / I(bt);
  a = int64_t(q);
  b = p - a * bt;
}

// Sums over the block at t (row stride ld) of the row LSEs and the column LSEs of alpha M.
// KT > 0: kt <= KT, column state in registers (loops unrolled over KT, guarded by kt).
template <class T, int KT>
__device__ __forceinline__ void block_lse_sums(const T* __restrict__ t, int64_t ld, int ki, int kt, T alpha, T& srow,
                                               T& scol) {
  srow = T(0);
  scol = T(0);
  if constexpr (KT > 0) {
    T cmax[KT], csum[KT];
#pragma unroll
    for (int l = 0; l < KT; ++l) {
      cmax[l] = neg_inf<T>();
      csum[l] = T(0);
    }
    for (int k = 0; k < ki; ++k) {
      const T* row = t + k * ld;
#pragma unroll
      for (int l = 0; l < KT; ++l)
        if (l < kt) cmax[l] = smax(cmax[l], alpha * row[l]);
    }
    for (int k = 0; k < ki; ++k) {
      const T* row = t + k * ld;
      T v[KT];
      T rmax = neg_inf<T>();
#pragma unroll
      for (int l = 0; l < KT; ++l) {
        v[l] = l < kt ? alpha * row[l] : neg_inf<T>();
        if (l < kt) rmax = smax(rmax, v[l]);
      }
      T rs = T(0);
#pragma unroll
      for (int l = 0; l < KT; ++l) {
        if (l < kt) {
          rs += vexp(v[l] - rmax);
          csum[l] += vexp(v[l] - cmax[l]);
        }
      }
      srow += rmax + vlog(rs);
    }
#pragma unroll
    for (int l = 0; l < KT; ++l)
      if (l < kt) scol += cmax[l] + vlog(csum[l]);
  } else {
    for (int k = 0; k < ki; ++k) {
      const T* row = t + k * ld;
      T mx = neg_inf<T>(), s = T(0);
      for (int l = 0; l < kt; ++l) mx = smax(mx, alpha * row[l]);
      for (int l = 0; l < kt; ++l) s += vexp(alpha * row[l] - mx);
      srow += mx + vlog(s);
    }
    for (int l = 0; l < kt; ++l) {
      T mx = neg_inf<T>(), s = T(0);
      for (int k = 0; k < ki; ++k) mx = smax(mx, alpha * t[k * ld + l]);
      for (int k = 0; k < ki; ++k) s += vexp(alpha * t[k * ld + l] - mx);
      scol += mx + vlog(s);
    }
  }
}

template <class T, int KT, class I>
__global__ void __launch_bounds__(kPairBlock)
    chamfer_fwd_kernel(const T* __restrict__ m, T* __restrict__ out, int64_t lds, PairGeo geo) {
  const int64_t n = geo.bi * geo.bt;
  const T alpha = T(geo.alpha);
  const double ci = 1.0 / (double(geo.ki) * geo.alpha), ct = 1.0 / (double(geo.kt) * geo.alpha);
  for (int64_t p = int64_t(blockIdx.x) * kPairBlock + threadIdx.x; p < n; p += int64_t(gridDim.x) * kPairBlock) {
    int64_t a, b;
    pair_of<I>(p, geo.bt, a, b);
    T srow, scol;
    block_lse_sums<T, KT>(m + a * geo.ki * geo.ld + b * geo.kt, geo.ld, geo.ki, geo.kt, alpha, srow, scol);
    out[a * lds + b] = T((double(srow) * ci + double(scol) * ct) / geo.denom);
  }
}

// dM of one pair: w (softmax_l(alpha M[k, .]) / Ki + softmax_k(alpha M[., l]) / Kt), w = dS / denominator.
template <class T, int KT, class I>
__global__ void __launch_bounds__(kPairBlock)
    chamfer_bwd_kernel(const T* __restrict__ ds, const T* __restrict__ m, T* __restrict__ dm, PairGeo geo) {
  const int64_t n = geo.bi * geo.bt;
  const T alpha = T(geo.alpha), inv_ki = T(1.0 / double(geo.ki)), inv_kt = T(1.0 / double(geo.kt));
  const int ki = geo.ki, kt = geo.kt;
  const int64_t ld = geo.ld;
  for (int64_t p = int64_t(blockIdx.x) * kPairBlock + threadIdx.x; p < n; p += int64_t(gridDim.x) * kPairBlock) {
    int64_t a, b;
    pair_of<I>(p, geo.bt, a, b);
    const int64_t off = a * ki * ld + b * kt;
    const T* t = m + off;
    T* d = dm + off;
    const T w = T(double(ds[p]) / geo.denom);  // dS is contiguous [Bi, Bt]: its flat index is p
    if constexpr (KT > 0) {
      T cmax[KT], cw[KT];  // column max of alpha M; then w / (Kt * column sum)
#pragma unroll
      for (int l = 0; l < KT; ++l) {
        cmax[l] = neg_inf<T>();
        cw[l] = T(0);
      }
      for (int k = 0; k < ki; ++k) {
        const T* row = t + k * ld;
#pragma unroll
        for (int l = 0; l < KT; ++l)
          if (l < kt) cmax[l] = smax(cmax[l], alpha * row[l]);
      }
      for (int k = 0; k < ki; ++k) {
        const T* row = t + k * ld;
#pragma unroll
        for (int l = 0; l < KT; ++l)
          if (l < kt) cw[l] += vexp(alpha * row[l] - cmax[l]);
      }
#pragma unroll
      for (int l = 0; l < KT; ++l)
        if (l < kt) cw[l] = w * inv_kt / cw[l];
      for (int k = 0; k < ki; ++k) {
        const T* row = t + k * ld;
        T v[KT], e[KT];
        T rmax = neg_inf<T>();
#pragma unroll
        for (int l = 0; l < KT; ++l) {
          v[l] = l < kt ? alpha * row[l] : neg_inf<T>();
          if (l < kt) rmax = smax(rmax, v[l]);
        }
        T rs = T(0);
#pragma unroll
        for (int l = 0; l < KT; ++l) {
          e[l] = l < kt ? vexp(v[l] - rmax) : T(0);
          rs += e[l];
        }
        const T rw = w * inv_ki / rs;
#pragma unroll
        for (int l = 0; l < KT; ++l)
          if (l < kt) d[k * ld + l] = e[l] * rw + vexp(v[l] - cmax[l]) * cw[l];
      }
    } else {
      // any Kt: the row state per row, the column state recomputed per element (O(Ki^2 Kt), rare)
      for (int k = 0; k < ki; ++k) {
        const T* row = t + k * ld;
        T rmax = neg_inf<T>(), rs = T(0);
        for (int l = 0; l < kt; ++l) rmax = smax(rmax, alpha * row[l]);
        for (int l = 0; l < kt; ++l) rs += vexp(alpha * row[l] - rmax);
        const T rw = w * inv_ki / rs;
        for (int l = 0; l < kt; ++l) {
          T cmax = neg_inf<T>(), cs = T(0);
          for (int q = 0; q < ki; ++q) cmax = smax(cmax, alpha * t[q * ld + l]);
          for (int q = 0; q < ki; ++q) cs += vexp(alpha * t[q * ld + l] - cmax);
          const T x = alpha * row[l];
          d[k * ld + l] = vexp(x - rmax) * rw + vexp(x - cmax) * (w * inv_kt / cs);
        }
      }
    }
  }
}

// Ki x Kt known at compile time (the model's 4 x 4): the whole block in registers, read once (as float4
// rows when V4: f32, Kt = 4, M 16-byte aligned; the row length Bt * 4 keeps every row aligned), two
// exponentials per element in the forward and the backward.
template <class T, int KI, int KT, bool V4>
__device__ __forceinline__ void load_block(const T* __restrict__ t, int64_t ld, T (&v)[KI][KT]) {
#pragma unroll
  for (int k = 0; k < KI; ++k) {
    if constexpr (V4) {
      const float4 q = *reinterpret_cast<const float4*>(t + k * ld);
      v[k][0] = q.x;
      v[k][1] = q.y;
      v[k][2] = q.z;
      v[k][3] = q.w;
    } else {
#pragma unroll
      for (int l = 0; l < KT; ++l) v[k][l] = t[k * ld + l];
    }
  }
}

// alpha M, its row maxima and column maxima
template <class T, int KI, int KT>
__device__ __forceinline__ void block_maxima(T (&v)[KI][KT], T alpha, T (&rmax)[KI], T (&cmax)[KT]) {
#pragma unroll
  for (int l = 0; l < KT; ++l) cmax[l] = neg_inf<T>();
#pragma unroll
  for (int k = 0; k < KI; ++k) {
    rmax[k] = neg_inf<T>();
#pragma unroll
    for (int l = 0; l < KT; ++l) {
      v[k][l] *= alpha;
      rmax[k] = smax(rmax[k], v[k][l]);
      cmax[l] = smax(cmax[l], v[k][l]);
    }
  }
}

template <class T, int KI, int KT, bool V4, class I>
__global__ void __launch_bounds__(kPairBlock)
    chamfer_fwd_static(const T* __restrict__ m, T* __restrict__ out, int64_t lds, PairGeo geo) {
  const int64_t n = geo.bi * geo.bt;
  const T alpha = T(geo.alpha);
  const double ci = 1.0 / (double(KI) * geo.alpha), ct = 1.0 / (double(KT) * geo.alpha);
  for (int64_t p = int64_t(blockIdx.x) * kPairBlock + threadIdx.x; p < n; p += int64_t(gridDim.x) * kPairBlock) {
    int64_t a, b;
    pair_of<I>(p, geo.bt, a, b);
    T v[KI][KT], rmax[KI], cmax[KT], rs[KI], cs[KT];
    load_block<T, KI, KT, V4>(m + a * KI * geo.ld + b * KT, geo.ld, v);
    block_maxima(v, alpha, rmax, cmax);
#pragma unroll
    for (int l = 0; l < KT; ++l) cs[l] = T(0);
#pragma unroll
    for (int k = 0; k < KI; ++k) {
      rs[k] = T(0);
#pragma unroll
      for (int l = 0; l < KT; ++l) {
        rs[k] += vexp(v[k][l] - rmax[k]);
        cs[l] += vexp(v[k][l] - cmax[l]);
      }
    }
    T srow = T(0), scol = T(0);
#pragma unroll
    for (int k = 0; k < KI; ++k) srow += rmax[k] + vlog(rs[k]);
#pragma unroll
    for (int l = 0; l < KT; ++l) scol += cmax[l] + vlog(cs[l]);
    out[a * lds + b] = T((double(srow) * ci + double(scol) * ct) / geo.denom);
  }
}

template <class T, int KI, int KT, bool V4, class I>
__global__ void __launch_bounds__(kPairBlock)
    chamfer_bwd_static(const T* __restrict__ ds, const T* __restrict__ m, T* __restrict__ dm, PairGeo geo) {
  const int64_t n = geo.bi * geo.bt;
  const T alpha = T(geo.alpha), inv_ki = T(1.0 / double(KI)), inv_kt = T(1.0 / double(KT));
  const int64_t ld = geo.ld;
  for (int64_t p = int64_t(blockIdx.x) * kPairBlock + threadIdx.x; p < n; p += int64_t(gridDim.x) * kPairBlock) {
    int64_t a, b;
    pair_of<I>(p, geo.bt, a, b);
    const int64_t off = a * KI * ld + b * KT;
    const T w = T(double(ds[p]) / geo.denom);
    T v[KI][KT], rmax[KI], cmax[KT], er[KI][KT], ec[KI][KT], cw[KT];
    load_block<T, KI, KT, V4>(m + off, ld, v);
    block_maxima(v, alpha, rmax, cmax);
#pragma unroll
    for (int l = 0; l < KT; ++l) cw[l] = T(0);
#pragma unroll
    for (int k = 0; k < KI; ++k) {
#pragma unroll
      for (int l = 0; l < KT; ++l) {
        er[k][l] = vexp(v[k][l] - rmax[k]);
        ec[k][l] = vexp(v[k][l] - cmax[l]);
        cw[l] += ec[k][l];
      }
    }
#pragma unroll
    for (int l = 0; l < KT; ++l) cw[l] = w * inv_kt / cw[l];
#pragma unroll
    for (int k = 0; k < KI; ++k) {
      T rsum = T(0);
#pragma unroll
      for (int l = 0; l < KT; ++l) rsum += er[k][l];
      const T rw = w * inv_ki / rsum;
      T o[KT];
#pragma unroll
      for (int l = 0; l < KT; ++l) o[l] = er[k][l] * rw + ec[k][l] * cw[l];
      T* d = dm + off + k * ld;
      if constexpr (V4) {
        *reinterpret_cast<float4*>(d) = make_float4(o[0], o[1], o[2], o[3]);
      } else {
#pragma unroll
        for (int l = 0; l < KT; ++l) d[l] = o[l];
      }
    }
  }
}

// Calls f(IC<KT>) for the register bound of Kt (0: generic).
template <int N>
using IC = std::integral_constant<int, N>;
template <class F>
void kt_shape(int64_t kt, F&& f) {
  if (kt <= 4)
    f(IC<4>{});
  else if (kt <= 8)
    f(IC<8>{});
  else if (kt <= 16)
    f(IC<16>{});
  else
    f(IC<0>{});
}

// Calls f(I{}) with the pair index type: uint32_t when the flat index stays below 2^32 including the
// grid-stride step (cheap division), else uint64_t.
template <class F>
void launch_pairs(int64_t n, F&& f) {
  if (n < (int64_t(1) << 31))
    f(uint32_t{});
  else
    f(uint64_t{});
}

// float4 access for the static 4 x 4 f32 path: a 16-byte aligned base (rows are Bt * 4 floats apart).
bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

PairGeo pair_geo(const char* op, const KernelArgs& a, const Tensor& m) {
  // The op layer checked the shapes; the kernels' own limit is a 32-bit set size.
  const SmoothChamferAttrs sc = SmoothChamferAttrs::unpack(a.attrs);
  const int64_t ki = sc.ki, kt = sc.kt;
  DIVE_CHECK(ki <= INT32_MAX && kt <= INT32_MAX, op, ": set sizes above 2^31 - 1: Ki = ", ki, ", Kt = ", kt);
  PairGeo g;
  g.ki = int(ki);
  g.kt = int(kt);
  g.bi = m.size(0) / ki;
  g.bt = m.size(1) / kt;
  g.ld = m.size(1);
  g.alpha = sc.alpha;
  g.denom = sc.denominator;
  return g;
}

void smooth_chamfer(KernelArgs& a) {
  const char* op = "smooth_chamfer";
  const Tensor &M = a.in[0], &S = a.out[0];
  const PairGeo geo = pair_geo(op, a, M);
  DIVE_CHECK(S.dim() == 2 && S.size(0) == geo.bi && S.size(1) == geo.bt && (geo.bt <= 1 || S.stride(1) == 1), op,
             ": output must be [", geo.bi, ", ", geo.bt, "] with unit column stride, got ", S.str());
  check_dtypes(op, a.in, S.dtype());
  const int64_t n = geo.bi * geo.bt;
  if (n == 0) return;
  const int64_t lds = geo.bi > 1 ? S.stride(0) : geo.bt;
  const int dev = S.device().index;
  DeviceGuard guard(dev);
  cudaStream_t st = stream(dev);
  DIVE_DISPATCH_FLOAT(S.dtype(), op, [&] {
    using T = scalar_t;
    const T* mp = static_cast<const T*>(M.raw_data());
    T* sp = static_cast<T*>(S.raw_data());
    const unsigned grid = grid_1d(n, kPairBlock);
    if (geo.ki == 4 && geo.kt == 4) {
      if constexpr (std::is_same_v<T, float>) {
        if (aligned16(mp)) {
          launch_pairs(n, [&](auto i) {
            chamfer_fwd_static<T, 4, 4, true, decltype(i)><<<grid, kPairBlock, 0, st>>>(mp, sp, lds, geo);
          });
          return;
        }
      }
      launch_pairs(n, [&](auto i) {
        chamfer_fwd_static<T, 4, 4, false, decltype(i)><<<grid, kPairBlock, 0, st>>>(mp, sp, lds, geo);
      });
    } else {
      kt_shape(geo.kt, [&](auto kc) {
        constexpr int KT = decltype(kc)::value;
        launch_pairs(
            n, [&](auto i) { chamfer_fwd_kernel<T, KT, decltype(i)><<<grid, kPairBlock, 0, st>>>(mp, sp, lds, geo); });
      });
    }
  });
  CUDA_CHECK_LAUNCH();
}

void smooth_chamfer_backward(KernelArgs& a) {
  const char* op = "smooth_chamfer_backward";
  DIVE_CHECK(a.in.size() >= 2 && a.out.size() >= 1, op, ": expected inputs dS, M and output dM");
  const Tensor &dS = a.in[0], &M = a.in[1], &dM = a.out[0];
  const PairGeo geo = pair_geo(op, a, M);
  DIVE_CHECK(dS.dim() == 2 && dS.size(0) == geo.bi && dS.size(1) == geo.bt && dS.is_contiguous(), op,
             ": dS must be contiguous [", geo.bi, ", ", geo.bt, "], got ", dS.str());
  DIVE_CHECK(dM.shape() == M.shape() && dM.is_contiguous(), op, ": dM must be contiguous ", shape_str(M.shape()),
             ", got ", dM.str());
  check_dtypes(op, a.in, dM.dtype());
  const int64_t n = geo.bi * geo.bt;
  if (n == 0) return;
  const int dev = dM.device().index;
  DeviceGuard guard(dev);
  cudaStream_t st = stream(dev);
  DIVE_DISPATCH_FLOAT(dM.dtype(), op, [&] {
    using T = scalar_t;
    const T *dsp = static_cast<const T*>(dS.raw_data()), *mp = static_cast<const T*>(M.raw_data());
    T* dmp = static_cast<T*>(dM.raw_data());
    const unsigned grid = grid_1d(n, kPairBlock);
    if (geo.ki == 4 && geo.kt == 4) {
      if constexpr (std::is_same_v<T, float>) {
        if (aligned16(mp) && aligned16(dmp)) {
          launch_pairs(n, [&](auto i) {
            chamfer_bwd_static<T, 4, 4, true, decltype(i)><<<grid, kPairBlock, 0, st>>>(dsp, mp, dmp, geo);
          });
          return;
        }
      }
      launch_pairs(n, [&](auto i) {
        chamfer_bwd_static<T, 4, 4, false, decltype(i)><<<grid, kPairBlock, 0, st>>>(dsp, mp, dmp, geo);
      });
    } else {
      kt_shape(geo.kt, [&](auto kc) {
        constexpr int KT = decltype(kc)::value;
        launch_pairs(
            n, [&](auto i) { chamfer_bwd_kernel<T, KT, decltype(i)><<<grid, kPairBlock, 0, st>>>(dsp, mp, dmp, geo); });
      });
    }
  });
  CUDA_CHECK_LAUNCH();
}


}  // namespace

void register_similarity(KernelTable& t) {
  t.kernels[int(OpId::smooth_chamfer)] = smooth_chamfer;
  t.kernels[int(OpId::smooth_chamfer_backward)] = smooth_chamfer_backward;
}

}  // namespace dive::cuda
