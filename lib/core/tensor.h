// Tensor: a cheap handle to (storage, shape, strides, offset, dtype) plus autograd metadata.
// Views share storage. Math lives in lib/ops/ops.h; this header is the data model only.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/device.h"
#include "lib/core/dtype.h"
#include "lib/core/error.h"
#include "lib/core/storage.h"

namespace dive {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

// A node of the autograd tape; opaque here (defined by lib/autograd/node.h).
struct GradNode;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;

  // autograd
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf (or retained grad)
  std::shared_ptr<GradNode> grad_fn;  // node that produced this tensor, if any
  int output_nr = 0;  // which output of grad_fn
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation ----------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dt = DType::f32, Device dev = kCPU);
  static Tensor zeros(const Shape& shape, DType dt = DType::f32, Device dev = kCPU);
  static Tensor ones(const Shape& shape, DType dt = DType::f32, Device dev = kCPU);
  static Tensor full(const Shape& shape, double value, DType dt = DType::f32, Device dev = kCPU);
  static Tensor scalar(double value, DType dt = DType::f32, Device dev = kCPU);
  // Copies host data (numel must match) into a new tensor on `dev`.
  template <class T>
  static Tensor from_vector(const std::vector<T>& data, const Shape& shape, Device dev = kCPU);
  static Tensor from_raw(const void* data, const Shape& shape, DType dt, Device dev = kCPU);
  // Uniform [low, high) and normal(mean, std) from the counter RNG (default generator if seed < 0).
  static Tensor rand(const Shape& shape, double low = 0, double high = 1, DType dt = DType::f32,
                     Device dev = kCPU);
  static Tensor randn(const Shape& shape, double mean = 0, double std = 1, DType dt = DType::f32,
                      Device dev = kCPU);

  // ---- metadata ----------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t dim() const { return int64_t(impl().shape.size()); }
  int64_t size(int64_t d) const;    // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const { return shape_numel(impl().shape); }
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_contiguous() const;
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype()); }
  std::string str() const;  // "f32[2, 3] on cpu"

  // Pointer to the first element (honours the offset). Host tensors only for typed access.
  void* raw_data() const;
  template <class T> T* data() const;
  template <class T> T item() const;              // one-element tensor -> host value
  template <class T> std::vector<T> to_vector() const;  // contiguous host copy, row-major

  // ---- copies and conversions (autograd-aware) ---------------------------------------------
  Tensor to(Device dev) const;
  Tensor to(DType dt) const;
  Tensor contiguous() const;
  Tensor clone() const;

  // ---- views (share storage; autograd-aware) -----------------------------------------------
  Tensor reshape(const Shape& shape) const;  // view when possible, else copy; one -1 allowed
  Tensor view(const Shape& shape) const;     // must be viewable without a copy
  Tensor permute(const std::vector<int64_t>& order) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor t() const { return transpose(-2, -1); }
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const { return slice(dim, start, start + length); }
  Tensor select(int64_t dim, int64_t index) const;  // removes the dim
  Tensor expand(const Shape& shape) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;

  // ---- autograd ------------------------------------------------------------------------------
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  Tensor& set_requires_grad(bool on = true);
  Tensor grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }
  void set_grad(const Tensor& g) { impl().grad = g.impl_; }
  void zero_grad() { impl().grad.reset(); }
  bool is_leaf() const { return !impl().grad_fn; }
  // Same data, cut from the graph.
  Tensor detach() const;
  // Reverse-mode differentiation from this tensor (scalar unless `grad` is given).
  void backward(const Tensor& grad = Tensor()) const;

  // ---- in-place (refused on tensors that take part in autograd, unless in NoGradGuard) -------
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }

  TensorImpl& impl() const {
    DIVE_CHECK(impl_, "use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// A new view of `base`'s storage with the given geometry (no autograd recording).
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);
// Normalises a possibly negative dim against rank `n` ("op: dim 3 out of range for 2-D tensor").
int64_t wrap_dim(int64_t d, int64_t n, const char* op);

// ---- template definitions ----------------------------------------------------------------------
template <class T>
Tensor Tensor::from_vector(const std::vector<T>& data, const Shape& shape, Device dev) {
  DIVE_CHECK(int64_t(data.size()) == shape_numel(shape), "from_vector: ", data.size(),
             " values for shape ", shape_str(shape));
  return from_raw(data.data(), shape, DTypeOf<T>::value, dev);
}

template <class T>
T* Tensor::data() const {
  DIVE_CHECK(device().is_host(), "data<T>() on a ", device().str(), " tensor: copy it to the host first");
  DIVE_CHECK(dtype_size(dtype()) == sizeof(T), "data<T>(): element size mismatch for ", dtype_name(dtype()));
  return static_cast<T*>(raw_data());
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor h = to(DTypeOf<T>::value);
  if (!h.device().is_host()) h = h.to(kCPU);
  h = h.contiguous();
  const T* p = h.data<T>();
  return std::vector<T>(p, p + h.numel());
}

template <class T>
T Tensor::item() const {
  DIVE_CHECK(numel() == 1, "item(): tensor has ", numel(), " elements, expected 1");
  return to_vector<T>()[0];
}

}  // namespace dive
