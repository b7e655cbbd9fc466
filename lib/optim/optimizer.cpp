#include "lib/optim/optimizer.h"

#include <cmath>

#include "lib/ops/ops.h"

namespace dive::optim {

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.zero_grad();
}

Adam::Adam(std::vector<ParamGroup> groups, bool decoupled, double b1, double b2, double eps)
    : Optimizer(std::move(groups)), decoupled_(decoupled), beta1_(b1), beta2_(b2), eps_(eps) {
  for (auto& g : groups_)
    for (auto& p : g.params) {
      DIVE_CHECK(p.requires_grad(), "Adam: parameter group '", g.name, "' holds a tensor that does not require grad");
      m_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
      v_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
    }
}

void Adam::step() {
  NoGradGuard ng;
  ++steps_;
  size_t k = 0;
  for (auto& g : groups_) {
    AdamParams h{g.lr, beta1_, beta2_, eps_, g.weight_decay, steps_, decoupled_};
    for (auto& p : g.params) {
      Tensor grad = p.grad();
      if (grad.defined()) adam_(p, grad, m_[k], v_[k], h);
      ++k;
    }
  }
}

SGD::SGD(std::vector<ParamGroup> groups, double momentum) : Optimizer(std::move(groups)), momentum_(momentum) {}

void SGD::step() {
  NoGradGuard ng;
  ++steps_;
  size_t k = 0;
  for (auto& g : groups_)
    for (auto& p : g.params) {
      if (buf_.size() <= k) buf_.push_back(Tensor());
      Tensor grad = p.grad();
      if (grad.defined()) {
        Tensor d = g.weight_decay ? add(grad, scale_shift(p, g.weight_decay)) : grad;
        if (momentum_ > 0) {
          buf_[k] = buf_[k].defined() ? add(scale_shift(buf_[k], momentum_), d) : d.clone();
          d = buf_[k];
        }
        add_scaled_(p, d, -g.lr);
      }
      ++k;
    }
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  NoGradGuard ng;
  // Squared norms summed on the grads' device in f64; one read-back (one sync on a GPU) per call.
  Tensor sq;
  for (const auto& p : params)
    if (p.grad().defined()) {
      Tensor n = norm(p.grad().to(DType::f64));
      Tensor s = mul(n, n);
      sq = sq.defined() ? add(sq, s.to(sq.device())) : s;
    }
  double total = sq.defined() ? std::sqrt(sq.item<double>()) : 0.0;
  double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for (const auto& p : params)
      if (p.grad().defined()) {
        Tensor g = p.grad();
        Tensor scaled = scale_shift(g, coef);
        Tensor handle = p;  // shares the parameter's impl
        handle.set_grad(scaled);
      }
  return total;
}

void cosine_schedule(Optimizer& opt, int64_t t, int64_t t_max, double eta_min) {
  double f = (1.0 + std::cos(M_PI * double(t) / double(std::max<int64_t>(t_max, 1)))) / 2.0;
  for (auto& g : opt.groups()) g.lr = eta_min + (g.initial_lr - eta_min) * f;
}

void step_schedule(Optimizer& opt, int64_t t, int64_t step_size, double gamma) {
  for (auto& g : opt.groups()) g.lr = g.initial_lr * std::pow(gamma, double(t / std::max<int64_t>(step_size, 1)));
}

}  // namespace dive::optim
