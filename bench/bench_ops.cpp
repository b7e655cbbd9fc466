// Op benchmarks at model shapes: matmul/linear (GFLOP/s), softmax, layer_norm, gelu (GB/s), on the
// oneDNN cpu backend and the reference backend, plus the machine's measured fp32 FMA peak.
#include <benchmark/benchmark.h>
#include <omp.h>

#include "bench/peak.h"
#include "lib/ops/dispatch.h"
#include "lib/nn/gru.h"
#include "lib/ops/ops.h"

using namespace dive;

namespace {

Device device_of(int64_t code) { return code == 0 ? kRef : kCPU; }

void BM_fp32_peak(benchmark::State& st) {
  int threads = omp_get_max_threads();
  double flops = 0;
  for (auto _ : st) flops += bench::fma_flops(20'000'000 / threads * 2, threads);
  st.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsRate);
  st.counters["threads"] = threads;
}
BENCHMARK(BM_fp32_peak)->UseRealTime()->Unit(benchmark::kMillisecond);

// args: device (0 ref, 1 cpu), M, K, N
void BM_matmul(benchmark::State& st) {
  Device dev = device_of(st.range(0));
  int64_t M = st.range(1), K = st.range(2), N = st.range(3);
  NoGradGuard ng;
  Tensor a = Tensor::randn({M, K}, 0, 1, DType::f32, dev), b = Tensor::randn({K, N}, 0, 1, DType::f32, dev);
  for (auto _ : st) benchmark::DoNotOptimize(matmul(a, b).raw_data());
  st.counters["FLOP/s"] = benchmark::Counter(2.0 * M * K * N, benchmark::Counter::kIsIterationInvariantRate);
}

// args: device, M, K, N: x [M, K] w [N, K] + bias
void BM_linear(benchmark::State& st) {
  Device dev = device_of(st.range(0));
  int64_t M = st.range(1), K = st.range(2), N = st.range(3);
  NoGradGuard ng;
  Tensor x = Tensor::randn({M, K}, 0, 1, DType::f32, dev), w = Tensor::randn({N, K}, 0, 1, DType::f32, dev),
         b = Tensor::randn({N}, 0, 1, DType::f32, dev);
  for (auto _ : st) benchmark::DoNotOptimize(linear(x, w, b).raw_data());
  st.counters["FLOP/s"] = benchmark::Counter(2.0 * M * K * N, benchmark::Counter::kIsIterationInvariantRate);
}

// args: device, rows, cols; bytes = read + write of the tensor
void BM_softmax(benchmark::State& st) {
  Device dev = device_of(st.range(0));
  int64_t R = st.range(1), C = st.range(2);
  NoGradGuard ng;
  Tensor x = Tensor::randn({R, C}, 0, 1, DType::f32, dev);
  for (auto _ : st) benchmark::DoNotOptimize(softmax(x, -1).raw_data());
  st.counters["B/s"] = benchmark::Counter(2.0 * R * C * 4, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_layer_norm(benchmark::State& st) {
  Device dev = device_of(st.range(0));
  int64_t R = st.range(1), C = st.range(2);
  NoGradGuard ng;
  Tensor x = Tensor::randn({R, C}, 0, 1, DType::f32, dev);
  Tensor g = Tensor::ones({C}, DType::f32, dev), b = Tensor::zeros({C}, DType::f32, dev);
  for (auto _ : st) benchmark::DoNotOptimize(layer_norm(x, g, b).raw_data());
  st.counters["B/s"] = benchmark::Counter(2.0 * R * C * 4, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_gelu(benchmark::State& st) {
  Device dev = device_of(st.range(0));
  int64_t n = st.range(1);
  NoGradGuard ng;
  Tensor x = Tensor::randn({n}, 0, 1, DType::f32, dev);
  for (auto _ : st) benchmark::DoNotOptimize(gelu(x).raw_data());
  st.counters["B/s"] = benchmark::Counter(2.0 * n * 4, benchmark::Counter::kIsIterationInvariantRate);
}

// The text GRU of the default model (300 -> 1024, bidirectional) on 5 x 128 captions of 12 tokens:
// forward + backward, arg 0 = per-step composite of primitives, 1 = fused gru_sequence.
void BM_gru(benchmark::State& st) {
  bool fused = st.range(0) != 0;
  int64_t C = st.range(1), T = 12;
  manual_seed(1);
  nn::GRU gru(300, 1024, true);
  Tensor x = Tensor::randn({C, T, 300});
  std::vector<int64_t> len(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) len[size_t(c)] = 6 + c % 7;
  Tensor lengths = Tensor::from_vector(len, {C});
  for (auto _ : st) {
    auto o = fused ? gru.forward(x, lengths, false) : gru.forward_composite(x, lengths);
    sum(o.h_n).backward();
    gru.zero_grad();
  }
}

}  // namespace

BENCHMARK(BM_gru)->Args({0, 640})->Args({1, 640})->UseRealTime()->Unit(benchmark::kMillisecond);

// Model shapes on the cpu backend: BUTD fc over 128x... regions ([7200, 2048] x [2048, 1024]) and the
// set module's feed-forward ([1000, 1024] x [1024, 4096]); the reference backend at a size it can run.
BENCHMARK(BM_matmul)->Args({1, 7200, 2048, 1024})->Args({1, 1000, 1024, 4096})->Args({1, 512, 512, 512})
    ->Args({0, 256, 256, 256})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_linear)->Args({1, 7200, 2048, 1024})->Args({1, 1000, 1024, 4096})->Args({0, 256, 256, 256})
    ->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_softmax)->Args({1, 4096, 1024})->Args({0, 4096, 1024})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_layer_norm)->Args({1, 4096, 1024})->Args({0, 4096, 1024})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gelu)->Args({1, 1 << 22})->Args({0, 1 << 22})->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
