// Recurrent building blocks (PyTorch GRU semantics, gate order r, z, n).
#pragma once
#include <utility>

#include "lib/core/tensor.h"

namespace dive {

// One GRU step from the pre-activations gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh ([C, 3H]);
// rows with valid = false keep h. Differentiable in gi, gh and h.
Tensor gru_cell(const Tensor& gi, const Tensor& gh, const Tensor& h, const Tensor& valid);

// A whole direction: gi [T, C, 3H] (time-major input projections), valid [T, C] bool; runs t = 0..T-1
// (or T-1..0 when reverse) from h = 0. Returns (hs [T, C, H] the state after each step, h_n [C, H]).
// Differentiable in gi, w_hh and b_hh; equal to the per-step composite of gru_cell and linear.
std::pair<Tensor, Tensor> gru_sequence(const Tensor& gi, const Tensor& w_hh, const Tensor& b_hh, const Tensor& valid,
                                       bool reverse);

}  // namespace dive
