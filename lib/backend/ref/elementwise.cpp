// Reference kernels: copy/cast, fill, binary, comparison, unary, where, masked_fill, dropout, random.
#include <cmath>
#include <cstring>
#include <limits>

#include "lib/backend/kernel_math.h"
#include "lib/backend/ref/ref_util.h"

namespace dive::ref {

double load_as_double(const Tensor& t, int64_t i) {
  const char* base = static_cast<const char*>(t.raw_data());
  int64_t off = strided_offset(t, i);
  switch (t.dtype()) {
    case DType::f32: return reinterpret_cast<const float*>(base)[off];
    case DType::f64: return reinterpret_cast<const double*>(base)[off];
    case DType::i64: return double(reinterpret_cast<const int64_t*>(base)[off]);
    case DType::i32: return reinterpret_cast<const int32_t*>(base)[off];
    case DType::u8:
    case DType::boolean: return reinterpret_cast<const uint8_t*>(base)[off];
    case DType::bf16: return bf16_to_float(reinterpret_cast<const uint16_t*>(base)[off]);
    case DType::f16: return f16_to_float(reinterpret_cast<const uint16_t*>(base)[off]);
  }
  return 0;
}

namespace {

void store(const Tensor& t, int64_t i, double v) {
  char* base = static_cast<char*>(t.raw_data());
  int64_t off = strided_offset(t, i);
  switch (t.dtype()) {
    case DType::f32: reinterpret_cast<float*>(base)[off] = float(v); break;
    case DType::f64: reinterpret_cast<double*>(base)[off] = v; break;
    case DType::i64: reinterpret_cast<int64_t*>(base)[off] = int64_t(v); break;
    case DType::i32: reinterpret_cast<int32_t*>(base)[off] = int32_t(v); break;
    case DType::u8: reinterpret_cast<uint8_t*>(base)[off] = uint8_t(v); break;
    case DType::boolean: reinterpret_cast<uint8_t*>(base)[off] = v != 0; break;
    case DType::bf16: reinterpret_cast<uint16_t*>(base)[off] = float_to_bf16(float(v)); break;
    case DType::f16: reinterpret_cast<uint16_t*>(base)[off] = float_to_f16(float(v)); break;
  }
}

void copy(KernelArgs& a) {
  const Tensor& x = a.in[0];
  const Tensor& y = a.out[0];
  DIVE_CHECK(x.shape() == y.shape(), "copy: shape ", shape_str(x.shape()), " into ", shape_str(y.shape()));
  int64_t n = y.numel();
  if (x.dtype() == y.dtype() && x.dtype() == DType::i64) {  // exact beyond 2^53
    for (int64_t i = 0; i < n; ++i)
      static_cast<int64_t*>(y.raw_data())[strided_offset(y, i)] = at<int64_t>(x, i);
    return;
  }
  for (int64_t i = 0; i < n; ++i) store(y, i, load_as_double(x, i));
}

void fill(KernelArgs& a) {
  const Tensor& y = a.out[0];
  int64_t n = y.numel();
  for (int64_t i = 0; i < n; ++i) store(y, i, a.attrs.f[0]);
}

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

void dropout(KernelArgs& a) {
  const Tensor &x = a.in[0], &o = a.out[0], &mask = a.out[1];
  uint64_t seed = uint64_t(a.attrs.i[0]), offset = uint64_t(a.attrs.i[1]);
  double p = a.attrs.f[0], scale = 1.0 / (1.0 - p);
  int64_t n = o.numel();
  for (int64_t i = 0; i < n; ++i) {
    double m = kmath::dropout_keep(seed, offset + uint64_t(i), p) ? scale : 0.0;
    if (o.dtype() == DType::f32) m = double(float(m));  // the f32 mask value, as other backends use it
    store(mask, i, m);
    store(o, i, load_as_double(x, i) * m);
  }
}

void rand_uniform(KernelArgs& a) {
  const Tensor& o = a.out[0];
  uint64_t seed = uint64_t(a.attrs.i[0]), offset = uint64_t(a.attrs.i[1]);
  double lo = a.attrs.f[0], hi = a.attrs.f[1];
  for (int64_t i = 0; i < o.numel(); ++i)
    store(o, i, lo + (hi - lo) * double(philox_uniform(seed, offset + uint64_t(i))));
}

void rand_normal(KernelArgs& a) {
  const Tensor& o = a.out[0];
  uint64_t seed = uint64_t(a.attrs.i[0]), offset = uint64_t(a.attrs.i[1]);
  for (int64_t i = 0; i < o.numel(); ++i)
    store(o, i, a.attrs.f[0] + a.attrs.f[1] * philox_normal(seed, offset + uint64_t(i)));
}

void add_scaled(KernelArgs& a) {
  const Tensor &x = a.in[0], &y = a.in[1];
  double alpha = a.attrs.f[0];
  for (int64_t i = 0; i < x.numel(); ++i) store(x, i, load_as_double(x, i) + alpha * load_as_double(y, i));
}

void adam(KernelArgs& a) {
  const auto& f = a.attrs.f;
  bool decoupled = a.attrs.i[0] != 0;
  DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "adam_", [&] {
    scalar_t *p = a.in[0].data<scalar_t>(), *m = a.in[2].data<scalar_t>(), *v = a.in[3].data<scalar_t>();
    const scalar_t* g = a.in[1].data<scalar_t>();
    for (int64_t i = 0; i < a.in[0].numel(); ++i)
      kmath::adam_update<scalar_t>(p[i], g[i], m[i], v[i], scalar_t(f[0]), scalar_t(f[1]), scalar_t(f[2]), scalar_t(f[3]),
                                   scalar_t(f[4]), scalar_t(f[5]), scalar_t(f[6]), decoupled);
  });
}

}  // namespace

void register_elementwise(KernelTable& t) {
  auto K = [&](OpId op, Kernel k) { t.kernels[int(op)] = k; };
  K(OpId::copy, copy);
  K(OpId::fill, fill);
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
    double s = a.attrs.f[0], b = a.attrs.f[1];
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
    double lo = a.attrs.f[0], hi = a.attrs.f[1];
    unary(a, [lo, hi](double x) { return x != x ? x : kmath::clampv(x, lo, hi); });
  });
  K(OpId::dropout, dropout);
  K(OpId::rand_uniform, rand_uniform);
  K(OpId::rand_normal, rand_normal);
  K(OpId::add_scaled_, add_scaled);
  K(OpId::adam_, adam);
}

}  // namespace dive::ref
