// CPU layer norm over the last axis of [R, C], forward (y, mean, rstd) and backward (dx, dgamma, dbeta):
// oneDNN layer_normalization for f32 (our rstd <-> oneDNN's variance), the reference kernels for f64.
#include <cmath>
#include <vector>

#include "lib/backend/cpu/engine.h"
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"

namespace dive::cpu {

namespace {

const auto kFlags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;

dnnl::layer_normalization_forward::primitive_desc fwd_pd(int64_t R, int64_t C, float eps) {
  dnnl::layer_normalization_forward::desc d(dnnl::prop_kind::forward_training, plain_md({R, C}), plain_md({R}),
                                            eps, kFlags);
  return dnnl::layer_normalization_forward::primitive_desc(d, engine());
}

void forward_f32(KernelArgs& a, int64_t R, int64_t C, double eps) {
  std::vector<float> var(static_cast<size_t>(R));
  DNNL_CHECK("layer_norm", {
    auto prim = cached_primitive(Key("layer_norm") << R << C << eps,
                                 [&] { return dnnl::primitive(fwd_pd(R, C, float(eps))); });
    auto data = plain_md({R, C}), stat = plain_md({R}), par = plain_md({C});
    execute(prim, {{DNNL_ARG_SRC, mem(data, a.in[0].raw_data())},
                   {DNNL_ARG_SCALE, mem(par, a.in[1].raw_data())},
                   {DNNL_ARG_SHIFT, mem(par, a.in[2].raw_data())},
                   {DNNL_ARG_DST, mem(data, a.out[0].raw_data())},
                   {DNNL_ARG_MEAN, mem(stat, a.out[1].raw_data())},
                   {DNNL_ARG_VARIANCE, mem(stat, var.data())}});
  });
  float* rstd = ptr<float>(a.out[2]);
  for (int64_t r = 0; r < R; ++r) rstd[r] = float(1.0 / std::sqrt(double(var[size_t(r)]) + eps));
}

void backward_f32(KernelArgs& a, int64_t R, int64_t C) {
  // oneDNN wants the variance; it only ever uses var + eps, so pass var = 1 / rstd^2 with eps = 0.
  const double eps = 0.0;
  std::vector<float> var(static_cast<size_t>(R)), shift(size_t(C), 0.f);
  const float* rstd = ptr<const float>(a.in[4]);
  for (int64_t r = 0; r < R; ++r) var[size_t(r)] = float(1.0 / (double(rstd[r]) * double(rstd[r])));
  DNNL_CHECK("layer_norm_backward", {
    auto prim = cached_primitive(Key("layer_norm_backward") << R << C, [&] {
      dnnl::layer_normalization_backward::desc d(dnnl::prop_kind::backward, plain_md({R, C}), plain_md({R, C}),
                                                 plain_md({R}), float(eps), kFlags);
      return dnnl::primitive(
          dnnl::layer_normalization_backward::primitive_desc(d, engine(), fwd_pd(R, C, float(eps))));
    });
    auto data = plain_md({R, C}), stat = plain_md({R}), par = plain_md({C});
    execute(prim, {{DNNL_ARG_DIFF_DST, mem(data, a.in[0].raw_data())},
                   {DNNL_ARG_SRC, mem(data, a.in[1].raw_data())},
                   {DNNL_ARG_SCALE, mem(par, a.in[2].raw_data())},
                   {DNNL_ARG_SHIFT, mem(par, shift.data())},  // unused by the maths, required by oneDNN
                   {DNNL_ARG_MEAN, mem(stat, a.in[3].raw_data())},
                   {DNNL_ARG_VARIANCE, mem(stat, var.data())},
                   {DNNL_ARG_DIFF_SRC, mem(data, a.out[0].raw_data())},
                   {DNNL_ARG_DIFF_SCALE, mem(par, a.out[1].raw_data())},
                   {DNNL_ARG_DIFF_SHIFT, mem(par, a.out[2].raw_data())}});
  });
}

void forward(KernelArgs& a) {
  int64_t R = a.in[0].size(0), C = a.in[0].size(1);
  double eps = a.attrs.f[0];
  DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "layer_norm", [&] {
    if (std::is_same_v<scalar_t, float> && R * C > 0) forward_f32(a, R, C, eps);
    else run_reference(OpId::layer_norm, a);  // f64
  });
}

void backward(KernelArgs& a) {
  int64_t R = a.in[0].size(0), C = a.in[0].size(1);
  DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "layer_norm_backward", [&] {
    if (std::is_same_v<scalar_t, float> && R * C > 0) backward_f32(a, R, C);
    else run_reference(OpId::layer_norm_backward, a);  // f64
  });
}

}  // namespace

void register_layer_norm(KernelTable& t) {
  t.kernels[int(OpId::layer_norm)] = forward;
  t.kernels[int(OpId::layer_norm_backward)] = backward;
}

}  // namespace dive::cpu
