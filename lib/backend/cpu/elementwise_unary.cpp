// CPU unary math: oneDNN eltwise (forward, and backward for relu/gelu) on contiguous f32 tensors;
// OpenMP loops computing in double (as the reference) for f64, strided inputs and sign/rsqrt/log.
#include <cmath>

#include "lib/backend/cpu/engine.h"
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"
#include "lib/backend/kernel_math.h"
#include "lib/ops/attrs.h"

namespace dive::cpu {

namespace {

using dnnl::algorithm;

dnnl::primitive eltwise_fwd(algorithm alg, float alpha, float beta, int64_t n) {
  return cached_primitive(Key("eltwise_fwd") << int64_t(alg) << double(alpha) << double(beta) << n, [&] {
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_training, alg, plain_md({n}), alpha, beta);
    return dnnl::primitive(dnnl::eltwise_forward::primitive_desc(d, engine()));
  });
}

// oneDNN's exp and clip turn NaN into inf / a bound; the reference (and PyTorch) keep NaN.
void restore_nan(const float* x, float* o, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kGrain)
  for (int64_t i = 0; i < n; ++i)
    if (x[i] != x[i]) o[i] = x[i];
}

// out = f(x): oneDNN when `alg` is given and x is contiguous f32, else an OpenMP loop in double.
template <class F>
void unary(KernelArgs& a, const char* name, const algorithm* alg, float alpha, float beta, F f,
           bool keep_nan = false) {
  const Tensor &x = a.in[0], &o = a.out[0];
  if (alg && x.dtype() == DType::f32 && x.is_contiguous() && o.numel() > 0) {
    int64_t n = o.numel();
    DNNL_CHECK(name, execute(eltwise_fwd(*alg, alpha, beta, n),
                             {{DNNL_ARG_SRC, mem(plain_md({n}), x.raw_data())},
                              {DNNL_ARG_DST, mem(plain_md({n}), o.raw_data())}}));
    if (keep_nan) restore_nan(ptr<const float>(x), ptr<float>(o), n);
    return;
  }
  DIVE_DISPATCH_FLOAT(o.dtype(), name, [&] {
    map1<scalar_t, scalar_t>(o, x, [f](scalar_t v) { return scalar_t(f(double(v))); });
  });
}

// dx = g * f'(x): oneDNN eltwise backward when both are contiguous f32.
template <class F>
void unary_backward(KernelArgs& a, const char* name, algorithm alg, F f) {
  const Tensor &g = a.in[0], &x = a.in[1], &o = a.out[0];
  if (g.dtype() == DType::f32 && g.is_contiguous() && x.is_contiguous() && o.numel() > 0) {
    int64_t n = o.numel();
    DNNL_CHECK(name, {
      auto prim = cached_primitive(Key("eltwise_bwd") << int64_t(alg) << n, [&] {
        auto m = plain_md({n});
        dnnl::eltwise_forward::primitive_desc hint(
            dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, alg, m, 0.f, 0.f), engine());
        dnnl::eltwise_backward::desc d(alg, m, m, 0.f, 0.f);
        return dnnl::primitive(dnnl::eltwise_backward::primitive_desc(d, engine(), hint));
      });
      auto m = plain_md({n});
      execute(prim, {{DNNL_ARG_SRC, mem(m, x.raw_data())},
                     {DNNL_ARG_DIFF_DST, mem(m, g.raw_data())},
                     {DNNL_ARG_DIFF_SRC, mem(m, o.raw_data())}});
    });
    return;
  }
  DIVE_DISPATCH_FLOAT(o.dtype(), name, [&] {
    map2<scalar_t, scalar_t, scalar_t>(o, g, x, [f](scalar_t gv, scalar_t xv) {
      return scalar_t(f(double(gv), double(xv)));
    });
  });
}

