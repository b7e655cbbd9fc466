#include "test/op_harness.h"

#include <cmath>
#include <sstream>

#include "lib/ops/gradcheck.h"

namespace dive::test {

namespace {

// Host f64 values for one input, from the counter RNG (deterministic per seed and input number).
Tensor base_values(const In& in, const Shape& shape, uint64_t seed) {
  Generator saved = default_generator();
  manual_seed(seed);
  Tensor t;
  switch (in.fill) {
    case Fill::normal: t = Tensor::randn(shape, 0, 1, DType::f64, kRef); break;
    case Fill::positive: t = Tensor::rand(shape, 0.5, 2.0, DType::f64, kRef); break;
    case Fill::uniform: t = Tensor::rand(shape, in.lo, in.hi, DType::f64, kRef); break;
    case Fill::away_from_zero: {
      // |x| in [0.2, 2] with random sign: keeps kinks (relu, abs, clamp) away from finite differences
      Tensor m = Tensor::rand(shape, 0.2, 2.0, DType::f64, kRef);
      Tensor s = sign(Tensor::randn(shape, 0, 1, DType::f64, kRef));
      t = mul(m, s);
      break;
    }
    case Fill::index: {
      Tensor u = Tensor::rand(shape, in.lo, in.hi, DType::f64, kRef);
      std::vector<double> v = u.to_vector<double>();
      std::vector<int64_t> iv(v.size());
      for (size_t i = 0; i < v.size(); ++i) iv[i] = int64_t(std::floor(v[i]));
      t = Tensor::from_vector(iv, shape, kRef);
      break;
    }
    case Fill::mask: t = lt(Tensor::rand(shape, 0, 1, DType::f64, kRef), Tensor::scalar(0.5, DType::f64, kRef)); break;
  }
  default_generator() = saved;
  return t;
}

// Lays `values` out on `dev` so that the result is a non-contiguous view when the layout asks for it.
Tensor with_layout(const Tensor& values, Layout layout, Device dev) {
  Tensor v = values.to(dev);
  switch (layout) {
    case Layout::contiguous: return v;
    case Layout::transposed: {
      DIVE_CHECK(v.dim() >= 2, "op test: transposed layout needs a 2-D+ input");
      return v.transpose(-1, -2).contiguous().transpose(-1, -2);
    }
    case Layout::strided: {
      Shape s = v.shape();
      s.back() *= 2;
      Tensor big = Tensor::zeros(s, v.dtype(), dev);
      big.slice(-1, 0, s.back(), 2).copy_(v);
      return big.slice(-1, 0, s.back(), 2);
    }
  }
  return v;
}

std::string where_failed(const OpCase& c, uint64_t seed, const std::string& what) {
  std::ostringstream os;
  os << "op case '" << c.name << "' (seed " << seed << "): " << what
     << "\n  repro: build/test/dive_tests --run_test='ops/" << c.name << "'";
  return os.str();
}

// Largest violation of |a-b| <= tol*(1+|b|); exact comparison for integer/bool tensors.
double mismatch(const Tensor& a, const Tensor& b, double tol, std::string& detail) {
  if (a.shape() != b.shape()) {
    detail = "shape " + shape_str(a.shape()) + " vs reference " + shape_str(b.shape());
    return 1e30;
  }
  if (a.dtype() != b.dtype()) {
    detail = std::string("dtype ") + dtype_name(a.dtype()) + " vs reference " + dtype_name(b.dtype());
    return 1e30;
  }
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  bool exact = !is_floating(a.dtype());
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    bool both_nan = std::isnan(va[i]) && std::isnan(vb[i]);
    double err = both_nan ? 0 : std::fabs(va[i] - vb[i]);
    double allowed = exact ? 0 : tol * (1 + std::fabs(vb[i]));
    if (std::isnan(err) || err > allowed) {
      double ratio = std::isnan(err) ? 1e30 : (allowed > 0 ? err / allowed : 1e30);
      if (ratio > worst) {
        worst = ratio;
        std::ostringstream os;
        os << "element " << i << ": " << va[i] << " vs reference " << vb[i];
        detail = os.str();
      }
    }
  }
  return worst;
}

struct RunResult {
  Tensor out;
  std::vector<Tensor> grads;
};

RunResult run_case(const OpCase& c, uint64_t seed, DType dt, Device dev, bool backward) {
  std::vector<Tensor> in = make_inputs(c, seed, dt, dev);
  RunResult r;
  r.out = c.fn(in);
  if (backward && r.out.requires_grad()) {
    Generator saved = default_generator();
    manual_seed(seed + 999);
    Tensor w = Tensor::randn(r.out.shape(), 0, 1, DType::f64, kRef).to(r.out.dtype()).to(dev);
    default_generator() = saved;
    r.out.backward(w);
    for (auto& t : in) r.grads.push_back(t.requires_grad() ? t.grad() : Tensor());
  }
  return r;
}

}  // namespace

std::vector<Tensor> make_inputs(const OpCase& c, uint64_t seed, DType dt, Device dev) {
  std::vector<Tensor> out;
  for (size_t k = 0; k < c.inputs.size(); ++k) {
    const In& in = c.inputs[k];
    Tensor v = base_values(in, in.shape, seed * 7919 + k);
    bool floating = in.fill != Fill::index && in.fill != Fill::mask;
    if (floating) v = v.to(dt);
    Tensor t = with_layout(v, in.layout, dev);
    if (floating && in.grad) {
      // a leaf that requires grad; views keep their (non-contiguous) geometry
      t = t.detach();
      t.set_requires_grad(true);
    }
    out.push_back(t);
  }
  return out;
}

std::string run_gradcheck(const OpCase& c, uint64_t seed) {
  if (!c.gradcheck || !c.finite_differences) return "";
  std::vector<Tensor> in = make_inputs(c, seed, DType::f64, kRef);
  autograd::GradcheckOptions opt;
  opt.rtol = c.fd_rtol;
  opt.atol = c.fd_rtol * 0.1;
  auto res = autograd::gradcheck(c.fn, in, opt);
  if (!res.ok) return where_failed(c, seed, "gradcheck failed: " + res.report);
  return "";
}

std::string run_parity(const OpCase& c, uint64_t seed, Device dev) {
  RunResult ref = run_case(c, seed, DType::f32, kRef, c.gradcheck);
  RunResult got = run_case(c, seed, DType::f32, dev, c.gradcheck);
  std::string detail;
  if (mismatch(got.out, ref.out, c.tol, detail) > 1)
    return where_failed(c, seed, "forward on " + dev.str() + " differs from ref: " + detail);
  for (size_t k = 0; k < ref.grads.size(); ++k) {
    if (!ref.grads[k].defined()) continue;
    if (!got.grads[k].defined()) return where_failed(c, seed, "no gradient for input " + std::to_string(k) + " on " + dev.str());
    if (mismatch(got.grads[k], ref.grads[k], c.grad_tol, detail) > 1)
      return where_failed(c, seed, "gradient of input " + std::to_string(k) + " on " + dev.str() +
                                       " differs from ref: " + detail);
  }
  return "";
}

std::vector<Device> parity_devices() {
  std::vector<Device> d;
  if (backend_available(DeviceKind::cpu)) d.push_back(kCPU);
  if (backend_available(DeviceKind::cuda)) d.push_back(kCUDA);
  return d;
}

}  // namespace dive::test
