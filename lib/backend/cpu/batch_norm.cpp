// CPU batch norm on x [N, C, S]: forward (training: batch stats + in-place running-stat update with the
// unbiased variance; eval: running stats) and backward (both modes). oneDNN batch_normalization for
// f32 (our rstd <-> oneDNN's variance), the reference kernels for f64.
#include <cmath>
#include <vector>

#include "lib/backend/cpu/engine.h"
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"

namespace dive::cpu {

namespace {

using dnnl::normalization_flags;

normalization_flags flags(bool global) {
  normalization_flags f = normalization_flags::use_scale | normalization_flags::use_shift;
  return global ? f | normalization_flags::use_global_stats : f;
}

dnnl::memory::desc data_md(int64_t N, int64_t C, int64_t S) { return plain_md({N, C, S, 1}); }

dnnl::batch_normalization_forward::primitive_desc fwd_pd(int64_t N, int64_t C, int64_t S, float eps, bool global,
                                                         dnnl::prop_kind pk) {
  dnnl::batch_normalization_forward::desc d(pk, data_md(N, C, S), eps, flags(global));
  return dnnl::batch_normalization_forward::primitive_desc(d, engine());
}

void forward_f32(KernelArgs& a, int64_t N, int64_t C, int64_t S, bool training, double momentum, double eps) {
  std::vector<float> var(static_cast<size_t>(C));
  float* mean = ptr<float>(a.out[1]);
  float* rstd = ptr<float>(a.out[2]);
  const bool have_running = a.in[3].defined();
  if (!training) {  // running stats are the inputs
    const float* rm = ptr<const float>(a.in[3]);
    const float* rv = ptr<const float>(a.in[4]);
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = rm[c];
      var[size_t(c)] = rv[c];
    }
  }
  DNNL_CHECK("batch_norm", {
    auto pk = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    auto prim = cached_primitive(Key("batch_norm") << N << C << S << eps << int64_t(training), [&] {
      return dnnl::primitive(fwd_pd(N, C, S, float(eps), !training, pk));
    });
    auto data = data_md(N, C, S), par = plain_md({C});
    execute(prim, {{DNNL_ARG_SRC, mem(data, a.in[0].raw_data())},
                   {DNNL_ARG_SCALE, mem(par, a.in[1].raw_data())},
                   {DNNL_ARG_SHIFT, mem(par, a.in[2].raw_data())},
                   {DNNL_ARG_DST, mem(data, a.out[0].raw_data())},
                   {DNNL_ARG_MEAN, mem(par, mean)},
                   {DNNL_ARG_VARIANCE, mem(par, var.data())}});
  });
  const double n = double(N * S);
  for (int64_t c = 0; c < C; ++c) {
    double v = var[size_t(c)];
    rstd[c] = float(1.0 / std::sqrt(v + eps));
    if (training && have_running) {
      float* rm = ptr<float>(a.in[3]);
      float* rv = ptr<float>(a.in[4]);
      rm[c] = float((1.0 - momentum) * double(rm[c]) + momentum * double(mean[c]));
      rv[c] = float((1.0 - momentum) * double(rv[c]) + momentum * v * n / (n - 1.0));
    }
  }
}

void backward_f32(KernelArgs& a, int64_t N, int64_t C, int64_t S, bool training) {
  // oneDNN wants the variance; it only ever uses var + eps, so pass var = 1 / rstd^2 with eps = 0.
  std::vector<float> var(static_cast<size_t>(C)), shift(size_t(C), 0.f);
  const float* rstd = ptr<const float>(a.in[4]);
  for (int64_t c = 0; c < C; ++c) var[size_t(c)] = float(1.0 / (double(rstd[c]) * double(rstd[c])));
  DNNL_CHECK("batch_norm_backward", {
    auto prim = cached_primitive(Key("batch_norm_backward") << N << C << S << int64_t(training), [&] {
      dnnl::batch_normalization_backward::desc d(dnnl::prop_kind::backward, data_md(N, C, S), data_md(N, C, S),
                                                 0.f, flags(!training));
      auto hint = fwd_pd(N, C, S, 0.f, !training, dnnl::prop_kind::forward_training);
      return dnnl::primitive(dnnl::batch_normalization_backward::primitive_desc(d, engine(), hint));
    });
    auto data = data_md(N, C, S), par = plain_md({C});
    execute(prim, {{DNNL_ARG_DIFF_DST, mem(data, a.in[0].raw_data())},
                   {DNNL_ARG_SRC, mem(data, a.in[1].raw_data())},
                   {DNNL_ARG_SCALE, mem(par, a.in[2].raw_data())},
                   {DNNL_ARG_SHIFT, mem(par, shift.data())},
                   {DNNL_ARG_MEAN, mem(par, a.in[3].raw_data())},
                   {DNNL_ARG_VARIANCE, mem(par, var.data())},
                   {DNNL_ARG_DIFF_SRC, mem(data, a.out[0].raw_data())},
                   {DNNL_ARG_DIFF_SCALE, mem(par, a.out[1].raw_data())},
                   {DNNL_ARG_DIFF_SHIFT, mem(par, a.out[2].raw_data())}});
  });
}

void forward(KernelArgs& a) {
  const Tensor& x = a.in[0];
  int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  bool training = a.attrs.i[0] != 0;
  double momentum = a.attrs.f[0], eps = a.attrs.f[1];
  DIVE_DISPATCH_FLOAT(x.dtype(), "batch_norm", [&] {
    if (std::is_same_v<scalar_t, float> && x.numel() > 0) forward_f32(a, N, C, S, training, momentum, eps);
    else run_reference(OpId::batch_norm, a);  // f64
  });
}

void backward(KernelArgs& a) {
  const Tensor& g = a.in[0];
  int64_t N = g.size(0), C = g.size(1), S = g.size(2);
  bool training = a.attrs.i[0] != 0;
  DIVE_DISPATCH_FLOAT(g.dtype(), "batch_norm_backward", [&] {
    if (std::is_same_v<scalar_t, float> && g.numel() > 0) backward_f32(a, N, C, S, training);
    else run_reference(OpId::batch_norm_backward, a);  // f64
  });
}

}  // namespace

void register_batch_norm(KernelTable& t) {
  t.kernels[int(OpId::batch_norm)] = forward;
  t.kernels[int(OpId::batch_norm_backward)] = backward;
}

}  // namespace dive::cpu
