// Optional 4th argument of the GPU benchmarks: "nondet" lets CUDA use atomics and any cuDNN algorithm
// (dive's --nondeterministic), to compare with PyTorch's default, which is not deterministic either.
#pragma once
#include <cstring>

#include "lib/core/device.h"
#if DIVE_HAVE_CUDA
#include "lib/backend/cuda/device.h"
#endif

namespace dive::bench {

// Returns "deterministic" or "nondeterministic" for the JSON line.
inline const char* apply_gpu_mode(int argc, char** argv, int at) {
  bool nondet = argc > at && std::strcmp(argv[at], "nondet") == 0;
#if DIVE_HAVE_CUDA
  cuda::set_deterministic(!nondet);
#endif
  return nondet ? "nondeterministic" : "deterministic";
}

}  // namespace dive::bench
