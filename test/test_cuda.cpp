// CUDA-only checks beyond the op-by-op parity of test_ops: bit-identical training steps in deterministic
// mode (DivE BUTD model and a ResNet through cuDNN; the same on the CPU backend), allocator statistics,
// and clear device errors.
// Without a GPU every case reports "skipped: no CUDA device".
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"
#include "lib/optim/optimizer.h"
#include "model/resnet.h"
#include "model/vse.h"
#include "test/test_util.h"

#if DIVE_HAVE_CUDA
#include "lib/backend/cuda/device.h"
#endif

namespace dive {
namespace {

// Bit patterns of every parameter, in name order.
std::vector<std::vector<uint8_t>> param_bits(nn::Module& m) {
  std::vector<std::vector<uint8_t>> out;
  for (auto& [name, p] : m.named_parameters()) {
    Tensor h = p.detach().to(kCPU).contiguous();
    const auto* b = static_cast<const uint8_t*>(h.raw_data());
    out.emplace_back(b, b + h.numel() * int64_t(dtype_size(h.dtype())));
  }
  return out;
}

// Three DivE training steps (dropout on, embedding backward through index_add, AdamW) from a fixed seed.
std::vector<std::vector<uint8_t>> dive_steps(Device dev) {
  model::ModelConfig cfg;
  cfg.img_dim = 96;
  cfg.embed_size = 64;
  cfg.word_dim = 32;
  cfg.vocab_size = 50;
  cfg.spm_dim_head = 16;
  cfg.spm_depth = 2;
  manual_seed(7);
  model::DiveModel m(cfg);
  m.to(dev);
  m.train();
  optim::Adam opt({optim::ParamGroup{"all", m.parameters(), 1e-3, 1e-3, 1e-4}}, true);
  const int64_t B = 6, N = 9, T = 7, C = 5 * B;
  model::Batch b;
  b.images = Tensor::randn({B, N, cfg.img_dim}, 0, 1, DType::f32, dev);
  std::vector<int64_t> il(static_cast<size_t>(B)), caps(static_cast<size_t>(C * T), 0), cl(static_cast<size_t>(C));
  for (int64_t i = 0; i < B; ++i) il[size_t(i)] = N - i % 3;
  for (int64_t c = 0; c < C; ++c) {
    cl[size_t(c)] = 3 + c % (T - 2);
    for (int64_t t = 0; t < cl[size_t(c)]; ++t) caps[size_t(c * T + t)] = 1 + (c * 13 + t * 7) % (cfg.vocab_size - 1);
  }
  b.img_lengths = Tensor::from_vector(il, {B}, dev);
  b.captions = Tensor::from_vector(caps, {C, T}, dev);
  b.cap_lengths = Tensor::from_vector(cl, {C}, dev);
  for (int s = 0; s < 3; ++s) {
    opt.zero_grad();
    model::StepOutput o = m.forward(b);
    o.loss.total.backward();
    optim::clip_grad_norm(m.parameters(), 1.0);
    opt.step();
  }
  return param_bits(m);
}

// Two ResNet-18 forward/backward + SGD steps at 64x64 (cuDNN convolutions, batch norm, pooling).
std::vector<std::vector<uint8_t>> resnet_steps(Device dev) {
  manual_seed(3);
  model::ResNetConfig rc;
  rc.depth = 18;
  rc.with_head = true;
  rc.num_classes = 10;
  model::ResNet net(rc);
  net.to(dev);
  net.train();
  optim::SGD opt({optim::ParamGroup{"all", net.parameters(), 0.1, 0.1, 0}}, 0.9);
  Tensor x = Tensor::randn({4, 3, 64, 64}, 0, 1, DType::f32, dev);
  Tensor w = Tensor::randn({4, 10}, 0, 1, DType::f32, dev);
  for (int s = 0; s < 2; ++s) {
    opt.zero_grad();
    sum(mul(net.forward(x), w)).backward();
    opt.step();
  }
  return param_bits(net);
}

// max / min / logsumexp / sum / var over 5000 elements (split reductions on CUDA) with ties, NaNs and
// infinities, along a contiguous and along a leading axis, against the reference backend. Returns the
// mismatches as text (empty: all agree; NaN equals NaN, indices exactly).
std::string special_reductions_mismatch(Device dev) {
  const int64_t n = 5000;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> v(size_t(4 * n));
  for (int64_t i = 0; i < 4 * n; ++i) v[size_t(i)] = float((i * 37) % 101) / 10.0f;  // 101 values: many ties
  v[size_t(n + 4000)] = nan;  // row 1: the first NaN wins max and min
  v[size_t(n + 4500)] = nan;
  for (int64_t i = 0; i < n; ++i) v[size_t(2 * n + i)] = -inf;  // row 2: -inf but one; row 3: all -inf
  v[size_t(2 * n + 4321)] = 1.5f;
  for (int64_t i = 0; i < n; ++i) v[size_t(3 * n + i)] = -inf;
  Tensor rows = Tensor::from_vector(v, {4, n}, kRef);
  std::ostringstream bad;
  auto compare = [&](const std::string& what, const Tensor& ref, const Tensor& got) {
    std::vector<double> a = ref.to(kRef).to(DType::f64).to_vector<double>();
    std::vector<double> b = got.to(kRef).to(DType::f64).to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) {
      bool same = (std::isnan(a[i]) && std::isnan(b[i])) || a[i] == b[i] ||
                  std::abs(a[i] - b[i]) <= 1e-5 * (1 + std::abs(a[i]));
      if (!same) bad << what << "[" << i << "]: " << b[i] << " vs reference " << a[i] << "\n";
    }
  };
  for (bool leading : {false, true}) {
    Tensor x = leading ? rows.t().contiguous() : rows;
    const int64_t ax = leading ? 0 : 1;
    const std::string tag = leading ? " (leading axis)" : " (last axis)";
    Tensor y = x.to(dev);
    auto [mx, imx] = max(x, ax);
    auto [gmx, gimx] = max(y, ax);
    compare("max" + tag, mx, gmx);
    compare("argmax" + tag, imx, gimx);
    auto [mn, imn] = min(x, ax);
    auto [gmn, gimn] = min(y, ax);
    compare("min" + tag, mn, gmn);
    compare("argmin" + tag, imn, gimn);
    compare("logsumexp" + tag, logsumexp(x, {ax}), logsumexp(y, {ax}));
    compare("sum" + tag, sum(x, {ax}), sum(y, {ax}));
    compare("var" + tag, var(x, {ax}), var(y, {ax}));
  }
  return bad.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cuda)

BOOST_AUTO_TEST_CASE(cpu_reductions_with_ties_nans_and_infinities) {
  std::string bad = special_reductions_mismatch(kCPU);
  BOOST_TEST(bad.empty(), bad);
}

BOOST_AUTO_TEST_CASE(reductions_with_ties_nans_and_infinities, *boost::unit_test::precondition(test::cuda_present)) {
  std::string bad = special_reductions_mismatch(kCUDA);
  BOOST_TEST(bad.empty(), bad);
}

// The same checks on the CPU backend (they also keep this file's helpers honest on machines without a GPU).
BOOST_AUTO_TEST_CASE(cpu_training_steps_are_bit_identical) {
  BOOST_TEST((dive_steps(kCPU) == dive_steps(kCPU)));
  BOOST_TEST((resnet_steps(kCPU) == resnet_steps(kCPU)));
}

BOOST_AUTO_TEST_CASE(dive_training_steps_are_bit_identical, *boost::unit_test::precondition(test::cuda_present)) {
  auto a = dive_steps(kCUDA);
  auto b = dive_steps(kCUDA);
  BOOST_TEST_REQUIRE(a.size() == b.size());
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i] != b[i];
  BOOST_TEST(differ == 0, differ << " of " << a.size() << " parameters differ between two identical runs");
}

