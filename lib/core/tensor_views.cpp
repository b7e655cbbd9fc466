// The Tensor members that build views (reshape, permute, slice, expand, squeeze/unsqueeze), copies and
// conversions, with their backward rules. Views share storage and run no kernel; copies, fills and
// random draws run their kernels, and autograd records its nodes, through lib/core/hooks.h.
#include <algorithm>
#include <functional>
#include <numeric>
#include <optional>

#include "lib/core/hooks.h"
#include "lib/core/rng.h"
#include "lib/core/tensor.h"

namespace dive {

namespace {

// Strides for viewing `t` as `shape` without a copy, or empty when impossible (PyTorch's rule:
// every group of merged/split dims must be contiguous within itself).
std::optional<Shape> view_strides(const Tensor& t, const Shape& shape) {
  const Shape& old = t.shape();
  const Shape& os = t.strides();
  Shape ns(shape.size());
  if (t.numel() == 0 || old.empty()) return contiguous_strides(shape);
  int64_t view_d = int64_t(shape.size()) - 1;
  int64_t chunk_base_stride = os.empty() ? 1 : os.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(old.size()) - 1; d >= 0; --d) {
    tensor_numel *= old[d];
    if (d == 0 || (old[d - 1] != 1 && os[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        ns[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = os[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return ns;
}

Shape infer_shape(const Shape& shape, int64_t numel, const char* op) {
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      DIVE_CHECK(infer < 0, op, ": only one -1 allowed in shape ", shape_str(shape));
      infer = int64_t(i);
    } else {
      DIVE_CHECK(s[i] >= 0, op, ": invalid size ", s[i], " in shape ", shape_str(shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    DIVE_CHECK(known > 0 && numel % known == 0, op, ": shape ", shape_str(shape), " is invalid for ",
               numel, " elements");
    s[infer] = numel / known;
  }
  DIVE_CHECK(shape_numel(s) == numel, op, ": shape ", shape_str(shape), " is invalid for ", numel,
             " elements");
  return s;
}

// A view op: builds the view and records `rule` (gradient of the view -> gradient of the input).
Tensor record_view(const char* name, const Tensor& x, Tensor v, std::function<Tensor(const Tensor&)> rule) {
  if (core_hooks().records(x)) core_hooks().record_unary(name, x, v, std::move(rule));
  return v;
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), "view");
  auto st = view_strides(*this, s);
  DIVE_CHECK(st.has_value(), "view: cannot view ", str(), " as ", shape_str(s),
             " without a copy (non-contiguous); use reshape()");
  Shape in_shape = this->shape();
  return record_view("view", *this, make_view(*this, s, *st, offset()),
                     [in_shape](const Tensor& g) { return g.reshape(in_shape); });
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), "reshape");
  if (view_strides(*this, s)) return view(s);
  return contiguous().view(s);
}

Tensor Tensor::permute(const std::vector<int64_t>& order) const {
  DIVE_CHECK(int64_t(order.size()) == dim(), "permute: order has ", order.size(), " entries for a ",
             dim(), "-D tensor");
  Shape s(order.size()), st(order.size());
  std::vector<int64_t> inverse(order.size(), -1);
  for (size_t i = 0; i < order.size(); ++i) {
    int64_t d = wrap_dim(order[i], dim(), "permute");
    DIVE_CHECK(inverse[d] < 0, "permute: dim ", d, " repeated");
    inverse[d] = int64_t(i);
    s[i] = shape()[d];
    st[i] = strides()[d];
  }
  return record_view("permute", *this, make_view(*this, s, st, offset()),
                     [inverse](const Tensor& g) { return g.permute(inverse); });
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  std::vector<int64_t> order(static_cast<size_t>(dim()));
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[wrap_dim(a, dim(), "transpose")], order[wrap_dim(b, dim(), "transpose")]);
  return permute(order);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d, dim(), "slice");
  int64_t n = shape()[d];
  DIVE_CHECK(step > 0, "slice: step must be positive, got ", step);
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape(), st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] *= step;
  Shape in_shape = shape();
  DType dt = dtype();
  return record_view("slice", *this, make_view(*this, s, st, offset() + start * strides()[d]),
                     [=](const Tensor& g) {
                       Tensor z = Tensor::zeros(in_shape, dt, g.device());
                       z.slice(d, start, end, step).copy_(g);
                       return z;
                     });
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  int64_t n = shape()[d];
  DIVE_CHECK(index >= -n && index < n, "select: index ", index, " out of range for dim ", d, " of size ", n);
  if (index < 0) index += n;
  return slice(d, index, index + 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& shape) const {
  DIVE_CHECK(int64_t(shape.size()) >= dim(), "expand: cannot expand ", str(), " to ", shape_str(shape));
  size_t lead = shape.size() - size_t(dim());
  Shape s(shape.size()), st(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      DIVE_CHECK(shape[i] >= 0, "expand: invalid size in ", shape_str(shape));
      s[i] = shape[i];
      st[i] = 0;
      continue;
    }
    int64_t cur = this->shape()[i - lead];
    int64_t want = shape[i] == -1 ? cur : shape[i];
    DIVE_CHECK(cur == want || cur == 1, "expand: dim ", i, " of size ", cur, " cannot become ", want,
               " (", str(), " -> ", shape_str(shape), ")");
    s[i] = want;
    st[i] = cur == want ? strides()[i - lead] : 0;
  }
  if (s == this->shape()) return *this;
  Shape in_shape = this->shape();
  return record_view("expand", *this, make_view(*this, s, st, offset()),
                     [in_shape](const Tensor& g) { return core_hooks().sum_to(g, in_shape); });
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape(), st = strides();
  int64_t inner = d < dim() ? strides()[d] * shape()[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, inner);
  return record_view("unsqueeze", *this, make_view(*this, s, st, offset()),
                     [d](const Tensor& g) { return g.squeeze(d); });
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape s = shape(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return record_view("squeeze", *this, make_view(*this, s, st, offset()),
                     [d](const Tensor& g) { return g.unsqueeze(d); });
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) return reshape({1});
  start = wrap_dim(start, dim(), "flatten");
  end = wrap_dim(end, dim(), "flatten");
  Shape s(shape().begin(), shape().begin() + start);
  int64_t m = 1;
  for (int64_t i = start; i <= end; ++i) m *= shape()[i];
  s.push_back(m);
  s.insert(s.end(), shape().begin() + end + 1, shape().end());
  return reshape(s);
}

// ---- copies and conversions --------------------------------------------------------------------

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(shape(), dtype(), device());
  core_hooks().copy(*this, out);
  if (core_hooks().records(*this)) core_hooks().record_unary("clone", *this, out, [](const Tensor& g) { return g; });
  return out;
}

