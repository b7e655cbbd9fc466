// Reference softmax family, layer norm and batch norm (double accumulation).
#include <cmath>
#include <limits>

#include "lib/backend/ref/ref_util.h"

namespace dive::ref {

namespace {

template <class T, bool Log>
void softmax_t(KernelArgs& a) {
  const Tensor &X = a.in[0], &Y = a.out[0];
  int64_t R = X.size(0), C = X.size(1);
  const T* x = X.data<T>();
  T* y = Y.data<T>();
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * C;
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < C; ++c) m = std::max(m, double(xr[c]));
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(double(xr[c]) - m);
    for (int64_t c = 0; c < C; ++c)
      y[r * C + c] = Log ? T(double(xr[c]) - m - std::log(s)) : T(std::exp(double(xr[c]) - m) / s);
  }
}

template <class T, bool Log>
void softmax_backward_t(KernelArgs& a) {
  const Tensor &G = a.in[0], &Y = a.in[1], &D = a.out[0];
  int64_t R = G.size(0), C = G.size(1);
  const T* g = G.data<T>();
  const T* y = Y.data<T>();
  T* d = D.data<T>();
  for (int64_t r = 0; r < R; ++r) {
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += Log ? double(g[r * C + c]) : double(g[r * C + c]) * double(y[r * C + c]);
    for (int64_t c = 0; c < C; ++c) {
      double gi = g[r * C + c], yi = y[r * C + c];
      d[r * C + c] = Log ? T(gi - std::exp(yi) * s) : T(yi * (gi - s));
    }
  }
}

template <class T>
void layer_norm_t(KernelArgs& a) {
  const Tensor &X = a.in[0];
  int64_t R = X.size(0), C = X.size(1);
  double eps = a.attrs.f[0];
  const T *x = X.data<T>(), *gm = a.in[1].data<T>(), *bt = a.in[2].data<T>();
  T *y = a.out[0].data<T>(), *mean = a.out[1].data<T>(), *rstd = a.out[2].data<T>();
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * C;
    double mu = 0, v = 0;
    for (int64_t c = 0; c < C; ++c) mu += xr[c];
    mu /= double(C);
    for (int64_t c = 0; c < C; ++c) v += (xr[c] - mu) * (xr[c] - mu);
    double rs = 1.0 / std::sqrt(v / double(C) + eps);
    for (int64_t c = 0; c < C; ++c) y[r * C + c] = T((xr[c] - mu) * rs * double(gm[c]) + double(bt[c]));
    mean[r] = T(mu);
    rstd[r] = T(rs);
  }
}

template <class T>
void layer_norm_backward_t(KernelArgs& a) {
  const Tensor& G = a.in[0];
  int64_t R = G.size(0), C = G.size(1);
  const T *g = G.data<T>(), *x = a.in[1].data<T>(), *gm = a.in[2].data<T>(), *mean = a.in[3].data<T>(),
          *rstd = a.in[4].data<T>();
  T *dx = a.out[0].data<T>(), *dg = a.out[1].data<T>(), *db = a.out[2].data<T>();
  std::vector<double> sdg(size_t(C), 0.0), sdb(size_t(C), 0.0);
  for (int64_t r = 0; r < R; ++r) {
    double mu = mean[r], rs = rstd[r], m1 = 0, m2 = 0;
    for (int64_t c = 0; c < C; ++c) {
      double xh = (x[r * C + c] - mu) * rs, gi = g[r * C + c], dxh = gi * double(gm[c]);
      sdg[size_t(c)] += gi * xh;
      sdb[size_t(c)] += gi;
      m1 += dxh;
      m2 += dxh * xh;
    }
    m1 /= double(C);
    m2 /= double(C);
    for (int64_t c = 0; c < C; ++c) {
      double xh = (x[r * C + c] - mu) * rs, dxh = double(g[r * C + c]) * double(gm[c]);
      dx[r * C + c] = T(rs * (dxh - m1 - xh * m2));
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    dg[c] = T(sdg[size_t(c)]);
    db[c] = T(sdb[size_t(c)]);
  }
}

template <class T>
void batch_norm_t(KernelArgs& a) {
  const Tensor& X = a.in[0];
  int64_t N = X.size(0), C = X.size(1), S = X.size(2);
  bool training = a.attrs.i[0] != 0;
  double momentum = a.attrs.f[0], eps = a.attrs.f[1];
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
  bool training = a.attrs.i[0] != 0;
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

void register_nn(KernelTable& t) {
#define DIVE_REF_FLOAT(op, fn) \
  t.kernels[int(OpId::op)] = [](KernelArgs& a) { DIVE_DISPATCH_FLOAT(a.in[0].dtype(), #op, [&] { fn; }); }
  DIVE_REF_FLOAT(softmax, (softmax_t<scalar_t, false>(a)));
  DIVE_REF_FLOAT(log_softmax, (softmax_t<scalar_t, true>(a)));
  DIVE_REF_FLOAT(softmax_backward, (softmax_backward_t<scalar_t, false>(a)));
  DIVE_REF_FLOAT(log_softmax_backward, (softmax_backward_t<scalar_t, true>(a)));
  DIVE_REF_FLOAT(layer_norm, layer_norm_t<scalar_t>(a));
  DIVE_REF_FLOAT(layer_norm_backward, layer_norm_backward_t<scalar_t>(a));
  DIVE_REF_FLOAT(batch_norm, batch_norm_t<scalar_t>(a));
  DIVE_REF_FLOAT(batch_norm_backward, batch_norm_backward_t<scalar_t>(a));
#undef DIVE_REF_FLOAT
}

}  // namespace dive::ref
