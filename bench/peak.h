// The machine's measured single-precision peak: independent FMA chains on every thread.
#pragma once
#include <cstdint>

namespace dive::bench {

// Runs `iters` rounds of FMAs on each of `threads` threads; returns the FLOPs executed.
double fma_flops(int64_t iters, int threads);

}  // namespace dive::bench
