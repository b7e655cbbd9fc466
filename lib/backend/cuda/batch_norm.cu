// batch_norm (+ backward) on CUDA (design: row_kernels.cuh, channel_reduce.cuh).
#include "lib/backend/cuda/channel_reduce.cuh"
#include "lib/ops/attrs.h"

namespace dive::cuda {

namespace {


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
  const Tensor &x = a.in[0], &gamma = a.in[1], &beta = a.in[2], &rm = a.in[3], &rv = a.in[4];
  const Tensor &y = a.out[0], &mean = a.out[1], &rstd = a.out[2];
  const int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  const BatchNormAttrs bn = BatchNormAttrs::unpack(a.attrs);  // operands checked by the op layer
  const bool training = bn.training;
  const bool have_running = rm.defined() && rv.defined();
  if (C == 0) return;
  const double momentum = bn.momentum, eps = bn.eps;
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
  const Tensor &g = a.in[0], &x = a.in[1], &gamma = a.in[2], &mean = a.in[3], &rstd = a.in[4];
  const Tensor &dx = a.out[0], &dgamma = a.out[1], &dbeta = a.out[2];
  const int64_t N = g.size(0), C = g.size(1), S = g.size(2);
  const bool training = BatchNormAttrs::unpack(a.attrs).training;  // operands checked by the op layer
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

void register_batch_norm(KernelTable& t) {
  t.kernels[int(OpId::batch_norm)] = batch_norm_fwd;
  t.kernels[int(OpId::batch_norm_backward)] = batch_norm_bwd;
}

}  // namespace dive::cuda
