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

// Over [N, C] or [N, C, L]; buffers running_mean, running_var, num_batches_tracked (i64).
class BatchNorm1d : public Module {
 public:
  explicit BatchNorm1d(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  Tensor forward(const Tensor& x);
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double eps, momentum;
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
