// Shared machinery of the CUDA kernels: strided element iteration (max 8 dims after coalescing) with a
// 1-D fast path, the generic elementwise launcher, and dtype loads/stores as double.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>

#include "lib/backend/cuda/context.h"
#include "lib/backend/cuda/index_math.cuh"
#include "lib/ops/dispatch.h"

namespace dive::cuda {

inline constexpr int kMaxDims = 8;
inline constexpr int kBlock = 256;

// N operands of one shape (operand 0 is the output), addressed by byte strides. Built by
// make_iter(), which drops size-1 dims and merges dims that are contiguous in every operand, so
// contiguous tensors (and scalars broadcast with stride 0) end up 1-D and skip the div/mod loop.
// Below kSmall elements the coordinates come from 32-bit multiply-high divisions (index_math.cuh): a
// 64-bit division costs dozens of instructions per dim and element, which made permuted copies and
// broadcast arithmetic instruction-bound.
template <int N>
struct ElemIter {
  int ndim = 1;
  bool small = false;  // numel < kSmall: 32-bit coordinates
  int64_t size[kMaxDims];
  Div<int32_t> div[kMaxDims];
  int64_t stride[N][kMaxDims];  // bytes
  char* ptr[N];

  __device__ __forceinline__ void offsets(int64_t i, char** p) const {
    if (ndim == 1) {
#pragma unroll
      for (int k = 0; k < N; ++k) p[k] = ptr[k] + i * stride[k][0];
      return;
    }
#pragma unroll
    for (int k = 0; k < N; ++k) p[k] = ptr[k];
    if (small) {
      int32_t j = int32_t(i);
      for (int d = ndim - 1; d >= 0; --d) {
        const int32_t q = div[d](j);
        const int64_t c = j - q * int32_t(size[d]);
        j = q;
#pragma unroll
        for (int k = 0; k < N; ++k) p[k] += c * stride[k][d];
      }
      return;
    }
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t c = i % size[d];
      i /= size[d];
#pragma unroll
      for (int k = 0; k < N; ++k) p[k] += c * stride[k][d];
    }
  }
};

// Builds the iterator for tensors of the same shape (ts[0] the output). `op` names the op in errors.
template <int N>
ElemIter<N> make_iter(const char* op, const Tensor* const (&ts)[N]) {
  const Shape& shape = ts[0]->shape();
  for (int k = 1; k < N; ++k)
    DIVE_CHECK(ts[k]->shape() == shape, op, ": operand ", k, " has shape ", shape_str(ts[k]->shape()),
               ", expected the output shape ", shape_str(shape), " (inputs arrive broadcast)");
  // Dims of size 1 contribute nothing; collect the others outermost first.
  int64_t sz[64];
  int64_t st[N][64];
  int nd = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    DIVE_CHECK(nd < 64, op, ": too many dims");
    sz[nd] = shape[d];
    for (int k = 0; k < N; ++k) st[k][nd] = ts[k]->strides()[d] * int64_t(dtype_size(ts[k]->dtype()));
    ++nd;
  }
  // Merge dim d into dim d-1 when every operand steps over d-1 exactly as d's extent.
  int out = 0;
  for (int d = 0; d < nd; ++d) {
    bool merge = out > 0;
    for (int k = 0; k < N && merge; ++k) merge = st[k][out - 1] == st[k][d] * sz[d];
    if (merge) {
      sz[out - 1] *= sz[d];
      for (int k = 0; k < N; ++k) st[k][out - 1] = st[k][d];
    } else {
      sz[out] = sz[d];
      for (int k = 0; k < N; ++k) st[k][out] = st[k][d];
      ++out;
    }
  }
  DIVE_CHECK(out <= kMaxDims, op, ": ", out, " non-mergeable dims after coalescing ", shape_str(shape),
             "; the CUDA backend supports at most ", kMaxDims, " (make an operand contiguous first)");
  ElemIter<N> it;
  it.ndim = std::max(out, 1);
  if (out == 0) {  // scalar (or all dims 1)
    it.size[0] = 1;
    for (int k = 0; k < N; ++k) it.stride[k][0] = 0;
  }
  it.small = ts[0]->numel() < kSmall;
  for (int d = 0; d < out; ++d) {
    it.size[d] = sz[d];
    it.div[d] = Div<int32_t>(it.small ? sz[d] : 1);
    for (int k = 0; k < N; ++k) it.stride[k][d] = st[k][d];
  }
  for (int k = 0; k < N; ++k) it.ptr[k] = static_cast<char*>(ts[k]->raw_data());
  return it;
}

