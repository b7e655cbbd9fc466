// Reference copy/cast (every dtype, any strides) and fill, with the element load/store helpers the
// other reference kernels share.
#include <cmath>

#include "lib/backend/kernel_math.h"
#include "lib/backend/ref/ref_util.h"

namespace dive::ref {

double load_as_double(const Tensor& t, int64_t i) {
  const char* base = static_cast<const char*>(t.raw_data());
  int64_t off = strided_offset(t, i);
  switch (t.dtype()) {
    case DType::f32: return reinterpret_cast<const float*>(base)[off];
    case DType::f64: return reinterpret_cast<const double*>(base)[off];
    case DType::i64: return double(reinterpret_cast<const int64_t*>(base)[off]);
    case DType::i32: return reinterpret_cast<const int32_t*>(base)[off];
    case DType::u8:
    case DType::boolean: return reinterpret_cast<const uint8_t*>(base)[off];
    case DType::bf16: return bf16_to_float(reinterpret_cast<const uint16_t*>(base)[off]);
    case DType::f16: return f16_to_float(reinterpret_cast<const uint16_t*>(base)[off]);
  }
  return 0;
}

void store(const Tensor& t, int64_t i, double v) {
  char* base = static_cast<char*>(t.raw_data());
  int64_t off = strided_offset(t, i);
  switch (t.dtype()) {
    case DType::f32: reinterpret_cast<float*>(base)[off] = float(v); break;
    case DType::f64: reinterpret_cast<double*>(base)[off] = v; break;
    case DType::i64: reinterpret_cast<int64_t*>(base)[off] = int64_t(v); break;
    case DType::i32: reinterpret_cast<int32_t*>(base)[off] = int32_t(v); break;
    case DType::u8: reinterpret_cast<uint8_t*>(base)[off] = uint8_t(v); break;
    case DType::boolean: reinterpret_cast<uint8_t*>(base)[off] = v != 0; break;
    case DType::bf16: reinterpret_cast<uint16_t*>(base)[off] = float_to_bf16(float(v)); break;
    case DType::f16: reinterpret_cast<uint16_t*>(base)[off] = float_to_f16(float(v)); break;
  }
}

namespace {

void copy(KernelArgs& a) {
  const Tensor& x = a.in[0];
  const Tensor& y = a.out[0];
  DIVE_CHECK(x.shape() == y.shape(), "copy: shape ", shape_str(x.shape()), " into ", shape_str(y.shape()));
  int64_t n = y.numel();
  if (x.dtype() == y.dtype() && x.dtype() == DType::i64) {  // exact beyond 2^53
    for (int64_t i = 0; i < n; ++i)
      static_cast<int64_t*>(y.raw_data())[strided_offset(y, i)] = at<int64_t>(x, i);
    return;
  }
  for (int64_t i = 0; i < n; ++i) store(y, i, load_as_double(x, i));
}

void fill(KernelArgs& a) {
  const Tensor& y = a.out[0];
  int64_t n = y.numel();
  for (int64_t i = 0; i < n; ++i) store(y, i, a.attrs.f[0]);
}

}  // namespace

void register_copy(KernelTable& t) {
  t.kernels[int(OpId::copy)] = copy;
  t.kernels[int(OpId::fill)] = fill;
}

}  // namespace dive::ref