constexpr algorithm kExp = algorithm::eltwise_exp,
                    kSqrt = algorithm::eltwise_sqrt, kTanh = algorithm::eltwise_tanh,
                    kLogistic = algorithm::eltwise_logistic, kRelu = algorithm::eltwise_relu,
                    kGelu = algorithm::eltwise_gelu_erf, kAbs = algorithm::eltwise_abs,
                    kLinear = algorithm::eltwise_linear, kClip = algorithm::eltwise_clip,
                    kPow = algorithm::eltwise_pow;

}  // namespace

void register_elementwise_unary(KernelTable& t) {
  auto K = [&](OpId op, Kernel k) { t.kernels[int(op)] = k; };
  K(OpId::exp, [](KernelArgs& a) { unary(a, "exp", &kExp, 0, 0, [](double x) { return std::exp(x); }, true); });
  // log: oneDNN's eltwise_log has an absolute (not relative) error of ~1e-7 near x = 1 (log(1) != 0),
  // which ruins log-probabilities close to 0; the OpenMP loop is exact to the last bit.
  K(OpId::log, [](KernelArgs& a) { unary(a, "log", nullptr, 0, 0, [](double x) { return std::log(x); }); });
  K(OpId::sqrt, [](KernelArgs& a) { unary(a, "sqrt", &kSqrt, 0, 0, [](double x) { return std::sqrt(x); }); });
  K(OpId::tanh, [](KernelArgs& a) { unary(a, "tanh", &kTanh, 0, 0, [](double x) { return std::tanh(x); }); });
  K(OpId::sigmoid, [](KernelArgs& a) { unary(a, "sigmoid", &kLogistic, 0, 0, [](double x) { return kmath::sigmoid(x); }); });
  K(OpId::relu, [](KernelArgs& a) { unary(a, "relu", &kRelu, 0, 0, [](double x) { return x > 0 ? x : 0.0; }); });
  K(OpId::gelu, [](KernelArgs& a) { unary(a, "gelu", &kGelu, 0, 0, [](double x) { return kmath::gelu(x); }); });
  K(OpId::abs, [](KernelArgs& a) { unary(a, "abs", &kAbs, 0, 0, [](double x) { return std::fabs(x); }); });
  K(OpId::neg, [](KernelArgs& a) { unary(a, "neg", &kLinear, -1, 0, [](double x) { return -x; }); });
  K(OpId::scale_shift, [](KernelArgs& a) {
    const ScaleShiftAttrs ss = ScaleShiftAttrs::unpack(a.attrs);
    const double s = ss.scale, b = ss.shift;
    unary(a, "scale_shift", &kLinear, float(s), float(b), [s, b](double x) { return x * s + b; });
  });
  K(OpId::clamp, [](KernelArgs& a) {
    const ClampAttrs c = ClampAttrs::unpack(a.attrs);
    const double lo = c.lo, hi = c.hi;
    unary(a, "clamp", &kClip, float(lo), float(hi),
          [lo, hi](double x) { return x != x ? x : kmath::clampv(x, lo, hi); }, true);
  });
  K(OpId::pow_scalar, [](KernelArgs& a) {
    double p = a.attrs.f[0];
    unary(a, "pow_scalar", &kPow, 1, float(p), [p](double x) { return std::pow(x, p); });
  });
  // No oneDNN eltwise for these two: OpenMP loops.
  K(OpId::sign, [](KernelArgs& a) { unary(a, "sign", nullptr, 0, 0, [](double x) { return kmath::sign(x); }); });
  K(OpId::rsqrt, [](KernelArgs& a) { unary(a, "rsqrt", nullptr, 0, 0, [](double x) { return 1.0 / std::sqrt(x); }); });
  K(OpId::relu_backward, [](KernelArgs& a) {
    unary_backward(a, "relu_backward", kRelu, [](double g, double x) { return x > 0 ? g : 0.0; });
  });
  K(OpId::gelu_backward, [](KernelArgs& a) {
    unary_backward(a, "gelu_backward", kGelu, [](double g, double x) { return g * kmath::gelu_grad(x); });
  });
}

}  // namespace dive::cpu
