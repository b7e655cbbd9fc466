#include "bench/peak.h"

#include <immintrin.h>
#include <omp.h>

namespace dive::bench {

namespace {

// 16 independent accumulators hide the FMA latency (4 cycles x 2 pipes x 2 for safety).
__attribute__((target("avx512f"))) float run_avx512(int64_t iters) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 16; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) float run_avx2(int64_t iters) {
  __m256 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm256_set1_ps(float(i) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 16; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < 16; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}

}  // namespace

double fma_flops(int64_t iters, int threads) {
  bool avx512 = __builtin_cpu_supports("avx512f");
  volatile float sink = 0;
#pragma omp parallel num_threads(threads)
  {
    float r = avx512 ? run_avx512(iters) : run_avx2(iters);
#pragma omp critical
    sink = sink + r;
  }
  double lanes = avx512 ? 16 : 8;
  return double(iters) * 16 * lanes * 2 * threads;
}

}  // namespace dive::bench
