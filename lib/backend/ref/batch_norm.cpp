// Reference batch norm (+ backward) per channel of [N, C, S], double accumulation.
#include <cmath>
#include <limits>

#include "lib/backend/ref/ref_util.h"
#include "lib/ops/attrs.h"

namespace dive::ref {

namespace {

template <class T>
void batch_norm_t(KernelArgs& a) {
  const Tensor& X = a.in[0];
  int64_t N = X.size(0), C = X.size(1), S = X.size(2);
  const BatchNormAttrs bn = BatchNormAttrs::unpack(a.attrs);
  const bool training = bn.training;
  const double momentum = bn.momentum, eps = bn.eps;
  const T *x = X.data<T>(), *gm = a.in[1].data<T>(), *bt = a.in[2].data<T>();
  bool have_running = a.in[3].defined();
  T* rm = have_running ? a.in[3].data<T>() : nullptr;
  T* rv = have_running ? a.in[4].data<T>() : nullptr;
  T *y = a.out[0].data<T>(), *mean = a.out[1].data<T>(), *rstd = a.out[2].data<T>();
  double n = double(N * S);
  for (int64_t c = 0; c < C; ++c) {
    double mu, rs;
    if (training) {
      double s = 0, v = 0;
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < S; ++k) s += x[(i * C + c) * S + k];
      mu = s / n;
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < S; ++k) {
          double d = x[(i * C + c) * S + k] - mu;
          v += d * d;
        }
      rs = 1.0 / std::sqrt(v / n + eps);
      if (have_running) {
        rm[c] = T((1.0 - momentum) * double(rm[c]) + momentum * mu);
        rv[c] = T((1.0 - momentum) * double(rv[c]) + momentum * v / (n - 1.0));
      }
    } else {
      mu = rm[c];
      rs = 1.0 / std::sqrt(double(rv[c]) + eps);
    }
    mean[c] = T(mu);
    rstd[c] = T(rs);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t k = 0; k < S; ++k) {
        int64_t j = (i * C + c) * S + k;
        y[j] = T((x[j] - mu) * rs * double(gm[c]) + double(bt[c]));
      }
  }
}

template <class T>
void batch_norm_backward_t(KernelArgs& a) {
  const Tensor& G = a.in[0];
  int64_t N = G.size(0), C = G.size(1), S = G.size(2);
  const bool training = BatchNormAttrs::unpack(a.attrs).training;
  const T *g = G.data<T>(), *x = a.in[1].data<T>(), *gm = a.in[2].data<T>(), *mean = a.in[3].data<T>(),
          *rstd = a.in[4].data<T>();
  T *dx = a.out[0].data<T>(), *dg = a.out[1].data<T>(), *db = a.out[2].data<T>();
  double n = double(N * S);
  for (int64_t c = 0; c < C; ++c) {
    double mu = mean[c], rs = rstd[c], sg = 0, sgx = 0;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t k = 0; k < S; ++k) {
        int64_t j = (i * C + c) * S + k;
        sg += g[j];
        sgx += double(g[j]) * (x[j] - mu) * rs;
      }
    dg[c] = T(sgx);
    db[c] = T(sg);
    double gamma = gm[c];
    for (int64_t i = 0; i < N; ++i)
      for (int64_t k = 0; k < S; ++k) {
        int64_t j = (i * C + c) * S + k;
        double xh = (x[j] - mu) * rs;
        dx[j] = training ? T(gamma * rs * (double(g[j]) - sg / n - xh * sgx / n)) : T(gamma * rs * double(g[j]));
      }
  }
}

}  // namespace

void register_batch_norm(KernelTable& t) {
  DIVE_REF_FLOAT_KERNEL(t, batch_norm, (batch_norm_t<scalar_t>(a)));
  DIVE_REF_FLOAT_KERNEL(t, batch_norm_backward, (batch_norm_backward_t<scalar_t>(a)));
}

}  // namespace dive::ref
