// layer_norm (+ backward) on CUDA (design: row_kernels.cuh, channel_reduce.cuh).
#include "lib/backend/cuda/channel_reduce.cuh"

namespace dive::cuda {

namespace {


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
  const Tensor &x = a.in[0], &gamma = a.in[1], &beta = a.in[2];
  const Tensor &y = a.out[0], &mean = a.out[1], &rstd = a.out[2];
  const int64_t R = x.size(0), C = x.size(1);  // operands checked by the op layer
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
  const Tensor &g = a.in[0], &x = a.in[1], &gamma = a.in[2], &mean = a.in[3], &rstd = a.in[4];
  const Tensor& dx = a.out[0];
  const Tensor dgamma = a.out.size() > 1 ? a.out[1] : Tensor(), dbeta = a.out.size() > 2 ? a.out[2] : Tensor();
  const int64_t R = g.size(0), C = g.size(1);  // operands checked by the op layer
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

}  // namespace

void register_layer_norm(KernelTable& t) {
  t.kernels[int(OpId::layer_norm)] = layer_norm_fwd;
  t.kernels[int(OpId::layer_norm_backward)] = layer_norm_bwd;
}

}  // namespace dive::cuda
