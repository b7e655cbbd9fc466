// Standard layers with PyTorch parameter names, shapes and default initialisation.
#pragma once
#include "lib/nn/module.h"

namespace dive::nn {

// y = x W^T + b; weight [out, in], bias [out]; init U(-1/sqrt(in), 1/sqrt(in)) like nn.Linear.
class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;
  double eps;
};

// Over [N, C] or [N, C, *] (so also BatchNorm2d over [N, C, H, W]); buffers running_mean, running_var, num_batches_tracked (i64).
class BatchNorm1d : public Module {
 public:
  explicit BatchNorm1d(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  Tensor forward(const Tensor& x);
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double eps, momentum;
};

// BatchNorm over NCHW: the same op, buffers and names as BatchNorm1d (batch_norm takes [N, C, *]).
using BatchNorm2d = BatchNorm1d;

// 2-D convolution over NCHW; weight [out, in, k, k], bias [out] (optional). Default init as
// nn.Conv2d: kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias,
// fan_in = in * k * k.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0, bool bias = true,
         int64_t dilation = 1);
  Tensor forward(const Tensor& x) const;  // x [N, in, H, W] -> [N, out, H', W']
  Tensor weight, bias;
  int64_t stride, padding, dilation;
};

// weight [num, dim], init N(0, 1) like nn.Embedding.
class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim);
  Tensor forward(const Tensor& ids) const;
  Tensor weight;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p) : p(p) {}
  Tensor forward(const Tensor& x) const;
  double p;
};

}  // namespace dive::nn
