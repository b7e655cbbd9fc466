// Shared helpers of the op layer (not part of the public API).
#pragma once
#include <array>
#include <string>
#include <vector>

#include "lib/autograd/node.h"
#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"

namespace dive::ops {

// Allocates one output per (shape, dtype) on in[0]'s device, runs the kernel, returns the outputs.
std::vector<Tensor> run(OpId op, std::vector<Tensor> in, const std::vector<std::pair<Shape, DType>>& outs,
                        Attrs attrs = {});
inline Tensor run1(OpId op, std::vector<Tensor> in, const Shape& shape, DType dt, Attrs attrs = {}) {
  return run(op, std::move(in), {{shape, dt}}, std::move(attrs))[0];
}

// Checks that every tensor is defined, floating, of the same dtype and device as the first.
void check_same(const char* op, const std::vector<Tensor>& ts, bool floating = true);
// Normalises, sorts and de-duplicates reduction axes (empty = all).
std::vector<int64_t> norm_axes(const char* op, std::vector<int64_t> axes, int64_t rank);
// Shape with `axes` set to 1 (keepdim) or removed.
Shape reduced_shape(const Shape& s, const std::vector<int64_t>& axes, bool keepdim);
// Reshapes a keepdim-shaped gradient / result so it broadcasts against the input again.
Tensor unsqueeze_axes(const Tensor& g, const std::vector<int64_t>& axes, int64_t rank);

// "(a, b)" for error messages about 2-D sizes.
inline std::string pair_str(const std::array<int64_t, 2>& v) { return detail::cat("(", v[0], ", ", v[1], ")"); }

// Output size of a convolution or pooling window along one dim: floor((in + 2 pad - dil (k - 1) - 1) /
// stride) + 1, checked to be >= 1 (the error names op and x).
int64_t conv_out_size(const char* op, const Tensor& x, int64_t in, int64_t k, int64_t stride, int64_t pad,
                      int64_t dilation);

using autograd::any_requires_grad;
using autograd::record;

}  // namespace dive::ops
