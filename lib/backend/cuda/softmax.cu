// softmax and log_softmax (+ backward) on CUDA (design: row_kernels.cuh).
#include "lib/backend/cuda/row_kernels.cuh"

namespace dive::cuda {

namespace {


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
  const Tensor &x = a.in[0], &y = a.out[0];
  const int64_t R = x.size(0), C = x.size(1);  // [R, C] contiguous: checked by the op layer
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
  const Tensor &g = a.in[0], &y = a.in[1], &d = a.out[0];
  const int64_t R = g.size(0), C = g.size(1);  // [R, C] contiguous: checked by the op layer
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

}  // namespace

void register_softmax(KernelTable& t) {
  t.kernels[int(OpId::softmax)] = softmax_fwd<false>;
  t.kernels[int(OpId::log_softmax)] = softmax_fwd<true>;
  t.kernels[int(OpId::softmax_backward)] = softmax_bwd<false>;
  t.kernels[int(OpId::log_softmax_backward)] = softmax_bwd<true>;
}

}  // namespace dive::cuda
