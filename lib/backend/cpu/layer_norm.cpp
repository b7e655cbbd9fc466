// CPU layer norm over the last axis of [R, C], forward (y, mean, rstd) and backward (dx, dgamma, dbeta):
// oneDNN layer_normalization for f32 (our rstd <-> oneDNN's variance), OpenMP loops for f64.
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

template <class T>
void forward_loop(KernelArgs& a, int64_t R, int64_t C, double eps) {
  const T *x = ptr<const T>(a.in[0]), *gm = ptr<const T>(a.in[1]), *bt = ptr<const T>(a.in[2]);
  T *y = ptr<T>(a.out[0]), *mean = ptr<T>(a.out[1]), *rstd = ptr<T>(a.out[2]);
#pragma omp parallel for schedule(static)
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
void backward_loop(KernelArgs& a, int64_t R, int64_t C) {
  const T *g = ptr<const T>(a.in[0]), *x = ptr<const T>(a.in[1]), *gm = ptr<const T>(a.in[2]),
          *mean = ptr<const T>(a.in[3]), *rstd = ptr<const T>(a.in[4]);
  T *dx = ptr<T>(a.out[0]), *dg = ptr<T>(a.out[1]), *db = ptr<T>(a.out[2]);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < R; ++r) {
    double mu = mean[r], rs = rstd[r], m1 = 0, m2 = 0;
    for (int64_t c = 0; c < C; ++c) {
      double xh = (x[r * C + c] - mu) * rs, dxh = double(g[r * C + c]) * double(gm[c]);
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
  // parameter gradients: parallel over columns, rows summed in order
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    double sdg = 0, sdb = 0;
    for (int64_t r = 0; r < R; ++r) {
      double gi = g[r * C + c];
      sdg += gi * (x[r * C + c] - double(mean[r])) * double(rstd[r]);
      sdb += gi;
    }
    dg[c] = T(sdg);
    db[c] = T(sdb);
  }
}

void forward(KernelArgs& a) {
  int64_t R = a.in[0].size(0), C = a.in[0].size(1);
  double eps = a.attrs.f[0];
  DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "layer_norm", [&] {
    if (std::is_same_v<scalar_t, float> && R * C > 0) forward_f32(a, R, C, eps);
    else forward_loop<scalar_t>(a, R, C, eps);
  });
}

void backward(KernelArgs& a) {
  int64_t R = a.in[0].size(0), C = a.in[0].size(1);
  DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "layer_norm_backward", [&] {
    if (std::is_same_v<scalar_t, float> && R * C > 0) backward_f32(a, R, C);
    else backward_loop<scalar_t>(a, R, C);
  });
}

}  // namespace

void register_layer_norm(KernelTable& t) {
  t.kernels[int(OpId::layer_norm)] = forward;
  t.kernels[int(OpId::layer_norm_backward)] = backward;
}

}  // namespace dive::cpu
