// Recall metrics on hand-made score matrices (ranks worked out by hand in the comments).
#include <boost/test/unit_test.hpp>

#include "lib/ops/ops.h"
#include "model/retrieval.h"

using namespace dive;

BOOST_AUTO_TEST_SUITE(retrieval)

BOOST_AUTO_TEST_CASE(hand_made_two_images) {
  // image 0: its captions 0-4 score .1-.5, four captions of image 1 score higher -> i2t rank 4
  // image 1: its captions score 1, all others 0 -> rank 0. t2i: every caption's own image wins -> rank 0.
  std::vector<double> s = {0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.8, 0.7, 0.6, 0.05,
                           0,   0,   0,   0,   0,   1,   1,   1,   1,   1};
  auto m = model::recall_metrics(Tensor::from_vector(s, {2, 10}));
  BOOST_TEST(m.i2t_r1 == 50.0);
  BOOST_TEST(m.i2t_r5 == 100.0);
  BOOST_TEST(m.i2t_r10 == 100.0);
  BOOST_TEST(m.i2t_medr == 3.0);   // median of {0, 4} = 2 -> floor + 1
  BOOST_TEST(m.i2t_meanr == 3.0);  // mean 2 + 1
  BOOST_TEST(m.t2i_r1 == 100.0);
  BOOST_TEST(m.t2i_medr == 1.0);
  BOOST_TEST(m.t2i_meanr == 1.0);
  BOOST_TEST(m.rsum == 550.0);
}

BOOST_AUTO_TEST_CASE(t2i_ranks_count_better_images) {
  // 3 images; caption 0 (image 0) is scored .2 by its image, .5 and .9 by the others -> rank 2
  std::vector<double> s(3 * 15, 0.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 5 * i; j < 5 * i + 5; ++j) s[size_t(i * 15 + j)] = 1.0;
  s[0 * 15 + 0] = 0.2;
  s[1 * 15 + 0] = 0.5;
  s[2 * 15 + 0] = 0.9;
  auto m = model::recall_metrics(Tensor::from_vector(s, {3, 15}));
  // t2i ranks: caption 0 -> 2, the other 14 -> 0: R@1 = 14/15
  BOOST_TEST(std::fabs(m.t2i_r1 - 100.0 * 14 / 15) < 1e-9);
  BOOST_TEST(m.t2i_r5 == 100.0);
  BOOST_TEST(std::fabs(m.t2i_meanr - (2.0 / 15 + 1)) < 1e-9);
  // i2t: image 0 still has 4 captions at score 1 -> rank 0 (best of its five)
  BOOST_TEST(m.i2t_r1 == 100.0);
}

BOOST_AUTO_TEST_CASE(folds_average_disjoint_blocks) {
  manual_seed(4);
  Tensor s = Tensor::randn({10, 50}, 0, 1, DType::f64);
  auto folds = model::recall_metrics_folds(s, 5);
  auto a = model::recall_metrics(s.slice(0, 0, 5).slice(1, 0, 25));
  auto b = model::recall_metrics(s.slice(0, 5, 10).slice(1, 25, 50));
  BOOST_TEST(std::fabs(folds.rsum - (a.rsum + b.rsum) / 2) < 1e-9);
  BOOST_TEST(std::fabs(folds.t2i_meanr - (a.t2i_meanr + b.t2i_meanr) / 2) < 1e-9);
  BOOST_CHECK_THROW(model::recall_metrics_folds(s, 3), Error);
  BOOST_CHECK_THROW(model::recall_metrics(Tensor::zeros({2, 9})), Error);
}

BOOST_AUTO_TEST_CASE(blocked_similarity_equals_one_block) {
  manual_seed(5);
  Tensor img = l2_normalize(Tensor::randn({7, 4, 8}), -1), txt = l2_normalize(Tensor::randn({35, 4, 8}), -1);
  Tensor whole = model::similarity_matrix(img, txt, "smooth_chamfer", 16, 2, 1000);
  Tensor blocked = model::similarity_matrix(img, txt, "smooth_chamfer", 16, 2, 3);
  BOOST_TEST(max(abs(sub(whole, blocked)).reshape({-1}), 0).first.item<float>() < 1e-6f);
}

BOOST_AUTO_TEST_SUITE_END()
