// nn modules: state_dict names and weight sharing, strict loading errors, the GRU's packed semantics
// and its gradient.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "lib/ops/gradcheck.h"
#include "lib/nn/gru.h"
#include "lib/nn/layers.h"
#include "lib/ops/ops.h"

using namespace dive;

namespace {
struct Shared : nn::Module {
  std::shared_ptr<nn::Linear> a;
  Shared() {
    a = register_module("layers.0", std::make_shared<nn::Linear>(3, 2));
    register_module("layers.1", a);  // the same object: weight sharing
    register_module("bn", std::make_shared<nn::BatchNorm1d>(2));
  }
};
}  // namespace

BOOST_AUTO_TEST_SUITE(nn_modules)

BOOST_AUTO_TEST_CASE(state_dict_lists_shared_weights_under_every_name) {
  Shared m;
  auto sd = m.state_dict();
  BOOST_TEST(sd.count("layers.0.weight") == 1u);
  BOOST_TEST(sd.count("layers.1.weight") == 1u);
  BOOST_TEST(sd.count("bn.running_var") == 1u);
  BOOST_TEST(sd.count("bn.num_batches_tracked") == 1u);
  BOOST_TEST((sd["layers.0.weight"].raw_data() == sd["layers.1.weight"].raw_data()));
  auto np = m.named_parameters();
  BOOST_TEST(np.size() == 4u);  // layers.0.{weight,bias}, bn.{weight,bias}
  BOOST_TEST(np[0].first == "layers.0.weight");
}

BOOST_AUTO_TEST_CASE(load_state_dict_reports_every_problem) {
  Shared m;
  auto sd = m.state_dict();
  sd.erase("layers.1.bias");
  sd["extra.weight"] = Tensor::zeros({1});
  sd["bn.weight"] = Tensor::zeros({5});
  try {
    m.load_state_dict(sd);
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    std::string msg = e.what();
    BOOST_TEST(msg.find("missing (1)") != std::string::npos, msg);
    BOOST_TEST(msg.find("layers.1.bias") != std::string::npos, msg);
    BOOST_TEST(msg.find("unexpected (1)") != std::string::npos, msg);
    BOOST_TEST(msg.find("extra.weight") != std::string::npos, msg);
    BOOST_TEST(msg.find("bn.weight (file [5], model [2])") != std::string::npos, msg);
  }
}

BOOST_AUTO_TEST_CASE(load_state_dict_copies_values) {
  Shared a, b;
  NoGradGuard ng;
  a.a->weight.fill_(0.25);
  b.load_state_dict(a.state_dict());
  BOOST_TEST(b.a->weight.to_vector<float>() == std::vector<float>(6, 0.25f));
}

BOOST_AUTO_TEST_CASE(gru_packed_semantics_match_running_each_sequence_alone) {
  manual_seed(11);
  nn::GRU gru(3, 4, true);
  Tensor x = Tensor::randn({3, 5, 3});
  Tensor lengths = Tensor::from_vector<int64_t>({5, 2, 4}, {3});
  auto batched = gru.forward(x, lengths);
  std::vector<int64_t> len{5, 2, 4};
  for (int64_t b = 0; b < 3; ++b) {
    Tensor xb = x.slice(0, b, b + 1).slice(1, 0, len[size_t(b)]);
    auto single = gru.forward(xb, Tensor::from_vector<int64_t>({len[size_t(b)]}, {1}));
    std::vector<float> hb = batched.h_n.slice(1, b, b + 1).contiguous().to_vector<float>();
    std::vector<float> hs = single.h_n.contiguous().to_vector<float>();
    for (size_t i = 0; i < hb.size(); ++i) BOOST_TEST(std::fabs(hb[i] - hs[i]) < 1e-6);
    std::vector<float> ob = batched.output.slice(0, b, b + 1).slice(1, 0, len[size_t(b)]).contiguous().to_vector<float>();
    std::vector<float> os = single.output.contiguous().to_vector<float>();
    for (size_t i = 0; i < ob.size(); ++i) BOOST_TEST(std::fabs(ob[i] - os[i]) < 1e-6);
    // outputs past the length are zero
    if (len[size_t(b)] < 5)
      BOOST_TEST(sum(abs(batched.output.slice(0, b, b + 1).slice(1, len[size_t(b)], 5))).item<float>() == 0.f);
  }
}

