// Scalar formulas shared by every backend's kernels (host and device), so that all backends agree on
// the definition of each function.
#pragma once
#include <cmath>

#include "lib/core/rng.h"

namespace dive::kmath {

template <class T> DIVE_HD T gelu(T x) { return T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440))); }
template <class T> DIVE_HD T gelu_grad(T x) {
  T cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
  T pdf = exp(T(-0.5) * x * x) * T(0.39894228040143267794);
  return cdf + x * pdf;
}
template <class T> DIVE_HD T sigmoid(T x) { return T(1) / (T(1) + exp(-x)); }
template <class T> DIVE_HD T sign(T x) { return T((x > T(0)) - (x < T(0))); }
template <class T> DIVE_HD T clampv(T x, T lo, T hi) { return x < lo ? lo : (x > hi ? hi : x); }
// maximum/minimum propagate NaN (as PyTorch)
template <class T> DIVE_HD T maxv(T a, T b) { return (a != a) ? a : ((b != b) ? b : (a > b ? a : b)); }
template <class T> DIVE_HD T minv(T a, T b) { return (a != a) ? a : ((b != b) ? b : (a < b ? a : b)); }

// Dropout keep decision and the value of the mask for element `index`.
DIVE_HD bool dropout_keep(uint64_t seed, uint64_t index, double p) {
  return double(philox_uniform(seed, index)) >= p;
}

// One Adam/AdamW element update, as torch.optim (non-fused): T is the storage type, math in T.
template <class T>
DIVE_HD void adam_update(T& p, T g, T& m, T& v, T lr, T b1, T b2, T eps, T wd, T bc1, T bc2, bool decoupled) {
  if (decoupled) p = p * (T(1) - lr * wd);
  else g = g + wd * p;
  m = m + (g - m) * (T(1) - b1);
  v = v * b2 + (T(1) - b2) * g * g;
  T denom = sqrt(v) / sqrt(bc2) + eps;
  p = p - (lr / bc1) * (m / denom);
}

}  // namespace dive::kmath
