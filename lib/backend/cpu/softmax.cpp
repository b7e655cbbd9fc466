// CPU softmax / log_softmax over the last axis of [R, C], forward and backward: oneDNN softmax_v2 for
// f32 (cached per shape), the reference kernels for f64.
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

template <bool Log>
void forward(KernelArgs& a) {
  const char* name = Log ? "log_softmax" : "softmax";
  const Tensor &x = a.in[0], &y = a.out[0];
  int64_t R = x.size(0), C = x.size(1);
  if (R * C == 0) return;
  DIVE_DISPATCH_FLOAT(x.dtype(), name, [&] {
    if constexpr (std::is_same_v<scalar_t, float>) forward_f32<Log>(name, x, y, R, C);
    else run_reference(Log ? OpId::log_softmax : OpId::softmax, a);  // f64
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
    else run_reference(Log ? OpId::log_softmax_backward : OpId::softmax_backward, a);  // f64
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