BOOST_AUTO_TEST_CASE(gru_fused_equals_composite) {
  manual_seed(13);
  nn::GRU gru(3, 4, true);
  Tensor x = Tensor::randn({4, 6, 3});
  Tensor lengths = Tensor::from_vector<int64_t>({6, 2, 5, 1}, {4});
  Tensor w = Tensor::randn({4, 6, 8}), wh = Tensor::randn({2, 4, 4});
  std::vector<std::vector<float>> grads[2];
  Tensor outs[2], hns[2];
  for (int fused = 0; fused < 2; ++fused) {
    for (auto& p : gru.parameters()) p.zero_grad();
    Tensor xi = x.detach();
    xi.set_requires_grad(true);
    auto o = fused ? gru.forward(xi, lengths) : gru.forward_composite(xi, lengths);
    add(sum(mul(o.output, w)), sum(mul(o.h_n, wh))).backward();
    outs[fused] = o.output.detach();
    hns[fused] = o.h_n.detach();
    for (auto& p : gru.parameters()) grads[fused].push_back(p.grad().to_vector<float>());
    grads[fused].push_back(xi.grad().to_vector<float>());
  }
  auto close = [](const std::vector<float>& a, const std::vector<float>& b) {
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])) / (1 + std::fabs(b[i])));
    return worst;
  };
  BOOST_TEST(close(outs[1].to_vector<float>(), outs[0].to_vector<float>()) < 1e-5);
  BOOST_TEST(close(hns[1].to_vector<float>(), hns[0].to_vector<float>()) < 1e-5);
  for (size_t k = 0; k < grads[0].size(); ++k) BOOST_TEST(close(grads[1][k], grads[0][k]) < 1e-5, "gradient " << k);
}

BOOST_AUTO_TEST_CASE(gru_gradcheck_f64) {
  manual_seed(12);
  nn::GRU gru(2, 3, true);
  gru.to(kRef);
  gru.to(DType::f64);
  Tensor x = Tensor::randn({2, 3, 2}, 0, 1, DType::f64, kRef);
  x.set_requires_grad(true);
  Tensor lengths = Tensor::from_vector<int64_t>({3, 2}, {2}, kRef);
  std::vector<Tensor> inputs = gru.parameters();
  inputs.push_back(x);
  auto f = [&](const std::vector<Tensor>&) {
    auto o = gru.forward(x, lengths);
    return cat({o.output.reshape({-1}), o.h_n.reshape({-1})}, 0);
  };
  auto res = autograd::gradcheck(f, inputs);
  BOOST_TEST(res.ok, res.report);
}

BOOST_AUTO_TEST_CASE(batchnorm_counts_and_updates_running_stats) {
  nn::BatchNorm1d bn(2);
  Tensor x = Tensor::from_vector<float>({1, 10, 3, 20, 5, 30}, {3, 2});
  bn.forward(x);
  BOOST_TEST(bn.num_batches_tracked.item<int64_t>() == 1);
  std::vector<float> rm = bn.running_mean.to_vector<float>(), rv = bn.running_var.to_vector<float>();
  BOOST_TEST(std::fabs(rm[0] - 0.3f) < 1e-6);  // 0.1 * mean 3
  BOOST_TEST(std::fabs(rm[1] - 2.0f) < 1e-6);  // 0.1 * mean 20
  BOOST_TEST(std::fabs(rv[0] - (0.9f + 0.1f * 4.0f)) < 1e-6);    // unbiased var of {1,3,5} = 4
  BOOST_TEST(std::fabs(rv[1] - (0.9f + 0.1f * 100.0f)) < 1e-5);  // unbiased var of {10,20,30} = 100
  bn.eval();
  Tensor y = bn.forward(x);
  BOOST_TEST(bn.num_batches_tracked.item<int64_t>() == 1);
  BOOST_TEST(std::fabs(y.to_vector<float>()[0] - (1 - 0.3f) / std::sqrt(1.3f + 1e-5f)) < 1e-5);
}

// The windows of PyTorch's adaptive pooling ([floor(i H / oh), ceil((i + 1) H / oh))) checked against a
// brute-force loop, and the gradient of a tied window going to its first maximum in row-major order.
BOOST_AUTO_TEST_CASE(adaptive_max_pool2d_windows_and_ties) {
  const int64_t H = 7, W = 5, OH = 3, OW = 2;
  Tensor x = Tensor::randn({2, 3, H, W}, 0, 1, DType::f64);
  Tensor y = adaptive_max_pool2d(x, {OH, OW});
  BOOST_TEST((y.shape() == Shape{2, 3, OH, OW}));
  auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  for (int64_t p = 0; p < 6; ++p)
    for (int64_t i = 0; i < OH; ++i)
      for (int64_t j = 0; j < OW; ++j) {
        double m = -1e300;
        for (int64_t h = i * H / OH; h < ((i + 1) * H + OH - 1) / OH; ++h)
          for (int64_t w = j * W / OW; w < ((j + 1) * W + OW - 1) / OW; ++w) m = std::max(m, xv[size_t((p * H + h) * W + w)]);
        BOOST_TEST(yv[size_t((p * OH + i) * OW + j)] == m);
      }
  // a 2x2 map of equal values pooled to 1x1: the whole gradient goes to element (0, 0)
  Tensor t = Tensor::full({1, 1, 2, 2}, 3.0, DType::f64).set_requires_grad();
  sum(adaptive_max_pool2d(t, {1, 1})).backward();
  BOOST_TEST((t.grad().to_vector<double>() == std::vector<double>{1, 0, 0, 0}));
}

BOOST_AUTO_TEST_SUITE_END()
