// CPU softmax / log_softmax over the last axis of [R, C], forward and backward: oneDNN softmax_v2 for
// f32 (cached per shape), row-parallel OpenMP loops with double accumulation for f64.
#include <cmath>
#include <limits>

#include "lib/backend/cpu/engine.h"
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"

namespace dive::cpu {

namespace {

using dnnl::algorithm;

dnnl::softmax_v2_forward::primitive_desc fwd_pd(algorithm alg, const dnnl::memory::desc& m) {
  dnnl::softmax_v2_forward::desc d(dnnl::prop_kind::forward_training, alg, m, m, 1);
  return dnnl::softmax_v2_forward::primitive_desc(d, engine());
}

template <bool Log>
void forward_f32(const char* name, const Tensor& x, const Tensor& y, int64_t R, int64_t C) {
  const algorithm alg = Log ? algorithm::softmax_log : algorithm::softmax_accurate;
  DNNL_CHECK(name, {
    auto m = plain_md({R, C});
    auto prim = cached_primitive(Key(name) << R << C, [&] { return dnnl::primitive(fwd_pd(alg, m)); });
    execute(prim, {{DNNL_ARG_SRC, mem(m, x.raw_data())}, {DNNL_ARG_DST, mem(m, y.raw_data())}});
  });
}

template <bool Log>
void backward_f32(const char* name, const Tensor& g, const Tensor& y, const Tensor& d, int64_t R, int64_t C) {
  const algorithm alg = Log ? algorithm::softmax_log : algorithm::softmax_accurate;
  DNNL_CHECK(name, {
    auto m = plain_md({R, C});
    auto prim = cached_primitive(Key(name) << R << C, [&] {
      dnnl::softmax_v2_backward::desc bd(alg, m, m, m, 1);
      return dnnl::primitive(dnnl::softmax_v2_backward::primitive_desc(bd, engine(), fwd_pd(alg, m)));
    });
    execute(prim, {{DNNL_ARG_DST, mem(m, y.raw_data())},
                   {DNNL_ARG_DIFF_DST, mem(m, g.raw_data())},
                   {DNNL_ARG_DIFF_SRC, mem(m, d.raw_data())}});
  });
}

template <class T, bool Log>
void forward_loop(const Tensor& X, const Tensor& Y, int64_t R, int64_t C) {
  const T* x = ptr<const T>(X);
  T* y = ptr<T>(Y);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * C;
    double m = -std::numeric_limits<double>::infinity(), s = 0;
    for (int64_t c = 0; c < C; ++c) m = std::max(m, double(xr[c]));
    for (int64_t c = 0; c < C; ++c) s += std::exp(double(xr[c]) - m);
    const double ls = std::log(s);
    for (int64_t c = 0; c < C; ++c)
      y[r * C + c] = Log ? T(double(xr[c]) - m - ls) : T(std::exp(double(xr[c]) - m) / s);
  }
}

template <class T, bool Log>
void backward_loop(const Tensor& G, const Tensor& Y, const Tensor& D, int64_t R, int64_t C) {
  const T* g = ptr<const T>(G);
  const T* y = ptr<const T>(Y);
  T* d = ptr<T>(D);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < R; ++r) {
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += Log ? double(g[r * C + c]) : double(g[r * C + c]) * double(y[r * C + c]);
    for (int64_t c = 0; c < C; ++c) {
      double gi = g[r * C + c], yi = y[r * C + c];
      d[r * C + c] = Log ? T(gi - std::exp(yi) * s) : T(yi * (gi - s));
    }
  }
}

template <bool Log>
void forward(KernelArgs& a) {
  const char* name = Log ? "log_softmax" : "softmax";
  const Tensor &x = a.in[0], &y = a.out[0];
  int64_t R = x.size(0), C = x.size(1);
  if (R * C == 0) return;
  DIVE_DISPATCH_FLOAT(x.dtype(), name, [&] {
    if constexpr (std::is_same_v<scalar_t, float>) forward_f32<Log>(name, x, y, R, C);
    else forward_loop<scalar_t, Log>(x, y, R, C);
  });
}

template <bool Log>
void backward(KernelArgs& a) {
  const char* name = Log ? "log_softmax_backward" : "softmax_backward";
  const Tensor &g = a.in[0], &y = a.in[1], &d = a.out[0];
  int64_t R = g.size(0), C = g.size(1);
  if (R * C == 0) return;
  DIVE_DISPATCH_FLOAT(g.dtype(), name, [&] {
    if constexpr (std::is_same_v<scalar_t, float>) backward_f32<Log>(name, g, y, d, R, C);
    else backward_loop<scalar_t, Log>(g, y, d, R, C);
  });
}

}  // namespace

void register_softmax(KernelTable& t) {
  t.kernels[int(OpId::softmax)] = forward<false>;
  t.kernels[int(OpId::log_softmax)] = forward<true>;
  t.kernels[int(OpId::softmax_backward)] = backward<false>;
  t.kernels[int(OpId::log_softmax_backward)] = backward<true>;
}

}  // namespace dive::cpu
