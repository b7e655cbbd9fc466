// Batch normalisation over dim 1 of [N, C, *] (training: batch statistics + running-stat update).
#include "lib/ops/attrs.h"
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  check_same("batch_norm", {x, gamma, beta});
  DIVE_CHECK(x.dim() >= 2, "batch_norm: input must be [N, C] or [N, C, *], got ", x.str());
  int64_t N = x.size(0), C = x.size(1);
  int64_t S = C == 0 || N == 0 ? 0 : x.numel() / (N * C);
  DIVE_CHECK(gamma.dim() == 1 && gamma.size(0) == C && beta.shape() == gamma.shape(), "batch_norm: gamma/beta must be [",
             C, "], got ", gamma.str(), " and ", beta.str());
  bool have_running = running_mean.defined() && running_var.defined();
  if (have_running) {
    check_same("batch_norm running stats", {x, running_mean, running_var});
    DIVE_CHECK(running_mean.shape() == gamma.shape() && running_var.shape() == gamma.shape() &&
                   running_mean.is_contiguous() && running_var.is_contiguous(),
               "batch_norm: running_mean/running_var must be contiguous [", C, "]");
  }
  DIVE_CHECK(training || have_running, "batch_norm: eval mode needs running statistics");
  DIVE_CHECK(!training || N * S > 1, "batch_norm: training needs more than one value per channel, got input ",
             x.str());
  Tensor x3 = x.detach().contiguous().view({N, C, S});
  std::vector<Tensor> kin{x3, gamma.detach().contiguous(), beta.detach().contiguous(),
                          have_running ? running_mean.detach() : Tensor(),
                          have_running ? running_var.detach() : Tensor()};
  Tensor gk = kin[1];
  const Attrs at = BatchNormAttrs{training, momentum, eps}.pack();
  auto outs = run(OpId::batch_norm, kin, {{{N, C, S}, x.dtype()}, {{C}, x.dtype()}, {{C}, x.dtype()}},
                  at);
  Tensor out = outs[0].view(x.shape());
  if (any_requires_grad({x, gamma, beta})) {
    Tensor m = outs[1], rs = outs[2];
    Shape xs = x.shape();
    record("batch_norm", {x, gamma, beta}, {&out}, [=](const std::vector<Tensor>& g) {
      Tensor g3 = g[0].contiguous().view({N, C, S});
      auto d = run(OpId::batch_norm_backward, {g3, x3, gk, m, rs},
                   {{{N, C, S}, g3.dtype()}, {{C}, g3.dtype()}, {{C}, g3.dtype()}}, at);
      return std::vector<Tensor>{d[0].view(xs), d[1], d[2]};
    });
  }
  return out;
}

}  // namespace dive
