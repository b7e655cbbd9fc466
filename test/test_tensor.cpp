// Tensor core: views share storage, contiguity, geometry errors, dtype conversions, the counter RNG.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "lib/core/rng.h"
#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"

using namespace dive;

BOOST_AUTO_TEST_SUITE(tensor)

BOOST_AUTO_TEST_CASE(views_share_storage) {
  Tensor a = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor t = a.t();
  BOOST_TEST(!t.is_contiguous());
  BOOST_TEST((t.shape() == Shape{3, 2}));
  BOOST_TEST(t.contiguous().to_vector<float>() == (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Tensor row = a.select(0, 1);
  {
    NoGradGuard ng;
    row.fill_(7);
  }
  BOOST_TEST(a.to_vector<float>() == (std::vector<float>{0, 1, 2, 7, 7, 7}));
  Tensor col = a.slice(1, 0, 3, 2);
  BOOST_TEST(col.contiguous().to_vector<float>() == (std::vector<float>{0, 2, 7, 7}));
  BOOST_TEST((a.unsqueeze(1).shape() == Shape{2, 1, 3}));
  BOOST_TEST((a.unsqueeze(1).squeeze(1).shape() == Shape{2, 3}));
  BOOST_TEST((a.reshape({-1}).shape() == Shape{6}));
  BOOST_TEST((a.expand({4, 2, 3}).strides() == Shape{0, 3, 1}));
  BOOST_TEST((a.permute({1, 0}).reshape({6}).to_vector<float>() == std::vector<float>{0, 7, 1, 7, 2, 7}));
}

BOOST_AUTO_TEST_CASE(view_refuses_non_contiguous_and_reshape_copies) {
  Tensor a = Tensor::zeros({3, 4});
  BOOST_CHECK_THROW(a.t().view({12}), Error);
  BOOST_TEST((a.t().reshape({12}).shape() == Shape{12}));
  BOOST_CHECK_THROW(a.reshape({5, -1}), Error);
  BOOST_CHECK_THROW(a.reshape({-1, -1}), Error);
  BOOST_CHECK_THROW(a.permute({0, 0}), Error);
  BOOST_CHECK_THROW(a.expand({3, 5}), Error);
  BOOST_CHECK_THROW(a.size(2), Error);
}

BOOST_AUTO_TEST_CASE(errors_name_the_op_and_shapes) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  try {
    add(a, b);
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    std::string m = e.what();
    BOOST_TEST(m.find("add") != std::string::npos);
    BOOST_TEST(m.find("[2, 3]") != std::string::npos);
    BOOST_TEST(m.find("[4]") != std::string::npos);
  }
  BOOST_CHECK_THROW(matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})), Error);
  BOOST_CHECK_THROW(add(Tensor::zeros({2}), Tensor::zeros({2}, DType::f64)), Error);
  BOOST_CHECK_THROW(index_select(Tensor::zeros({3, 2}), 0, Tensor::from_vector<int64_t>({0, 3}, {2})), Error);
  BOOST_CHECK_THROW(Device::parse("gpu"), Error);
  BOOST_TEST(Device::parse("cuda:1").index == 1);
}

BOOST_AUTO_TEST_CASE(dtype_conversions_round_trip) {
  Tensor a = Tensor::from_vector<float>({1.5f, -2.25f, 3.0f, 65504.0f}, {4});
  BOOST_TEST(a.to(DType::f64).to(DType::f32).to_vector<float>() == a.to_vector<float>());
  BOOST_TEST(a.to(DType::bf16).to(DType::f32).to_vector<float>() == (std::vector<float>{1.5f, -2.25f, 3.0f, 65536.0f}));
  BOOST_TEST(a.to(DType::f16).to(DType::f32).to_vector<float>() == a.to_vector<float>());
  BOOST_TEST(f16_to_float(float_to_f16(1e-6f)) > 0.f);  // subnormal f16 survives
  BOOST_TEST(std::isinf(f16_to_float(float_to_f16(1e6f))));
  BOOST_TEST(Tensor::from_vector<int64_t>({3, -4}, {2}).to(DType::f32).to_vector<float>() == (std::vector<float>{3, -4}));
}

BOOST_AUTO_TEST_CASE(host_allocations_are_64_byte_aligned) {
  for (int n : {1, 3, 17, 1000}) {
    Tensor t = Tensor::empty({n});
    BOOST_TEST(reinterpret_cast<uintptr_t>(t.raw_data()) % 64 == 0u);
  }
}

BOOST_AUTO_TEST_CASE(counter_rng_is_order_independent_and_seeded) {
  manual_seed(5);
  Tensor a = Tensor::rand({100});
  Tensor b = Tensor::rand({100});
  manual_seed(5);
  Tensor c = Tensor::rand({200});
  std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>(), vc = c.to_vector<float>();
  for (int i = 0; i < 100; ++i) {
    BOOST_TEST(va[i] == vc[i]);
    BOOST_TEST(vb[i] == vc[100 + i]);
  }
  // Philox4x32-10 known-answer test (Random123 kat_vectors: counter 0, key 0).
  Philox4x32 r = philox(0, 0);
  BOOST_TEST(r.c[0] == 0x6627e8d5u);
  BOOST_TEST(r.c[1] == 0xe169c58du);
  BOOST_TEST(r.c[2] == 0xbc57ac4cu);
  BOOST_TEST(r.c[3] == 0x9b00dbd8u);
  // uniform mean and normal moments on 20000 draws
  manual_seed(9);
  Tensor u = Tensor::rand({20000}, 0, 1, DType::f64);
  Tensor n = Tensor::randn({20000}, 0, 1, DType::f64);
  BOOST_TEST(std::fabs(mean(u).item<double>() - 0.5) < 0.01);
  BOOST_TEST(std::fabs(mean(n).item<double>()) < 0.03);
  BOOST_TEST(std::fabs(var(n).item<double>() - 1.0) < 0.05);
}

BOOST_AUTO_TEST_CASE(cuda_device_reports_clearly_when_absent) {
  if (backend_available(DeviceKind::cuda)) {
    BOOST_TEST_MESSAGE("CUDA device present: checked by the CUDA suites");
    return;
  }
  BOOST_TEST_MESSAGE("skipped: no CUDA device");
  BOOST_CHECK_THROW(Tensor::zeros({2}, DType::f32, kCUDA), Error);
}

BOOST_AUTO_TEST_SUITE_END()
