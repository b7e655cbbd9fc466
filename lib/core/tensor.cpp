// Tensor metadata and geometry. Everything that runs a kernel lives in lib/ops.
#include "lib/core/tensor.h"

#include <sstream>

namespace dive {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t i = int64_t(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

int64_t wrap_dim(int64_t d, int64_t n, const char* op) {
  int64_t w = d < 0 ? d + n : d;
  DIVE_CHECK(w >= 0 && w < std::max<int64_t>(n, 1) && (n > 0 || w == 0), op, ": dim ", d,
             " out of range for a ", n, "-D tensor");
  return w;
}

Tensor Tensor::empty(const Shape& shape, DType dt, Device dev) {
  for (auto d : shape) DIVE_CHECK(d >= 0, "empty: negative dimension in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(shape_numel(shape)) * dtype_size(dt), dev);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dt;
  return Tensor(std::move(impl));
}

Tensor Tensor::from_raw(const void* data, const Shape& shape, DType dt, Device dev) {
  Tensor t = empty(shape, dt, dev);
  copy_bytes(t.raw_data(), dev, data, kCPU, t.nbytes());
  return t;
}

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t acc = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != acc) return false;
    acc *= shape()[i];
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " on " + device().str();
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + offset() * int64_t(dtype_size(dtype()));
}

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl().storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

Tensor& Tensor::set_requires_grad(bool on) {
  DIVE_CHECK(!on || is_floating(dtype()), "requires_grad: only f32/f64 tensors can require grad, got ",
             dtype_name(dtype()));
  DIVE_CHECK(is_leaf(), "requires_grad: only leaf tensors can change requires_grad; use detach()");
  impl().requires_grad = on;
  return *this;
}

}  // namespace dive
