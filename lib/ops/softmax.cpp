// softmax and log_softmax along any axis (the kernels work on the last axis of a [R, C] view).
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

}  // namespace dive
