#include "lib/nn/layers.h"

#include <cmath>

#include "lib/autograd/grad_mode.h"
#include "lib/ops/ops.h"

namespace dive::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias) {
  double bound = 1.0 / std::sqrt(double(in));
  register_parameter("weight", weight, Tensor::rand({out, in}, -bound, bound));
  if (with_bias) register_parameter("bias", bias, Tensor::rand({out}, -bound, bound));
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

LayerNorm::LayerNorm(int64_t dim, double eps) : eps(eps) {
  register_parameter("weight", weight, Tensor::ones({dim}));
  register_parameter("bias", bias, Tensor::zeros({dim}));
}

Tensor LayerNorm::forward(const Tensor& x) const { return layer_norm(x, weight, bias, eps); }

BatchNorm1d::BatchNorm1d(int64_t c, double eps, double momentum) : eps(eps), momentum(momentum) {
  register_parameter("weight", weight, Tensor::ones({c}));
  register_parameter("bias", bias, Tensor::zeros({c}));
  register_buffer("running_mean", running_mean, Tensor::zeros({c}));
  register_buffer("running_var", running_var, Tensor::ones({c}));
  register_buffer("num_batches_tracked", num_batches_tracked, Tensor::zeros({}, DType::i64));
}

Tensor BatchNorm1d::forward(const Tensor& x) {
  if (is_training()) {
    NoGradGuard ng;
    // incremented where it lives (no read-back: on a GPU that would stall the stream at every layer), in
    // f64 because scale_shift takes floating tensors only (exact for counts below 2^53)
    num_batches_tracked.copy_(scale_shift(num_batches_tracked.to(DType::f64), 1.0, 1.0).to(DType::i64));
  }
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding, bool with_bias, int64_t dilation)
    : stride(stride), padding(padding), dilation(dilation) {
  double bound = 1.0 / std::sqrt(double(in * k * k));
  register_parameter("weight", weight, Tensor::rand({out, in, k, k}, -bound, bound));
  if (with_bias) register_parameter("bias", bias, Tensor::rand({out}, -bound, bound));
}

Tensor Conv2d::forward(const Tensor& x) const {
  return conv2d(x, weight, bias, {stride, stride}, {padding, padding}, {dilation, dilation});
}

Embedding::Embedding(int64_t num, int64_t dim) { register_parameter("weight", weight, Tensor::randn({num, dim})); }

Tensor Embedding::forward(const Tensor& ids) const { return embedding(weight, ids); }

Tensor Dropout::forward(const Tensor& x) const { return dropout(x, p, is_training()); }

}  // namespace dive::nn
