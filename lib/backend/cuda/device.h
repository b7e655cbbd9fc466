// Public, CUDA-header-free API of the CUDA backend (usable from tests and tools, which only link it when
// DIVE_HAVE_CUDA). Streams, cuBLAS handles and the CUDA_CHECK/CUBLAS_CHECK macros are in context.h.
#pragma once

namespace dive::cuda {

// True when at least one usable CUDA device is present. Never throws; the answer is cached.
// Without a GPU (or driver) cudaGetDeviceCount fails, e.g. with cudaErrorInsufficientDriver: that is
// "no device", not an error.
bool available() noexcept;
// Number of usable devices (0 without a GPU). Never throws.
int device_count() noexcept;

// TF32 tensor-core math for f32 GEMMs; off by default so that f32 results match the other backends.
void set_allow_tf32(bool on);
bool allow_tf32();

// Deterministic mode (the default): no floating-point atomics in any kernel and only deterministic
// cuDNN algorithms, so two runs of the same training step give bit-identical results. Off, kernels
// may use atomics (index_add, scatter_add, pooling backward) and cuDNN may pick any algorithm.
void set_deterministic(bool on);
bool deterministic();

// Scratch per chunk of images of the GEMM-based convolution weight gradients (conv_gemm.cu;
// default 256 MiB). Tests lower it to exercise the chunked path. Returns the previous value.
int64_t set_conv_gemm_scratch_bytes(int64_t bytes);

// Waits until all work queued on device `index`'s stream has finished (for timings and tests).
void synchronize(int index = 0);

}  // namespace dive::cuda
