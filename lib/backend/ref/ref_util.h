// Helpers of the reference backend: strided element addressing and the [outer, reduced] layout.
#pragma once
#include <vector>

#include "lib/ops/dispatch.h"

// Registers a kernel for `op` that runs `call` (which names scalar_t) for f32 and f64 inputs.
#define DIVE_REF_FLOAT_KERNEL(table, op, call)                                                            \
  (table).kernels[int(OpId::op)] = [](KernelArgs& a) { DIVE_DISPATCH_FLOAT(a.in[0].dtype(), #op, [&] { call; }); }

namespace dive::ref {

// Offset (in elements, from t's first element) of the element with row-major linear index `i`.
inline int64_t strided_offset(const Tensor& t, int64_t i) {
  int64_t off = 0;
  const Shape& s = t.shape();
  const Shape& st = t.strides();
  for (int64_t d = int64_t(s.size()) - 1; d >= 0; --d) {
    int64_t c = i % s[d];
    i /= s[d];
    off += c * st[d];
  }
  return off;
}

template <class T>
T at(const Tensor& t, int64_t i) {
  return static_cast<const T*>(t.raw_data())[strided_offset(t, i)];
}

// Copies `x` (any strides) to a contiguous host vector of doubles laid out as [outer, reduced]:
// kept axes first (in order), then the reduced `axes` (in order).
std::vector<double> to_outer_reduced(const Tensor& x, const std::vector<int64_t>& axes, int64_t& outer,
                                     int64_t& reduced);

// Host value of element i (any dtype), as double; store writes one (rounding to the element dtype).
// Both in copy.cpp.
double load_as_double(const Tensor& t, int64_t i);
void store(const Tensor& t, int64_t i, double v);

}  // namespace dive::ref