// F: __device__ void operator()(char* const* p) const, p[k] = address of operand k's element.
template <int N, class F>
__global__ void elementwise_kernel(int64_t n, ElemIter<N> it, F f) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x) {
    char* p[N];
    it.offsets(i, p);
    f(p);
  }
}

inline unsigned grid_for(int64_t n) {
  return unsigned(std::min<int64_t>((n + kBlock - 1) / kBlock, int64_t(1) << 16));
}

// Runs f over every element of ts[0]'s shape on the output's device and stream.
template <int N, class F>
void launch_elementwise(const char* op, const Tensor* const (&ts)[N], F f) {
  const Tensor& out = *ts[0];
  int64_t n = out.numel();
  if (n == 0) return;
  ElemIter<N> it = make_iter<N>(op, ts);
  int dev = out.device().index;
  DeviceGuard g(dev);
  elementwise_kernel<N, F><<<grid_for(n), kBlock, 0, stream(dev)>>>(n, it, f);
  CUDA_CHECK_LAUNCH();
}

// ---- dtype-generic loads and stores (as the reference backend: through double) -----------------
__device__ __forceinline__ double load_double(const char* p, DType t) {
  switch (t) {
    case DType::f32: return *reinterpret_cast<const float*>(p);
    case DType::f64: return *reinterpret_cast<const double*>(p);
    case DType::i64: return double(*reinterpret_cast<const int64_t*>(p));
    case DType::i32: return *reinterpret_cast<const int32_t*>(p);
    case DType::u8:
    case DType::boolean: return *reinterpret_cast<const uint8_t*>(p);
    case DType::bf16: return __bfloat162float(*reinterpret_cast<const __nv_bfloat16*>(p));
    case DType::f16: return __half2float(*reinterpret_cast<const __half*>(p));
  }
  return 0;
}

__device__ __forceinline__ void store_double(char* p, DType t, double v) {
  switch (t) {
    case DType::f32: *reinterpret_cast<float*>(p) = float(v); break;
    case DType::f64: *reinterpret_cast<double*>(p) = v; break;
    case DType::i64: *reinterpret_cast<int64_t*>(p) = int64_t(v); break;
    case DType::i32: *reinterpret_cast<int32_t*>(p) = int32_t(v); break;
    case DType::u8: *reinterpret_cast<uint8_t*>(p) = uint8_t(v); break;
    case DType::boolean: *reinterpret_cast<uint8_t*>(p) = v != 0; break;
    // float first, then round to nearest even (as dtype.cpp's float_to_bf16 / float_to_f16)
    case DType::bf16: *reinterpret_cast<__nv_bfloat16*>(p) = __float2bfloat16_rn(float(v)); break;
    case DType::f16: *reinterpret_cast<__half*>(p) = __float2half_rn(float(v)); break;
  }
}

// Checks that every tensor lives on the output's CUDA device and has dtype `dt`.
inline void check_dtypes(const char* op, const std::vector<Tensor>& ts, DType dt) {
  for (const Tensor& t : ts)
    DIVE_CHECK(!t.defined() || t.dtype() == dt, op, ": operand ", t.str(), " does not have dtype ",
               dtype_name(dt), " (cuda kernels do not cast)");
}

}  // namespace dive::cuda
