// Finite-difference gradient check (central differences, f64), as torch.autograd.gradcheck.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "lib/core/rng.h"
#include "lib/core/tensor.h"

namespace dive::autograd {

struct GradcheckResult {
  bool ok = true;
  double max_abs_err = 0;
  std::string report;  // the worst element per input, and on failure which one failed
};

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-4;
  uint64_t seed = 1234;  // for the random projection of the output
};

// `inputs` must be f64 host tensors; those with requires_grad are checked. `f` must be deterministic.
// Compares d<w, f(x)>/dx from backward() with central differences, w a fixed random tensor.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt = {});

}  // namespace dive::autograd
