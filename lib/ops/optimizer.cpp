// In-place parameter updates for optimisers (outside autograd): add_scaled_, adam_.
#include <cmath>

#include "lib/ops/attrs.h"
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

void add_scaled_(Tensor& a, const Tensor& b, double alpha) {
  DIVE_CHECK(!(GradMode::enabled() && a.requires_grad()),
             "add_scaled_: in-place update of a tensor that requires grad; wrap it in NoGradGuard");
  check_same("add_scaled_", {a, b});
  DIVE_CHECK(a.shape() == b.shape() && a.is_contiguous(), "add_scaled_: ", a.str(), " += ", b.str(),
             " needs equal shapes and a contiguous target");
  KernelArgs args{{a, b.contiguous()}, {a}, Attrs{{}, {alpha}}};
  dispatch(OpId::add_scaled_, args);
}

void adam_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamParams& h) {
  DIVE_CHECK(!(GradMode::enabled() && param.requires_grad()),
             "adam_: in-place update of a tensor that requires grad; wrap it in NoGradGuard");
  check_same("adam_", {param, grad, exp_avg, exp_avg_sq});
  DIVE_CHECK(param.is_contiguous() && exp_avg.is_contiguous() && exp_avg_sq.is_contiguous() &&
                 grad.shape() == param.shape() && exp_avg.shape() == param.shape() && exp_avg_sq.shape() == param.shape(),
             "adam_: parameter ", param.str(), ", gradient ", grad.str(), " and state must be contiguous and of one shape");
  DIVE_CHECK(h.step >= 1, "adam_: step must be >= 1, got ", h.step);
  double bc1 = 1.0 - std::pow(h.beta1, double(h.step)), bc2 = 1.0 - std::pow(h.beta2, double(h.step));
  KernelArgs args{{param, grad.contiguous(), exp_avg, exp_avg_sq}, {},
                  AdamAttrs{h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, bc1, bc2, h.decoupled}.pack()};
  dispatch(OpId::adam_, args);
}

}  // namespace dive