BOOST_AUTO_TEST_CASE(resnet_training_steps_are_bit_identical, *boost::unit_test::precondition(test::cuda_present)) {
  auto a = resnet_steps(kCUDA);
  auto b = resnet_steps(kCUDA);
  BOOST_TEST_REQUIRE(a.size() == b.size());
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i] != b[i];
  BOOST_TEST(differ == 0, differ << " of " << a.size() << " parameters differ between two identical runs");
}

// Weight gradients of the GEMM paths (conv_gemm.cu: im2col for 3x3 and strided 7x7, per-image
// partials for 1x1) in one chunk and in chunks of 2 images, against the reference backend.
BOOST_AUTO_TEST_CASE(conv_weight_gradients_in_chunks_match_reference, *boost::unit_test::precondition(test::cuda_present)) {
#if DIVE_HAVE_CUDA  // set_conv_gemm_scratch_bytes exists in CUDA builds only
  struct Conv {
    Shape x, w;
    int64_t stride, pad;
  };
  for (const Conv& c : {Conv{{5, 6, 9, 8}, {4, 6, 3, 3}, 1, 1}, Conv{{5, 6, 9, 8}, {4, 6, 1, 1}, 1, 0},
                        Conv{{5, 3, 16, 15}, {4, 3, 7, 7}, 2, 3}}) {
    manual_seed(11);
    const Tensor x = Tensor::randn(c.x, 0, 1, DType::f32, kRef), w0 = Tensor::randn(c.w, 0, 1, DType::f32, kRef);
    const Tensor g = Tensor::randn(conv2d(x, w0, Tensor(), {c.stride, c.stride}, {c.pad, c.pad}).shape(), 0, 1,
                                   DType::f32, kRef);
    auto weight_grad = [&](Device dev) {
      Tensor w = w0.to(dev).detach().set_requires_grad();
      sum(mul(conv2d(x.to(dev), w, Tensor(), {c.stride, c.stride}, {c.pad, c.pad}), g.to(dev))).backward();
      return w.grad().to(kRef).to_vector<float>();
    };
    const std::vector<float> ref = weight_grad(kRef), whole = weight_grad(kCUDA);
    const int64_t per_image = (c.w[1] * c.w[2] * c.w[3] + c.w[0]) * g.size(2) * g.size(3) * 4;  // col + gt, f32
    const int64_t saved = cuda::set_conv_gemm_scratch_bytes(c.w[2] == 1 ? 2 * c.w[0] * c.w[1] * 4 : 2 * per_image);
    const std::vector<float> chunked = weight_grad(kCUDA);
    cuda::set_conv_gemm_scratch_bytes(saved);
    for (size_t i = 0; i < ref.size(); ++i) {
      const double tol = 1e-4 * (1 + std::abs(ref[i]));
      BOOST_TEST(std::abs(whole[i] - ref[i]) <= tol, "one chunk, w " << shape_str(c.w) << " [" << i << "]");
      BOOST_TEST(std::abs(chunked[i] - ref[i]) <= tol, "chunks of 2 images, w " << shape_str(c.w) << " [" << i << "]");
    }
  }
#endif
}

BOOST_AUTO_TEST_CASE(memory_statistics_track_tensors, *boost::unit_test::precondition(test::cuda_present)) {
  DeviceMemory before = device_memory(kCUDA);
  {
    Tensor t = Tensor::zeros({1 << 20}, DType::f32, kCUDA);  // 4 MiB
    DeviceMemory during = device_memory(kCUDA);
    BOOST_TEST(during.allocated >= before.allocated + (4u << 20));
    BOOST_TEST(during.peak_allocated >= during.allocated);
    BOOST_TEST(during.reserved >= during.allocated);
  }
  BOOST_TEST(device_memory(kCUDA).allocated == before.allocated);
}

BOOST_AUTO_TEST_CASE(a_missing_device_is_a_clear_error, *boost::unit_test::precondition(test::cuda_present)) {
  try {
    Tensor::zeros({2}, DType::f32, Device::parse("cuda:63"));
    BOOST_FAIL("no error for cuda:63");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("cuda:63") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace dive
