// Neural-network functions: softmax family, layer/batch normalisation, dropout, embedding, L2-normalise.
#include <cmath>

#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

namespace {

// Runs a last-axis kernel on `x` along `axis` by moving that axis last (no copy when it already is).
Tensor along_last(const Tensor& x, int64_t axis, const std::function<Tensor(const Tensor&)>& f) {
  int64_t ax = wrap_dim(axis, x.dim(), "softmax");
  if (x.dim() == 0) return f(x.reshape({1, 1})).reshape({});
  Tensor xt = ax == x.dim() - 1 ? x : x.transpose(ax, -1);
  Shape ts = xt.shape();
  int64_t C = ts.back();
  Tensor y2 = f(xt.contiguous().view({-1, C}));
  Tensor y = y2.view(ts);
  return ax == x.dim() - 1 ? y : y.transpose(ax, -1).contiguous();
}

Tensor softmax_like(OpId fwd, OpId bwd, const Tensor& x, int64_t axis) {
  check_same(op_name(fwd), {x});
  Tensor out = along_last(x.detach(), axis, [&](const Tensor& x2) {
    return run1(fwd, {x2}, x2.shape(), x2.dtype());
  });
  if (any_requires_grad({x})) {
    Tensor yd = out.detach();
    record(op_name(fwd), {x}, {&out}, [=](const std::vector<Tensor>& g) {
      int64_t ax = wrap_dim(axis, yd.dim(), op_name(fwd));
      Tensor gt = ax == yd.dim() - 1 ? g[0] : g[0].transpose(ax, -1);
      Tensor yt = ax == yd.dim() - 1 ? yd : yd.transpose(ax, -1);
      Shape ts = yt.shape();
      int64_t C = ts.empty() ? 1 : ts.back();
      Tensor g2 = gt.contiguous().reshape({-1, C}), y2 = yt.contiguous().reshape({-1, C});
      Tensor dx = run1(bwd, {g2, y2}, g2.shape(), g2.dtype()).view(ts);
      if (ax != yd.dim() - 1) dx = dx.transpose(ax, -1);
      return std::vector<Tensor>{dx.reshape(yd.shape())};
    });
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) {
  return softmax_like(OpId::softmax, OpId::softmax_backward, x, axis);
}
Tensor log_softmax(const Tensor& x, int64_t axis) {
  return softmax_like(OpId::log_softmax, OpId::log_softmax_backward, x, axis);
}

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
  auto outs = run(OpId::batch_norm, kin, {{{N, C, S}, x.dtype()}, {{C}, x.dtype()}, {{C}, x.dtype()}},
                  Attrs{{training ? 1 : 0}, {momentum, eps}});
  Tensor out = outs[0].view(x.shape());
  if (any_requires_grad({x, gamma, beta})) {
    Tensor m = outs[1], rs = outs[2];
    Shape xs = x.shape();
    int64_t tr = training ? 1 : 0;
    record("batch_norm", {x, gamma, beta}, {&out}, [=](const std::vector<Tensor>& g) {
      Tensor g3 = g[0].contiguous().view({N, C, S});
      auto d = run(OpId::batch_norm_backward, {g3, x3, gk, m, rs},
                   {{{N, C, S}, g3.dtype()}, {{C}, g3.dtype()}, {{C}, g3.dtype()}}, Attrs{{tr}, {}});
      return std::vector<Tensor>{d[0].view(xs), d[1], d[2]};
    });
  }
  return out;
}

Tensor dropout(const Tensor& x, double p, bool training, int64_t seed) {
  check_same("dropout", {x});
  DIVE_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, scalar_like(x, 0.0));
  Generator& gen = default_generator();
  // An explicit seed names the whole stream (offset 0): the same call gives the same mask.
  uint64_t s = seed >= 0 ? uint64_t(seed) : gen.seed();
  uint64_t offset = seed >= 0 ? 0 : gen.reserve(uint64_t(x.numel()));
  auto outs = run(OpId::dropout, {x.detach()}, {{x.shape(), x.dtype()}, {x.shape(), x.dtype()}},
                  Attrs{{int64_t(s), int64_t(offset)}, {p}});
  Tensor out = outs[0];
  if (any_requires_grad({x})) {
    Tensor mask = outs[1];
    record("dropout", {x}, {&out}, [=](const std::vector<Tensor>& g) { return std::vector<Tensor>{mul(g[0], mask)}; });
  }
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  DIVE_CHECK(weight.dim() == 2, "embedding: weight must be [num_embeddings, dim], got ", weight.str());
  Shape s = indices.shape();
  s.push_back(weight.size(1));
  return index_select(weight, 0, indices.reshape({-1})).reshape(s);
}

Tensor l2_normalize(const Tensor& x, int64_t axis, double eps) {
  return div(x, clamp_min(norm(x, {axis}, true), eps));
}

}  // namespace dive
