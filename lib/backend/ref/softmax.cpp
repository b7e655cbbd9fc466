// Reference softmax and log_softmax (+ backward) over the last axis, double accumulation.
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

}  // namespace

void register_softmax(KernelTable& t) {
  DIVE_REF_FLOAT_KERNEL(t, softmax, (softmax_t<scalar_t, false>(a)));
  DIVE_REF_FLOAT_KERNEL(t, log_softmax, (softmax_t<scalar_t, true>(a)));
  DIVE_REF_FLOAT_KERNEL(t, softmax_backward, (softmax_backward_t<scalar_t, false>(a)));
  DIVE_REF_FLOAT_KERNEL(t, log_softmax_backward, (softmax_backward_t<scalar_t, true>(a)));
}

}  // namespace dive::ref
