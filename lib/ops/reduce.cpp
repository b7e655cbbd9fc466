// Reductions over any set of axes (sum, mean, logsumexp, L2 norm, variance) and max/min with indices.
#include "lib/ops/attrs.h"
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

namespace {

struct Reduction {
  std::vector<int64_t> axes;
  Shape keep_shape;
  int64_t count = 1;  // elements reduced into each output
};

Reduction plan(const char* op, const Tensor& x, std::vector<int64_t> axes) {
  check_same(op, {x});
  Reduction r;
  r.axes = norm_axes(op, std::move(axes), x.dim());
  r.keep_shape = reduced_shape(x.shape(), r.axes, true);
  for (auto a : r.axes) r.count *= x.shape()[a];
  return r;
}

Tensor finish(const Tensor& keep, const Reduction& r, bool keepdim) {
  if (keepdim) return keep;
  return keep.reshape(reduced_shape(keep.shape(), r.axes, false));
}

// Runs a reduction kernel and records rule(g_keepdim broadcastable to x, x, out_keepdim) -> gx.
Tensor reduce(OpId op, const Tensor& x, std::vector<int64_t> axes, bool keepdim, double correction,
              std::function<Tensor(const Tensor&, const Tensor&, const Tensor&, const Reduction&)> rule) {
  Reduction r = plan(op_name(op), x, std::move(axes));
  Tensor out = run1(op, {x}, r.keep_shape, x.dtype(), ReduceAttrs{r.axes, correction}.pack());
  if (any_requires_grad({x})) {
    Tensor xd = x.detach(), od = out.detach();
    int64_t rank = x.dim();
    record(op_name(op), {x}, {&out}, [=](const std::vector<Tensor>& g) {
      Tensor gk = unsqueeze_axes(g[0], r.axes, rank);
      return std::vector<Tensor>{rule(gk, xd, od, r)};
    });
  }
  return finish(out, r, keepdim);
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> axes, bool keepdim) {
  return reduce(OpId::sum, x, std::move(axes), keepdim, 0.0,
                [](const Tensor& g, const Tensor& x, const Tensor&, const Reduction&) { return g.expand(x.shape()); });
}

Tensor mean(const Tensor& x, std::vector<int64_t> axes, bool keepdim) {
  return reduce(OpId::mean, x, std::move(axes), keepdim, 0.0,
                [](const Tensor& g, const Tensor& x, const Tensor&, const Reduction& r) {
                  return scale_shift(g, 1.0 / double(r.count)).expand(x.shape());
                });
}

Tensor logsumexp(const Tensor& x, std::vector<int64_t> axes, bool keepdim) {
  return reduce(OpId::logsumexp, x, std::move(axes), keepdim, 0.0,
                [](const Tensor& g, const Tensor& x, const Tensor& out, const Reduction&) {
                  return mul(g, exp(sub(x, out)));
                });
}

Tensor norm(const Tensor& x, std::vector<int64_t> axes, bool keepdim) {
  return reduce(OpId::norm, x, std::move(axes), keepdim, 0.0,
                [](const Tensor& g, const Tensor& x, const Tensor& out, const Reduction&) {
                  // d||x||/dx = x / ||x||, taken as 0 where the norm is 0 (as PyTorch).
                  Tensor zero = scalar_like(out, 0.0);
                  Tensor safe = where(eq(out, zero), scalar_like(out, 1.0), out);
                  return mul(g, div(x, safe));
                });
}

Tensor var(const Tensor& x, std::vector<int64_t> axes, int64_t correction, bool keepdim) {
  return reduce(OpId::var, x, std::move(axes), keepdim, double(correction),
                [correction](const Tensor& g, const Tensor& x, const Tensor&, const Reduction& r) {
                  Tensor mu = mean(x, r.axes, true);
                  double denom = std::max<double>(double(r.count - correction), 0.0);
                  return mul(g, scale_shift(sub(x, mu), 2.0 / denom));
                });
}

namespace {
std::pair<Tensor, Tensor> arg_extremum(OpId op, const Tensor& x, int64_t axis, bool keepdim) {
  check_same(op_name(op), {x});
  DIVE_CHECK(x.numel() > 0, op_name(op), ": empty tensor ", x.str());
  int64_t ax = wrap_dim(axis, x.dim(), op_name(op));
  Reduction r;
  r.axes = {ax};
  r.keep_shape = reduced_shape(x.shape(), r.axes, true);
  auto outs = run(op, {x}, {{r.keep_shape, x.dtype()}, {r.keep_shape, DType::i64}}, Attrs{{ax}, {}});
  Tensor values = outs[0], indices = outs[1];
  if (any_requires_grad({x})) {
    Shape xs = x.shape();
    Tensor idx = indices;
    DType dt = x.dtype();
    record(op_name(op), {x}, {&values}, [=](const std::vector<Tensor>& g) {
      Tensor z = Tensor::zeros(xs, dt, g[0].device());
      return std::vector<Tensor>{scatter_add(z, ax, idx, g[0])};
    });
  }
  return {finish(values, r, keepdim), finish(indices, r, keepdim)};
}
}  // namespace

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t axis, bool keepdim) {
  return arg_extremum(OpId::max, x, axis, keepdim);
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t axis, bool keepdim) {
  return arg_extremum(OpId::min, x, axis, keepdim);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  DIVE_CHECK(x.dim() >= int64_t(shape.size()), "sum_to: cannot reduce ", x.str(), " to ", shape_str(shape));
  int64_t lead = x.dim() - int64_t(shape.size());
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i < lead) axes.push_back(i);
    else if (shape[i - lead] == 1 && x.shape()[i] != 1) axes.push_back(i);
    else DIVE_CHECK(shape[i - lead] == x.shape()[i], "sum_to: cannot reduce ", x.str(), " to ", shape_str(shape));
  }
  if (axes.empty()) return x.reshape(shape);
  return sum(x, axes, true).reshape(shape);
}

Tensor l2_normalize(const Tensor& x, int64_t axis, double eps) {
  return div(x, clamp_min(norm(x, {axis}, true), eps));
}

}  // namespace dive
