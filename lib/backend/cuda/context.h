// Internal context of the CUDA backend: per-device streams and cuBLAS handles, device guard, and the
// CUDA_CHECK / CUBLAS_CHECK macros. Include only from lib/backend/cuda/ (CUDA headers stay inside it).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "lib/backend/cuda/device.h"
#include "lib/core/device.h"
#include "lib/core/error.h"

namespace dive::cuda {

// The one stream of device `index` (created lazily, non-blocking w.r.t. the legacy default stream).
// Every kernel, copy and cuBLAS call of the backend for that device is ordered on it.
cudaStream_t stream(int index);
// The cuBLAS handle of device `index` (created lazily, after a device was found), bound to stream(index),
// math mode CUBLAS_DEFAULT_MATH (no TF32) unless set_allow_tf32(true).
cublasHandle_t cublas_handle(int index);
// stream() of the calling thread's current device.
cudaStream_t current_stream();

// Makes `index` the current device for its lifetime, restoring the previous one afterwards.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = -1;
};

// Checks that `d` is a CUDA device that exists ("device cuda:3: only 1 CUDA device(s) present").
void check_device(Device d);

namespace detail {
[[noreturn]] void throw_cuda(cudaError_t e, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas(cublasStatus_t s, const char* expr, const char* file, int line);
}  // namespace detail

}  // namespace dive::cuda

// CUDA_CHECK(cudaMalloc(...)): throws dive::Error "CUDA error <name>: <string> in <expr> [file:line]".
#define CUDA_CHECK(expr)                                                              \
  do {                                                                                \
    cudaError_t dive_cuda_err_ = (expr);                                              \
    if (dive_cuda_err_ != cudaSuccess)                                                \
      ::dive::cuda::detail::throw_cuda(dive_cuda_err_, #expr, __FILE__, __LINE__);    \
  } while (0)

// CUBLAS_CHECK(cublasSgemm(...)): throws dive::Error naming the cuBLAS status.
#define CUBLAS_CHECK(expr)                                                            \
  do {                                                                                \
    cublasStatus_t dive_cublas_st_ = (expr);                                          \
    if (dive_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                     \
      ::dive::cuda::detail::throw_cublas(dive_cublas_st_, #expr, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: reports launch-configuration errors at the launch site.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
