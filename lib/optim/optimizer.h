// Optimisers over parameter groups (torch.optim semantics): Adam/AdamW and SGD with momentum, global-norm
// gradient clipping, and learning-rate schedules stepped per iteration.
#pragma once
#include <string>
#include <vector>

#include "lib/core/tensor.h"

namespace dive::optim {

struct ParamGroup {
  std::string name;
  std::vector<Tensor> params;
  double lr = 1e-3;
  double initial_lr = 1e-3;  // the schedule's starting point for this group
  double weight_decay = 0;
};

class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  std::vector<ParamGroup>& groups() { return groups_; }
  int64_t steps() const { return steps_; }

 protected:
  std::vector<ParamGroup> groups_;
  int64_t steps_ = 0;
};

class Adam : public Optimizer {
 public:
  // decoupled = true gives AdamW (torch.optim.AdamW), false gives Adam with L2 in the gradient.
  Adam(std::vector<ParamGroup> groups, bool decoupled, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);
  void step() override;
  // exp_avg / exp_avg_sq per parameter (group order, then parameter order), created at the first step.
  std::vector<Tensor>& exp_avg() { return m_; }
  std::vector<Tensor>& exp_avg_sq() { return v_; }
  void set_steps(int64_t s) { steps_ = s; }

 private:
  bool decoupled_;
  double beta1_, beta2_, eps_;
  std::vector<Tensor> m_, v_;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, double momentum = 0);
  void step() override;

 private:
  double momentum_;
  std::vector<Tensor> buf_;
};

// Scales all gradients so that their joint L2 norm is at most max_norm (torch.nn.utils.clip_grad_norm_);
// returns the norm before clipping.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

// lr(t) = eta_min + (initial - eta_min) * (1 + cos(pi * t / t_max)) / 2, for every group.
void cosine_schedule(Optimizer& opt, int64_t t, int64_t t_max, double eta_min = 0);
// lr(t) = initial * gamma ^ floor(t / step_size).
void step_schedule(Optimizer& opt, int64_t t, int64_t step_size, double gamma);

}  // namespace dive::optim
