#include "lib/ops/gradcheck.h"

#include <cmath>
#include <sstream>

#include "lib/ops/ops.h"

namespace dive::autograd {

namespace {

double* element(const Tensor& t, int64_t i) {
  int64_t off = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    off += (i % t.shape()[d]) * t.strides()[d];
    i /= t.shape()[d];
  }
  return t.data<double>() + off;
}

double projected(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& in,
                 const Tensor& w) {
  NoGradGuard ng;
  Tensor y = f(in);
  return sum(mul(y.to(DType::f64).to(w.device()), w)).item<double>();
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = inputs[k];
    DIVE_CHECK(!t.requires_grad() || (t.dtype() == DType::f64 && t.device().is_host()),
               "gradcheck: input ", k, " must be an f64 host tensor, got ", t.str());
    if (t.requires_grad()) t.impl().grad.reset();
  }
  Tensor y = f(inputs);
  DIVE_CHECK(y.requires_grad(), "gradcheck: output does not require grad");
  Generator saved = default_generator();
  manual_seed(opt.seed);
  Tensor w = Tensor::randn(y.shape(), 0, 1, DType::f64, kRef);
  default_generator() = saved;
  y.backward(w.to(y.dtype()).to(y.device()));

  GradcheckResult res;
  std::ostringstream rep;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    Tensor ga = x.grad();
    std::vector<double> analytic = ga.defined() ? ga.to_vector<double>() : std::vector<double>(size_t(x.numel()), 0.0);
    double worst = 0;
    int64_t worst_i = -1;
    for (int64_t i = 0; i < x.numel(); ++i) {
      double* p = element(x, i);
      double orig = *p;
      *p = orig + opt.eps;
      double lp = projected(f, inputs, w);
      *p = orig - opt.eps;
      double lm = projected(f, inputs, w);
      *p = orig;
      double numeric = (lp - lm) / (2 * opt.eps);
      double err = std::fabs(numeric - analytic[size_t(i)]);
      double tol = opt.atol + opt.rtol * std::fabs(numeric);
      if (err > worst) {
        worst = err;
        worst_i = i;
      }
      if (!(err <= tol) && res.ok) {
        res.ok = false;
        rep << "input " << k << " element " << i << ": analytic " << analytic[size_t(i)] << " vs numeric "
            << numeric << " (error " << err << " > tolerance " << tol << "); ";
      }
    }
    res.max_abs_err = std::max(res.max_abs_err, worst);
    rep << "input " << k << " max error " << worst << " at element " << worst_i << "; ";
  }
  res.report = rep.str();
  return res;
}

}  // namespace dive::autograd
