// Fused set similarities on an element similarity matrix (docs/MODEL.md §1.1): smooth-Chamfer.
#pragma once
#include <cstdint>

#include "lib/core/tensor.h"

namespace dive {

// m [Bi*Ki, Bt*Kt]: row a*Ki+k is element k of set a, column b*Kt+l element l of set b (e.g. the
// product of L2-normalised element embeddings). Returns S [Bi, Bt] with
//   S[a,b] = (sum_k LSE_l(alpha m) / (Ki alpha) + sum_l LSE_k(alpha m) / (Kt alpha)) / denominator,
// each LSE taken within the (a, b) block. Differentiable in m; equal to the logsumexp composite.
Tensor smooth_chamfer(const Tensor& m, int64_t ki, int64_t kt, double alpha, double denominator);

// The same without autograd, written into `out` [Bi, Bt] (a view with unit column stride, e.g. a slice
// of a bigger score matrix on m's device and of m's dtype): no temporary, no copy.
void smooth_chamfer_out(const Tensor& m, int64_t ki, int64_t kt, double alpha, double denominator, Tensor& out);

}  // namespace dive
