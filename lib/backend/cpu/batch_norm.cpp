// CPU batch norm on x [N, C, S]: forward (training: batch stats + in-place running-stat update with the
// unbiased variance; eval: running stats) and backward (both modes). oneDNN batch_normalization for
// f32 (our rstd <-> oneDNN's variance), channel-parallel OpenMP loops for f64.
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

template <class T>
void forward_loop(KernelArgs& a, int64_t N, int64_t C, int64_t S, bool training, double momentum, double eps) {
  const T *x = ptr<const T>(a.in[0]), *gm = ptr<const T>(a.in[1]), *bt = ptr<const T>(a.in[2]);
  const bool have_running = a.in[3].defined();
  T* rm = have_running ? ptr<T>(a.in[3]) : nullptr;
  T* rv = have_running ? ptr<T>(a.in[4]) : nullptr;
  T *y = ptr<T>(a.out[0]), *mean = ptr<T>(a.out[1]), *rstd = ptr<T>(a.out[2]);
  const double n = double(N * S);
#pragma omp parallel for schedule(static)
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
void backward_loop(KernelArgs& a, int64_t N, int64_t C, int64_t S, bool training) {
  const T *g = ptr<const T>(a.in[0]), *x = ptr<const T>(a.in[1]), *gm = ptr<const T>(a.in[2]),
          *mean = ptr<const T>(a.in[3]), *rstd = ptr<const T>(a.in[4]);
  T *dx = ptr<T>(a.out[0]), *dg = ptr<T>(a.out[1]), *db = ptr<T>(a.out[2]);
  const double n = double(N * S);
#pragma omp parallel for schedule(static)
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

void forward(KernelArgs& a) {
  const Tensor& x = a.in[0];
  int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  bool training = a.attrs.i[0] != 0;
  double momentum = a.attrs.f[0], eps = a.attrs.f[1];
  DIVE_DISPATCH_FLOAT(x.dtype(), "batch_norm", [&] {
    if (std::is_same_v<scalar_t, float> && x.numel() > 0) forward_f32(a, N, C, S, training, momentum, eps);
    else forward_loop<scalar_t>(a, N, C, S, training, momentum, eps);
  });
}

void backward(KernelArgs& a) {
  const Tensor& g = a.in[0];
  int64_t N = g.size(0), C = g.size(1), S = g.size(2);
  bool training = a.attrs.i[0] != 0;
  DIVE_DISPATCH_FLOAT(g.dtype(), "batch_norm_backward", [&] {
    if (std::is_same_v<scalar_t, float> && g.numel() > 0) backward_f32(a, N, C, S, training);
    else backward_loop<scalar_t>(a, N, C, S, training);
  });
}

}  // namespace

void register_batch_norm(KernelTable& t) {
  t.kernels[int(OpId::batch_norm)] = forward;
  t.kernels[int(OpId::batch_norm_backward)] = backward;
}

}  // namespace dive::cpu
