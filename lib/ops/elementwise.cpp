// Elementwise ops: broadcasting binary arithmetic, comparisons, where, masked_fill, unary math.
#include <cmath>
#include <limits>

#include "lib/ops/attrs.h"
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    DIVE_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
               " do not broadcast (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

// Broadcast view without recording (the backward rules reduce with sum_to themselves).
Tensor bview(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  size_t lead = shape.size() - size_t(t.dim());
  Shape st(shape.size(), 0);
  for (size_t i = lead; i < shape.size(); ++i)
    st[i] = t.shape()[i - lead] == shape[i] ? t.strides()[i - lead] : 0;
  return make_view(t, shape, st, t.offset());
}

Tensor binary(OpId op, const Tensor& a, const Tensor& b, DType out_dt, bool floating = true) {
  check_same(op_name(op), {a, b}, floating);
  Shape s = broadcast_shapes(a.shape(), b.shape(), op_name(op));
  return run1(op, {bview(a, s), bview(b, s)}, s, out_dt);
}

Tensor unary(OpId op, const Tensor& x, Attrs attrs = {}) {
  check_same(op_name(op), {x});
  return run1(op, {x}, x.shape(), x.dtype(), std::move(attrs));
}

// Records a two-input rule whose raw gradients are reduced back to the input shapes.
void record_binary(const char* name, const Tensor& a, const Tensor& b, Tensor& out,
                   std::function<std::pair<Tensor, Tensor>(const Tensor&)> rule) {
  Shape sa = a.shape(), sb = b.shape();
  bool ra = a.requires_grad(), rb = b.requires_grad();
  record(name, {a, b}, {&out}, [=](const std::vector<Tensor>& g) {
    auto [ga, gb] = rule(g[0]);
    return std::vector<Tensor>{ra && ga.defined() ? sum_to(ga, sa) : Tensor(),
                               rb && gb.defined() ? sum_to(gb, sb) : Tensor()};
  });
}

Tensor as_float(const Tensor& mask, DType dt) { return mask.to(dt); }

}  // namespace

Tensor scalar_like(const Tensor& x, double v) { return Tensor::scalar(v, x.dtype(), x.device()); }

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary(OpId::add, a, b, a.dtype());
  if (any_requires_grad({a, b}))
    record_binary("add", a, b, out, [](const Tensor& g) { return std::pair{g, g}; });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary(OpId::sub, a, b, a.dtype());
  if (any_requires_grad({a, b}))
    record_binary("sub", a, b, out, [](const Tensor& g) { return std::pair{g, neg(g)}; });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary(OpId::mul, a, b, a.dtype());
  if (any_requires_grad({a, b})) {
    Tensor ad = a.detach(), bd = b.detach();
    bool ra = a.requires_grad(), rb = b.requires_grad();
    record_binary("mul", a, b, out, [=](const Tensor& g) {
      return std::pair{ra ? mul(g, bd) : Tensor(), rb ? mul(g, ad) : Tensor()};
    });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary(OpId::div, a, b, a.dtype());
  if (any_requires_grad({a, b})) {
    Tensor bd = b.detach(), od = out.detach();
    bool rb = b.requires_grad();
    record_binary("div", a, b, out, [=](const Tensor& g) {
      Tensor ga = div(g, bd);
      return std::pair{ga, rb ? neg(mul(ga, od)) : Tensor()};
    });
  }
  return out;
}

