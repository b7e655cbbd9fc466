// Reference layer norm (+ backward) over the last axis, double accumulation.
#include <cmath>
#include <limits>

#include "lib/backend/ref/ref_util.h"

namespace dive::ref {

namespace {

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

}  // namespace

void register_layer_norm(KernelTable& t) {
  DIVE_REF_FLOAT_KERNEL(t, layer_norm, (layer_norm_t<scalar_t>(a)));
  DIVE_REF_FLOAT_KERNEL(t, layer_norm_backward, (layer_norm_backward_t<scalar_t>(a)));
}

}  // namespace dive::ref
