// Autograd engine: shared subgraphs, accumulation, no_grad, detach, graph freeing, errors.
#include <boost/test/unit_test.hpp>

#include "lib/ops/gradcheck.h"
#include "lib/ops/ops.h"

using namespace dive;

namespace {
Tensor param(std::vector<double> v, Shape s) {
  Tensor t = Tensor::from_vector(v, s, kRef);
  t.set_requires_grad(true);
  return t;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(autograd_engine)

BOOST_AUTO_TEST_CASE(shared_subgraph_accumulates) {
  Tensor x = param({1, 2, 3}, {3});
  Tensor y = mul(x, x);            // used twice below
  Tensor z = sum(add(y, mul(y, x)));  // sum(x^2 + x^3)
  z.backward();
  BOOST_TEST(x.grad().to_vector<double>() == (std::vector<double>{2 + 3, 4 + 12, 6 + 27}));
}

BOOST_AUTO_TEST_CASE(gradients_accumulate_across_backward_calls) {
  Tensor x = param({1, -1}, {2});
  sum(scale_shift(x, 3.0)).backward();
  sum(scale_shift(x, 2.0)).backward();
  BOOST_TEST(x.grad().to_vector<double>() == (std::vector<double>{5, 5}));
  x.zero_grad();
  BOOST_TEST(!x.grad().defined());
}

BOOST_AUTO_TEST_CASE(no_grad_and_detach_stop_recording) {
  Tensor x = param({1, 2}, {2});
  {
    NoGradGuard ng;
    Tensor y = mul(x, x);
    BOOST_TEST(!y.requires_grad());
  }
  Tensor d = x.detach();
  BOOST_TEST(!d.requires_grad());
  Tensor y = add(mul(x, d), x);  // d is a constant: dy/dx = d + 1
  sum(y).backward();
  BOOST_TEST(x.grad().to_vector<double>() == (std::vector<double>{2, 3}));
}

BOOST_AUTO_TEST_CASE(graph_is_freed_after_backward) {
  Tensor x = param({1, 2}, {2});
  Tensor y = sum(mul(x, x));
  y.backward();
  BOOST_CHECK_THROW(y.backward(), Error);
}

BOOST_AUTO_TEST_CASE(multi_output_and_unused_outputs) {
  Tensor x = param({1, 5, 3, 2, 0, 4}, {2, 3});
  auto [v, i] = max(x, 1);
  BOOST_TEST(i.to_vector<int64_t>() == (std::vector<int64_t>{1, 2}));
  sum(v).backward();
  BOOST_TEST(x.grad().to_vector<double>() == (std::vector<double>{0, 1, 0, 0, 0, 1}));
}

BOOST_AUTO_TEST_CASE(broadcast_gradients_reduce_to_input_shape) {
  Tensor a = param({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = param({10, 20, 30}, {3});
  sum(mul(a, b)).backward();
  BOOST_TEST(b.grad().to_vector<double>() == (std::vector<double>{5, 7, 9}));
  BOOST_TEST(a.grad().to_vector<double>() == (std::vector<double>{10, 20, 30, 10, 20, 30}));
}

BOOST_AUTO_TEST_CASE(errors_are_clear) {
  Tensor x = Tensor::from_vector<double>({1, 2}, {2}, kRef);
  BOOST_CHECK_THROW(sum(x).backward(), Error);  // nothing requires grad
  Tensor p = param({1, 2}, {2});
  BOOST_CHECK_THROW(mul(p, p).backward(), Error);  // non-scalar without a gradient
  BOOST_CHECK_THROW(p.fill_(0), Error);           // in-place on a leaf that requires grad
  BOOST_CHECK_THROW(Tensor::from_vector<int64_t>({1}, {1}).set_requires_grad(true), Error);
}

BOOST_AUTO_TEST_CASE(gradcheck_detects_a_wrong_rule) {
  // A composite with a correct rule passes; a function whose tape misses a dependency fails.
  Tensor x = param({0.3, -0.7, 1.1}, {3});
  auto good = dive::autograd::gradcheck([](const std::vector<Tensor>& in) { return tanh(mul(in[0], in[0])); }, {x});
  BOOST_TEST(good.ok, good.report);
  auto wrong = dive::autograd::gradcheck(
      [](const std::vector<Tensor>& in) {
        Tensor v = in[0].detach();
        return add(mul(in[0], Tensor::scalar(2.0, DType::f64, kRef)), mul(v, v));  // true grad 2 + 2x, tape 2
      },
      {x});
  BOOST_TEST(!wrong.ok);
}

BOOST_AUTO_TEST_SUITE_END()
