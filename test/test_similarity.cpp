// The fused smooth-Chamfer path (GEMM + smooth_chamfer op) equals the logsumexp composite, forward and
// backward, on every host backend, in f32 and f64; the blocked evaluation matrix equals set_similarity.
#include <boost/test/unit_test.hpp>

#include <vector>

#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"
#include "lib/ops/similarity.h"
#include "model/loss.h"
#include "model/retrieval.h"

using namespace dive;

namespace {

std::vector<Device> host_devices() {
  std::vector<Device> d{kRef};
  if (backend_available(DeviceKind::cpu)) d.push_back(kCPU);
  return d;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  Tensor d = abs(sub(a.to(kCPU).to(DType::f64), b.to(kCPU).to(DType::f64)));
  return d.numel() == 0 ? 0.0 : max(d.reshape({-1}), 0).first.item<double>();
}

// Sets of Ki and Kt elements (scale 1: unit vectors, as the model; larger scales exercise the kernels'
// exact fallback for coarse block shifts).
void check_equal(int64_t B, int64_t Ki, int64_t C, int64_t Kt, int64_t D, double alpha, double scale, Device dev,
                 DType dt) {
  manual_seed(uint64_t(7 + B * 31 + Ki * 7 + Kt));
  Tensor img0 = scale_shift(l2_normalize(Tensor::randn({B, Ki, D}, 0, 1, DType::f64), -1), scale).to(dt).to(dev);
  Tensor txt0 = scale_shift(l2_normalize(Tensor::randn({C, Kt, D}, 0, 1, DType::f64), -1), scale).to(dt).to(dev);
  Tensor w = Tensor::randn({B, C}, 0, 1, DType::f64).to(dt).to(dev);
  auto run = [&](bool fused) {
    Tensor img = img0.detach().clone().set_requires_grad(), txt = txt0.detach().clone().set_requires_grad();
    Tensor s = fused ? model::set_similarity(img, txt, "smooth_chamfer", alpha, 2.0)
                     : model::set_similarity_composite(img, txt, "smooth_chamfer", alpha, 2.0);
    sum(mul(s, w)).backward();
    return std::vector<Tensor>{s.detach(), img.grad(), txt.grad()};
  };
  auto f = run(true), c = run(false);
  double tol = dt == DType::f64 ? 1e-12 : 2e-5 * scale;
  const char* what[] = {"S", "dimg", "dtxt"};
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(max_abs_diff(f[size_t(i)], c[size_t(i)]) <= tol,
               what[i] << " differs on " << dev.str() << " " << dtype_name(dt) << " B=" << B << " Ki=" << Ki
                       << " C=" << C << " Kt=" << Kt << " alpha=" << alpha << " scale=" << scale << ": "
                       << max_abs_diff(f[size_t(i)], c[size_t(i)]));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(similarity)

BOOST_AUTO_TEST_CASE(fused_equals_composite) {
  for (Device dev : host_devices())
    for (DType dt : {DType::f32, DType::f64}) {
      check_equal(5, 4, 25, 4, 32, 16, 1, dev, dt);    // the model's K = 4 (cpu: the Kt = 4 SIMD path)
      check_equal(3, 3, 7, 2, 16, 16, 1, dev, dt);     // Ki != Kt
      check_equal(2, 1, 300, 5, 8, 4, 1, dev, dt);     // Ki = 1, several tiles of caption groups
      check_equal(4, 4, 9, 4, 8, 16, 6, dev, dt);      // |M| up to 36: the exact fallback
    }
}

BOOST_AUTO_TEST_CASE(out_variant_writes_a_window) {
  for (Device dev : host_devices()) {
    manual_seed(3);
    Tensor m = Tensor::randn({12, 30}, 0, 1, DType::f32, dev);  // Bi = 3, Ki = 4; Bt = 10, Kt = 3
    Tensor big = Tensor::full({5, 14}, -7.0, DType::f32, dev);
    Tensor win = big.slice(0, 1, 4).slice(1, 2, 12);
    smooth_chamfer_out(m, 4, 3, 16, 2, win);
    BOOST_TEST(max_abs_diff(win, smooth_chamfer(m, 4, 3, 16, 2)) == 0.0);
    // untouched outside the window
    BOOST_TEST(max_abs_diff(big.slice(0, 0, 1), Tensor::full({1, 14}, -7.0)) == 0.0);
    BOOST_TEST(max_abs_diff(big.slice(1, 12, 14), Tensor::full({5, 2}, -7.0)) == 0.0);
    Tensor bad = Tensor::empty({3, 9}, DType::f32, dev);
    BOOST_CHECK_THROW(smooth_chamfer_out(m, 4, 3, 16, 2, bad), Error);
  }
  BOOST_CHECK_THROW(smooth_chamfer(Tensor::zeros({10, 8}), 4, 4, 16, 2), Error);  // 10 rows, Ki = 4
}

BOOST_AUTO_TEST_CASE(blocked_matrix_equals_set_similarity) {
  manual_seed(11);
  Tensor img = l2_normalize(Tensor::randn({13, 4, 24}), -1), txt = l2_normalize(Tensor::randn({65, 4, 24}), -1);
  Tensor ref = model::set_similarity_composite(img, txt, "smooth_chamfer", 16, 2);
  for (int64_t block : {0, 1, 4, 64, 1000})
    BOOST_TEST(max_abs_diff(model::similarity_matrix(img, txt, "smooth_chamfer", 16, 2, block), ref) < 2e-6,
               "block " << block);
  Tensor chamfer = model::similarity_matrix(img, txt, "chamfer", 16, 2, 5);
  BOOST_TEST(max_abs_diff(chamfer, model::set_similarity_composite(img, txt, "chamfer", 16, 2)) < 1e-6);
}

BOOST_AUTO_TEST_SUITE_END()