Tensor Tensor::to(DType dt) const {
  if (dt == dtype()) return *this;
  Tensor out = Tensor::empty(shape(), dt, device());
  core_hooks().copy(*this, out);
  if (is_floating(dt) && is_floating(dtype()) && core_hooks().records(*this)) {
    DType back = dtype();
    core_hooks().record_unary("to_dtype", *this, out, [back](const Tensor& g) { return g.to(back); });
  }
  return out;
}

Tensor Tensor::to(Device dev) const {
  if (dev == device()) return *this;
  Tensor src = contiguous();
  Tensor out = Tensor::empty(shape(), dtype(), dev);
  copy_bytes(out.raw_data(), dev, src.raw_data(), src.device(), src.nbytes());
  if (core_hooks().records(*this)) {
    Device back = device();
    core_hooks().record_unary("to_device", *this, out, [back](const Tensor& g) { return g.to(back); });
  }
  return out;
}

Tensor& Tensor::copy_(const Tensor& src) {
  DIVE_CHECK(!(core_hooks().grad_mode_enabled() && (requires_grad() || src.requires_grad())),
             "copy_: in-place copy on a tensor that takes part in autograd; wrap it in NoGradGuard");
  Tensor s = src.shape() == shape() ? src : src.expand(shape());
  if (s.device() != device() && s.dtype() == dtype() && s.is_contiguous() && is_contiguous()) {
    copy_bytes(raw_data(), device(), s.raw_data(), s.device(), nbytes());  // one transfer, no staging tensor
    return *this;
  }
  if (s.device() != device()) s = s.to(device());
  core_hooks().copy(s, *this);
  return *this;
}

Tensor& Tensor::fill_(double value) {
  DIVE_CHECK(!(core_hooks().grad_mode_enabled() && requires_grad()),
             "fill_: in-place fill of a tensor that requires grad; wrap it in NoGradGuard");
  core_hooks().fill(*this, value);
  return *this;
}

Tensor Tensor::zeros(const Shape& shape, DType dt, Device dev) { return full(shape, 0.0, dt, dev); }
Tensor Tensor::ones(const Shape& shape, DType dt, Device dev) { return full(shape, 1.0, dt, dev); }
Tensor Tensor::full(const Shape& shape, double value, DType dt, Device dev) {
  Tensor t = empty(shape, dt, dev);
  core_hooks().fill(t, value);
  return t;
}
Tensor Tensor::scalar(double value, DType dt, Device dev) { return full({}, value, dt, dev); }

namespace {
Tensor random_fill(const char* what, bool normal, const Shape& shape, double a, double b, DType dt, Device dev) {
  DIVE_CHECK(is_floating(dt), what, ": dtype must be f32 or f64");
  Tensor t = Tensor::empty(shape, dt, dev);
  core_hooks().random(normal, t, a, b);
  return t;
}
}  // namespace

Tensor Tensor::rand(const Shape& shape, double low, double high, DType dt, Device dev) {
  return random_fill("rand_uniform", false, shape, low, high, dt, dev);
}
Tensor Tensor::randn(const Shape& shape, double mean, double std, DType dt, Device dev) {
  return random_fill("rand_normal", true, shape, mean, std, dt, dev);
}

void Tensor::backward(const Tensor& grad) const { core_hooks().backward(*this, grad); }

Generator& default_generator() {
  static Generator g(0);
  return g;
}

}  // namespace dive
