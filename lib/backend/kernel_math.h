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

// Dropout keep decision for element `index`.
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

// GRU cell (PyTorch gate order r, z, n; n uses r * (W_hn h + b_hn)) for one hidden unit: pre-activations
// gi_* = W_i* x + b_i*, gh_* = W_h* h + b_h*. A step past the sequence's length (valid = false) keeps h.
template <class T>
DIVE_HD void gru_cell_forward(T gir, T giz, T gin, T ghr, T ghz, T ghn, T h, bool valid, T& h_out, T& r, T& z, T& n) {
  r = T(1) / (T(1) + exp(-(gir + ghr)));
  z = T(1) / (T(1) + exp(-(giz + ghz)));
  n = tanh(gin + r * ghn);
  h_out = valid ? n + z * (h - n) : h;
}

// Its backward from g = dL/dh_out and the saved r, z, n, gh_n: gradients of the six pre-activations
// and of h.
template <class T>
DIVE_HD void gru_cell_backward(T g, T r, T z, T n, T ghn, T h, bool valid, T& d_ir, T& d_iz, T& d_in, T& d_hr, T& d_hz,
                               T& d_hn, T& dh) {
  if (!valid) {
    d_ir = d_iz = d_in = d_hr = d_hz = d_hn = T(0);
    dh = g;
    return;
  }
  T dn = g * (T(1) - z), dz = g * (h - n);
  dh = g * z;
  T dpn = dn * (T(1) - n * n);
  T dpz = dz * z * (T(1) - z);
  T dpr = dpn * ghn * r * (T(1) - r);
  d_ir = dpr;
  d_iz = dpz;
  d_in = dpn;
  d_hr = dpr;
  d_hz = dpz;
  d_hn = dpn * r;
}

}  // namespace dive::kmath
