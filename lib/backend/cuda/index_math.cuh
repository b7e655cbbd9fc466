// Index arithmetic shared by the CUDA kernels that address elements by computed coordinates
// (launch.cuh's strided iteration, indexing.cu, pool.cu, conv_gemm.cu): 32-bit arithmetic where every
// count fits (kSmall), fast division by a fixed divisor, and grid-stride loop bounds.
#pragma once
#include <cstdint>

namespace dive::cuda {

constexpr int64_t kSmall = int64_t(1) << 30;  // counts below this use 32-bit index arithmetic

// Calls f(IT{}) with IT = int32_t when `small`, else int64_t.
template <class F>
void with_index_type(bool small, F&& f) {
  if (small) f(int32_t{});
  else f(int64_t{});
}

// Division by a fixed positive divisor. 32-bit: a multiply-high and a shift (Granlund-Montgomery
// round-up method, exact for 0 <= n < 2^31 and 1 <= d < 2^31): with s = ceil(log2 d) and
// m = floor(2^32 (2^s - d) / d) + 1, n / d = (umulhi(n, m) + n) >> s. Integer division by a runtime
// divisor costs ~20 instructions, and these kernels are otherwise limited by instruction issue.
template <class IT>
struct Div;
template <>
struct Div<int32_t> {
  uint32_t m = 1, s = 0;
  Div() = default;
  explicit Div(int64_t d) {
    const uint64_t dd = uint64_t(d < 1 ? 1 : d);
    while ((uint64_t(1) << s) < dd) ++s;
    m = uint32_t(((uint64_t(1) << 32) * ((uint64_t(1) << s) - dd)) / dd + 1);
  }
  __device__ __forceinline__ int32_t operator()(int32_t n) const {
    return int32_t((__umulhi(uint32_t(n), m) + uint32_t(n)) >> s);
  }
};
template <>
struct Div<int64_t> {
  int64_t d = 1;
  Div() = default;
  explicit Div(int64_t v) : d(v < 1 ? 1 : v) {}
  __device__ __forceinline__ int64_t operator()(int64_t n) const { return n / d; }
};

template <class IT>
__device__ __forceinline__ IT thread_start() {
  return IT(blockIdx.x) * IT(blockDim.x) + IT(threadIdx.x);
}
template <class IT>
__device__ __forceinline__ IT thread_step() {
  return IT(blockDim.x) * IT(gridDim.x);
}

}  // namespace dive::cuda
