// Op benchmarks at model shapes: matmul/linear (GFLOP/s), softmax, layer_norm, gelu (GB/s), on the
// oneDNN cpu backend and the reference backend, plus the machine's measured fp32 FMA peak; conv2d
// forward / backward-data / backward-weights (GFLOP/s) at the ResNet-50 layer shapes, batch 8.
#include <benchmark/benchmark.h>
#include <omp.h>

#include "bench/peak.h"
#include "lib/ops/dispatch.h"
#include "lib/nn/gru.h"
#include "lib/ops/op_util.h"
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

// conv2d at the ResNet-50 layer shapes, batch 8, cpu backend, NCHW tensors in and out (so any layout
// conversion the backend does is inside the timing). args: direction (0 forward, 1 backward data,
// 2 backward weights), C in, O out, H = W in, kernel k (padding k / 2), stride.
// FLOPs = 2 N O C k k OH OW.
void BM_conv2d(benchmark::State& st) {
  int64_t dir = st.range(0), C = st.range(1), O = st.range(2), H = st.range(3), k = st.range(4), s = st.range(5);
  int64_t N = 8, p = k / 2, OH = (H + 2 * p - k) / s + 1;
  NoGradGuard ng;
  manual_seed(0);
  Tensor x = Tensor::randn({N, C, H, H}), w = Tensor::randn({O, C, k, k}), gy = Tensor::randn({N, O, OH, OH});
  Attrs at{{s, s, p, p, 1, 1}, {}};
  for (auto _ : st) {
    Tensor r;
    if (dir == 0) r = conv2d(x, w, Tensor(), {s, s}, {p, p});
    else if (dir == 1) r = ops::run1(OpId::conv2d_backward_data, {gy, w}, x.shape(), DType::f32, at);
    else r = ops::run1(OpId::conv2d_backward_weights, {gy, x}, w.shape(), DType::f32, at);
    benchmark::DoNotOptimize(r.raw_data());
  }
  st.counters["FLOP/s"] =
      benchmark::Counter(2.0 * N * O * C * k * k * OH * OH, benchmark::Counter::kIsIterationInvariantRate);
}

void conv_shapes(benchmark::internal::Benchmark* b) {
  // C, O, H, k, stride: conv1; then per stage (56, 28, 14, 7) 1x1 reduce, 3x3, 1x1 expand, downsample 1x1.
  const std::vector<std::vector<int64_t>> shapes = {
      {3, 64, 224, 7, 2},                                                                    // conv1
      {256, 64, 56, 1, 1}, {64, 64, 56, 3, 1}, {64, 256, 56, 1, 1}, {64, 256, 56, 1, 1},     // layer1
      {512, 128, 28, 1, 1}, {128, 128, 28, 3, 1}, {128, 512, 28, 1, 1}, {256, 512, 56, 1, 2},  // layer2
      {1024, 256, 14, 1, 1}, {256, 256, 14, 3, 1}, {256, 1024, 14, 1, 1}, {512, 1024, 28, 1, 2},  // layer3
      {2048, 512, 7, 1, 1}, {512, 512, 7, 3, 1}, {512, 2048, 7, 1, 1}, {1024, 2048, 14, 1, 2},  // layer4
  };
  b->ArgNames({"dir", "C", "O", "H", "k", "s"});
  for (int64_t dir = 0; dir < 3; ++dir)
    for (const auto& v : shapes) b->Args({dir, v[0], v[1], v[2], v[3], v[4]});
}
BENCHMARK(BM_conv2d)->Apply(conv_shapes)->UseRealTime()->Unit(benchmark::kMillisecond);

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