namespace {
// Gradient weights of maximum/minimum: 1 where `a` wins, 0.5 on ties (as PyTorch), 0 elsewhere.
std::pair<Tensor, Tensor> extremum_weights(const Tensor& a, const Tensor& b, bool is_max) {
  Tensor wins_a = as_float(is_max ? gt(a, b) : lt(a, b), a.dtype());
  Tensor wins_b = as_float(is_max ? lt(a, b) : gt(a, b), a.dtype());
  Tensor tie = scale_shift(as_float(eq(a, b), a.dtype()), 0.5);
  return {add(wins_a, tie), add(wins_b, tie)};
}

Tensor extremum(OpId op, const Tensor& a, const Tensor& b) {
  Tensor out = binary(op, a, b, a.dtype());
  if (any_requires_grad({a, b})) {
    Tensor ad = a.detach(), bd = b.detach();
    bool is_max = op == OpId::maximum;
    record_binary(op_name(op), a, b, out, [=](const Tensor& g) {
      auto [wa, wb] = extremum_weights(ad, bd, is_max);
      return std::pair{mul(g, wa), mul(g, wb)};
    });
  }
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(OpId::maximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(OpId::minimum, a, b); }

Tensor pow(const Tensor& x, double p) {
  Tensor out = unary(OpId::pow_scalar, x, {{}, {p}});
  if (any_requires_grad({x})) {
    Tensor xd = x.detach();
    record("pow", {x}, {&out}, [=](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{mul(g[0], scale_shift(pow(xd, p - 1.0), p))};
    });
  }
  return out;
}

Tensor scale_shift(const Tensor& x, double scale, double shift) {
  Tensor out = unary(OpId::scale_shift, x, ScaleShiftAttrs{scale, shift}.pack());
  if (any_requires_grad({x})) {
    record("scale_shift", {x}, {&out}, [=](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{scale_shift(g[0], scale)};
    });
  }
  return out;
}

Tensor eq(const Tensor& a, const Tensor& b) { return binary(OpId::eq, a, b, DType::boolean, false); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary(OpId::ne, a, b, DType::boolean, false); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary(OpId::lt, a, b, DType::boolean, false); }
Tensor le(const Tensor& a, const Tensor& b) { return binary(OpId::le, a, b, DType::boolean, false); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary(OpId::gt, a, b, DType::boolean, false); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary(OpId::ge, a, b, DType::boolean, false); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  DIVE_CHECK(cond.defined() && cond.dtype() == DType::boolean, "where: condition must be a bool tensor, got ",
             cond.defined() ? dtype_name(cond.dtype()) : "undefined");
  check_same("where", {a, b});
  Shape s = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = run1(OpId::where, {bview(cond, s), bview(a, s), bview(b, s)}, s, a.dtype());
  if (any_requires_grad({a, b})) {
    Tensor c = cond.detach();
    Shape sa = a.shape(), sb = b.shape();
    bool ra = a.requires_grad(), rb = b.requires_grad();
    record("where", {a, b}, {&out}, [=](const std::vector<Tensor>& g) {
      Tensor z = scalar_like(g[0], 0.0);
      return std::vector<Tensor>{ra ? sum_to(where(c, g[0], z), sa) : Tensor(),
                                 rb ? sum_to(where(c, z, g[0]), sb) : Tensor()};
    });
  }
  return out;
}

namespace {
// Unary op whose gradient is g * f(x, y).
Tensor unary_grad(OpId op, const Tensor& x, std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)> rule,
                  Attrs attrs = {}) {
  Tensor out = unary(op, x, std::move(attrs));
  if (any_requires_grad({x})) {
    Tensor xd = x.detach(), yd = out.detach();
    record(op_name(op), {x}, {&out}, [=](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{rule(g[0], xd, yd)};
    });
  }
  return out;
}
}  // namespace

Tensor neg(const Tensor& x) {
  return unary_grad(OpId::neg, x, [](const Tensor& g, const Tensor&, const Tensor&) { return neg(g); });
}
Tensor abs(const Tensor& x) {
  return unary_grad(OpId::abs, x, [](const Tensor& g, const Tensor& x, const Tensor&) { return mul(g, sign(x)); });
}
Tensor sign(const Tensor& x) { return unary(OpId::sign, x); }
Tensor exp(const Tensor& x) {
  return unary_grad(OpId::exp, x, [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(g, y); });
}
Tensor log(const Tensor& x) {
  return unary_grad(OpId::log, x, [](const Tensor& g, const Tensor& x, const Tensor&) { return div(g, x); });
}
Tensor sqrt(const Tensor& x) {
  return unary_grad(OpId::sqrt, x,
                    [](const Tensor& g, const Tensor&, const Tensor& y) { return div(scale_shift(g, 0.5), y); });
}
Tensor rsqrt(const Tensor& x) {
  return unary_grad(OpId::rsqrt, x, [](const Tensor& g, const Tensor&, const Tensor& y) {
    return mul(g, scale_shift(pow(y, 3.0), -0.5));
  });
}
Tensor tanh(const Tensor& x) {
  return unary_grad(OpId::tanh, x, [](const Tensor& g, const Tensor&, const Tensor& y) {
    return mul(g, scale_shift(mul(y, y), -1.0, 1.0));
  });
}
Tensor sigmoid(const Tensor& x) {
  return unary_grad(OpId::sigmoid, x, [](const Tensor& g, const Tensor&, const Tensor& y) {
    return mul(g, mul(y, scale_shift(y, -1.0, 1.0)));
  });
}
Tensor relu(const Tensor& x) {
  return unary_grad(OpId::relu, x, [](const Tensor& g, const Tensor& x, const Tensor&) {
    return run1(OpId::relu_backward, {g, x}, g.shape(), g.dtype());
  });
}
Tensor gelu(const Tensor& x) {
  return unary_grad(OpId::gelu, x, [](const Tensor& g, const Tensor& x, const Tensor&) {
    return run1(OpId::gelu_backward, {g, x}, g.shape(), g.dtype());
  });
}
Tensor clamp(const Tensor& x, double lo, double hi) {
  DIVE_CHECK(!(lo > hi), "clamp: min ", lo, " is greater than max ", hi);
  return unary_grad(
      OpId::clamp, x,
      [lo, hi](const Tensor& g, const Tensor& x, const Tensor&) {
        // PyTorch passes the gradient where lo <= x <= hi.
        Tensor in = mul(as_float(ge(x, scalar_like(x, lo)), x.dtype()), as_float(le(x, scalar_like(x, hi)), x.dtype()));
        return mul(g, in);
      },
      ClampAttrs{lo, hi}.pack());
}
Tensor clamp_min(const Tensor& x, double lo) { return clamp(x, lo, std::numeric_limits<double>::infinity()); }

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_same("masked_fill", {x});
  DIVE_CHECK(mask.defined() && mask.dtype() == DType::boolean, "masked_fill: mask must be bool, got ",
             mask.defined() ? dtype_name(mask.dtype()) : "undefined");
  Shape s = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  DIVE_CHECK(s == x.shape(), "masked_fill: mask ", mask.str(), " does not broadcast to the input ", x.str());
  Tensor m = mask.expand(s).detach();
  Tensor out = run1(OpId::masked_fill, {x.detach(), m}, x.shape(), x.dtype(), Attrs{{}, {value}});
  if (any_requires_grad({x})) {
    record("masked_fill", {x}, {&out}, [=](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{masked_fill(g[0], m, 0.0)};
    });
  }
  return out;
}

}  // namespace dive
