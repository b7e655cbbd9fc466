// Reference elementwise kernels: binary, comparison, unary, where, masked_fill (in double).
#include <cmath>
#include <cstring>
#include <limits>

#include "lib/backend/kernel_math.h"
#include "lib/backend/ref/ref_util.h"
#include "lib/ops/attrs.h"

namespace dive::ref {

namespace {

template <class F>
void binary(KernelArgs& a, F f) {
  const Tensor &x = a.in[0], &y = a.in[1], &o = a.out[0];
  int64_t n = o.numel();
  for (int64_t i = 0; i < n; ++i) store(o, i, f(load_as_double(x, i), load_as_double(y, i)));
}

template <class F>
void unary(KernelArgs& a, F f) {
  const Tensor &x = a.in[0], &o = a.out[0];
  int64_t n = o.numel();
  for (int64_t i = 0; i < n; ++i) store(o, i, f(load_as_double(x, i)));
}

// Comparisons on i64 compare exactly (no double round trip): f receives sign(x - y) and 0.
template <class F>
void compare(KernelArgs& a, F f) {
  const Tensor &x = a.in[0], &y = a.in[1], &o = a.out[0];
  int64_t n = o.numel();
  if (x.dtype() == DType::i64) {
    for (int64_t i = 0; i < n; ++i) store(o, i, f(double(at<int64_t>(x, i) > at<int64_t>(y, i)) - double(at<int64_t>(x, i) < at<int64_t>(y, i)), 0.0));
    return;
  }
  for (int64_t i = 0; i < n; ++i) store(o, i, f(load_as_double(x, i), load_as_double(y, i)));
}

void where(KernelArgs& a) {
  const Tensor &c = a.in[0], &x = a.in[1], &y = a.in[2], &o = a.out[0];
  int64_t n = o.numel();
  for (int64_t i = 0; i < n; ++i) store(o, i, at<uint8_t>(c, i) ? load_as_double(x, i) : load_as_double(y, i));
}

void masked_fill(KernelArgs& a) {
  const Tensor &x = a.in[0], &m = a.in[1], &o = a.out[0];
  int64_t n = o.numel();
  for (int64_t i = 0; i < n; ++i) store(o, i, at<uint8_t>(m, i) ? a.attrs.f[0] : load_as_double(x, i));
}

}  // namespace

void register_elementwise(KernelTable& t) {
  auto K = [&](OpId op, Kernel k) { t.kernels[int(op)] = k; };
  K(OpId::add, [](KernelArgs& a) { binary(a, [](double x, double y) { return x + y; }); });
  K(OpId::sub, [](KernelArgs& a) { binary(a, [](double x, double y) { return x - y; }); });
  K(OpId::mul, [](KernelArgs& a) { binary(a, [](double x, double y) { return x * y; }); });
  K(OpId::div, [](KernelArgs& a) { binary(a, [](double x, double y) { return x / y; }); });
  K(OpId::maximum, [](KernelArgs& a) { binary(a, [](double x, double y) { return kmath::maxv(x, y); }); });
  K(OpId::minimum, [](KernelArgs& a) { binary(a, [](double x, double y) { return kmath::minv(x, y); }); });
  K(OpId::relu_backward, [](KernelArgs& a) { binary(a, [](double g, double x) { return x > 0 ? g : 0.0; }); });
  K(OpId::gelu_backward, [](KernelArgs& a) { binary(a, [](double g, double x) { return g * kmath::gelu_grad(x); }); });
  K(OpId::eq, [](KernelArgs& a) { compare(a, [](double x, double y) { return double(x == y); }); });
  K(OpId::ne, [](KernelArgs& a) { compare(a, [](double x, double y) { return double(x != y); }); });
  K(OpId::lt, [](KernelArgs& a) { compare(a, [](double x, double y) { return double(x < y); }); });
  K(OpId::le, [](KernelArgs& a) { compare(a, [](double x, double y) { return double(x <= y); }); });
  K(OpId::gt, [](KernelArgs& a) { compare(a, [](double x, double y) { return double(x > y); }); });
  K(OpId::ge, [](KernelArgs& a) { compare(a, [](double x, double y) { return double(x >= y); }); });
  K(OpId::where, where);
  K(OpId::masked_fill, masked_fill);
  K(OpId::pow_scalar, [](KernelArgs& a) { double p = a.attrs.f[0]; unary(a, [p](double x) { return std::pow(x, p); }); });
  K(OpId::scale_shift, [](KernelArgs& a) {
    const ScaleShiftAttrs ss = ScaleShiftAttrs::unpack(a.attrs);
    const double s = ss.scale, b = ss.shift;
    unary(a, [s, b](double x) { return x * s + b; });
  });
  K(OpId::neg, [](KernelArgs& a) { unary(a, [](double x) { return -x; }); });
  K(OpId::abs, [](KernelArgs& a) { unary(a, [](double x) { return std::fabs(x); }); });
  K(OpId::sign, [](KernelArgs& a) { unary(a, [](double x) { return kmath::sign(x); }); });
  K(OpId::exp, [](KernelArgs& a) { unary(a, [](double x) { return std::exp(x); }); });
  K(OpId::log, [](KernelArgs& a) { unary(a, [](double x) { return std::log(x); }); });
  K(OpId::sqrt, [](KernelArgs& a) { unary(a, [](double x) { return std::sqrt(x); }); });
  K(OpId::rsqrt, [](KernelArgs& a) { unary(a, [](double x) { return 1.0 / std::sqrt(x); }); });
  K(OpId::tanh, [](KernelArgs& a) { unary(a, [](double x) { return std::tanh(x); }); });
  K(OpId::sigmoid, [](KernelArgs& a) { unary(a, [](double x) { return kmath::sigmoid(x); }); });
  K(OpId::relu, [](KernelArgs& a) { unary(a, [](double x) { return x > 0 ? x : 0.0; }); });
  K(OpId::gelu, [](KernelArgs& a) { unary(a, [](double x) { return kmath::gelu(x); }); });
  K(OpId::clamp, [](KernelArgs& a) {
    const ClampAttrs c = ClampAttrs::unpack(a.attrs);
    const double lo = c.lo, hi = c.hi;
    unary(a, [lo, hi](double x) { return x != x ? x : kmath::clampv(x, lo, hi); });
  });
}

}  // namespace dive::ref
