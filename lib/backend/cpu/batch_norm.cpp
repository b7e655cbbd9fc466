// CPU batch norm on x [N, C, S]: forward (training: batch stats + in-place running-stat update with the
// unbiased variance; eval: running stats) and backward (both modes).
// f32: OpenMP loops over channels (one parallel region per call). oneDNN's batch_normalization on
// plain NCHW data is its generic "ncsp" kernel, whose reductions synchronise its threads several
// times per call: at the ResNet-50 shapes it measured 50-200x slower than these loops on the shared
// 2-core dev machine (bench/RESULTS.md). Problems below kSmall elements keep the oneDNN kernel,
// bit-identical to before: speed does not matter there, and the CNN-branch fixture test (64x64
// images, batch 2: layer4 normalises 8 values per channel) is sensitive at the last-bit level (1-ulp
// changes of the BN outputs move its img_emb error between 3e-5 and 1.3e-4 against a 1e-4 bound).
// f64: the reference kernels.
#include <algorithm>
#include <cmath>
#include <vector>

#include "lib/backend/cpu/engine.h"
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"
#include "lib/ops/attrs.h"

namespace dive::cpu {

namespace {

constexpr int64_t kSmall = 160 * 1024;  // elements (640 KB of f32); ResNet-50 at 224, batch 8: >= 200704

// oneDNN batch_normalization (our rstd <-> its variance).
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

void onednn_forward(KernelArgs& a, int64_t N, int64_t C, int64_t S, bool training, double momentum, double eps) {
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

void onednn_backward(KernelArgs& a, int64_t N, int64_t C, int64_t S, bool training) {
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


// Forward, f32 loops: per channel (parallel over channels, each summed in a fixed order, so
// deterministic) the batch mean, then the variance around it, both accumulated in double; then
// y = (x - mean) * (gamma / sqrt(var + eps)) + beta, the arithmetic of oneDNN's kernel.
void loops_forward(KernelArgs& a, int64_t N, int64_t C, int64_t S, bool training, double momentum, double eps) {
  const float* x = ptr<const float>(a.in[0]);
  const float* gamma = ptr<const float>(a.in[1]);
  const float* beta = ptr<const float>(a.in[2]);
  const bool have_running = a.in[3].defined();
  float* rm = have_running ? ptr<float>(a.in[3]) : nullptr;
  float* rv = have_running ? ptr<float>(a.in[4]) : nullptr;
  float* y = ptr<float>(a.out[0]);
  float* mean = ptr<float>(a.out[1]);
  float* rstd = ptr<float>(a.out[2]);
  const double n = double(N * S);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    float mf, vf;
    if (training) {
      // two passes: the mean (double sum), then the variance around the float mean
      double s = 0;
      for (int64_t i = 0; i < N; ++i) {
        const float* xr = x + (i * C + c) * S;
        double s1 = 0;
#pragma omp simd reduction(+ : s1)
        for (int64_t j = 0; j < S; ++j) s1 += double(xr[j]);
        s += s1;
      }
      mf = float(s / n);
      double ss = 0;
      for (int64_t i = 0; i < N; ++i) {
        const float* xr = x + (i * C + c) * S;
        double ss1 = 0;
#pragma omp simd reduction(+ : ss1)
        for (int64_t j = 0; j < S; ++j) {
          float d = xr[j] - mf;
          ss1 += double(d) * double(d);
        }
        ss += ss1;
      }
      vf = float(ss / n);
      if (have_running) {
        rm[c] = float((1.0 - momentum) * double(rm[c]) + momentum * double(mf));
        rv[c] = float((1.0 - momentum) * double(rv[c]) + momentum * double(vf) * n / (n - 1.0));
      }
    } else {
      mf = rm[c];
      vf = rv[c];
    }
    const float sd = std::sqrt(vf + float(eps));
    mean[c] = mf;
    rstd[c] = float(1.0 / std::sqrt(double(vf) + eps));
    const float scale = gamma[c] / sd, shift = beta[c];
    for (int64_t i = 0; i < N; ++i) {
      const float* xr = x + (i * C + c) * S;
      float* yr = y + (i * C + c) * S;
#pragma omp simd
      for (int64_t j = 0; j < S; ++j) yr[j] = (xr[j] - mf) * scale + shift;
    }
  }
}

// Backward, f32 loops: per channel sum(g) and sum(g * (x - mean)) in double, then
// dx = gamma * rstd * (g - sum(g) / n - (x - mean) * rstd^2 * sum(g (x - mean)) / n)  (training) or
// dx = gamma * rstd * g (eval); dgamma = rstd * sum(g (x - mean)), dbeta = sum(g).
void loops_backward(KernelArgs& a, int64_t N, int64_t C, int64_t S, bool training) {
  const float* g = ptr<const float>(a.in[0]);
  const float* x = ptr<const float>(a.in[1]);
  const float* gamma = ptr<const float>(a.in[2]);
  const float* mean = ptr<const float>(a.in[3]);
  const float* rstd = ptr<const float>(a.in[4]);
  float* dx = ptr<float>(a.out[0]);
  float* dg = ptr<float>(a.out[1]);
  float* db = ptr<float>(a.out[2]);
  const double n = double(N * S);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    const float mf = mean[c];
    const double rs = rstd[c];
    double sg = 0, sgx = 0;
    for (int64_t i = 0; i < N; ++i) {
      const float* gr = g + (i * C + c) * S;
      const float* xr = x + (i * C + c) * S;
      double s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
      for (int64_t j = 0; j < S; ++j) {
        s1 += double(gr[j]);
        s2 += double(gr[j]) * double(xr[j] - mf);
      }
      sg += s1;
      sgx += s2;
    }
    dg[c] = float(sgx * rs);
    db[c] = float(sg);
    const float k = float(double(gamma[c]) * rs);
    const float cg = training ? float(sg / n) : 0.f;
    const float cx = training ? float(sgx / n * rs * rs) : 0.f;
    for (int64_t i = 0; i < N; ++i) {
      const float* gr = g + (i * C + c) * S;
      const float* xr = x + (i * C + c) * S;
      float* dr = dx + (i * C + c) * S;
#pragma omp simd
      for (int64_t j = 0; j < S; ++j) dr[j] = k * (gr[j] - cg - (xr[j] - mf) * cx);
    }
  }
}

void forward(KernelArgs& a) {
  const Tensor& x = a.in[0];
  int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  const BatchNormAttrs bn = BatchNormAttrs::unpack(a.attrs);
  const bool training = bn.training;
  const double momentum = bn.momentum, eps = bn.eps;
  DIVE_DISPATCH_FLOAT(x.dtype(), "batch_norm", [&] {
    if (!std::is_same_v<scalar_t, float> || x.numel() == 0) run_reference(OpId::batch_norm, a);  // f64
    else if (x.numel() < kSmall) onednn_forward(a, N, C, S, training, momentum, eps);
    else loops_forward(a, N, C, S, training, momentum, eps);
  });
}

void backward(KernelArgs& a) {
  const Tensor& g = a.in[0];
  int64_t N = g.size(0), C = g.size(1), S = g.size(2);
  const bool training = BatchNormAttrs::unpack(a.attrs).training;
  DIVE_DISPATCH_FLOAT(g.dtype(), "batch_norm_backward", [&] {
    if (!std::is_same_v<scalar_t, float> || g.numel() == 0) run_reference(OpId::batch_norm_backward, a);  // f64
    else if (g.numel() < kSmall) onednn_backward(a, N, C, S, training);
    else loops_backward(a, N, C, S, training);
  });
}

}  // namespace

void register_batch_norm(KernelTable& t) {
  t.kernels[int(OpId::batch_norm)] = forward;
  t.kernels[int(OpId::batch_norm_backward)] = backward;
}

}  // namespace dive::cpu
