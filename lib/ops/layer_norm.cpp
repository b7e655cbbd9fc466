// Layer normalisation over the trailing dims that gamma/beta cover.
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  check_same("layer_norm", {x, gamma, beta});
  DIVE_CHECK(gamma.shape() == beta.shape(), "layer_norm: gamma ", gamma.str(), " and beta ", beta.str(),
             " differ in shape");
  int64_t nd = gamma.dim();
  DIVE_CHECK(nd >= 1 && x.dim() >= nd &&
                 Shape(x.shape().end() - nd, x.shape().end()) == gamma.shape(),
             "layer_norm: normalised shape ", shape_str(gamma.shape()), " does not match the trailing dims of ",
             x.str());
  int64_t C = gamma.numel();
  int64_t R = C == 0 ? 0 : x.numel() / C;
  Tensor x2 = x.detach().contiguous().view({R, C});
  Tensor g1 = gamma.detach().contiguous().view({C}), b1 = beta.detach().contiguous().view({C});
  auto outs = run(OpId::layer_norm, {x2, g1, b1}, {{{R, C}, x.dtype()}, {{R}, x.dtype()}, {{R}, x.dtype()}},
                  Attrs{{}, {eps}});
  Tensor out = outs[0].view(x.shape());
  if (any_requires_grad({x, gamma, beta})) {
    Tensor m = outs[1], rs = outs[2];
    Shape xs = x.shape(), gs = gamma.shape();
    record("layer_norm", {x, gamma, beta}, {&out}, [=](const std::vector<Tensor>& g) {
      Tensor g2 = g[0].contiguous().view({R, C});
      auto d = run(OpId::layer_norm_backward, {g2, x2, g1, m, rs},
                   {{{R, C}, g2.dtype()}, {{C}, g2.dtype()}, {{C}, g2.dtype()}});
      return std::vector<Tensor>{d[0].view(xs), d[1].view(gs), d[2].view(gs)};
    });
  }
  return out;
}

}  // namespace dive
