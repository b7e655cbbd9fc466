// nn::GRU: single-layer (bi)directional GRU with PyTorch's semantics and parameter names, over
// variable-length, unsorted sequences with packed-sequence behaviour: each sequence's reverse
// direction starts at its own last valid step, outputs past a sequence's length are zero, and h_n is
// the state after its last valid step.
#pragma once
#include "lib/nn/module.h"

namespace dive::nn {

struct GRUOutput {
  Tensor output;  // [B, T, D*H] (forward then reverse halves), zero past each length
  Tensor h_n;     // [D, B, H]
};

class GRU : public Module {
 public:
  GRU(int64_t input_size, int64_t hidden_size, bool bidirectional);
  // x [B, T, I]; lengths i64 [B] with 1 <= length <= T (on any device). Uses the fused sequence op
  // (gru_sequence); `with_output = false` skips assembling the per-step outputs.
  GRUOutput forward(const Tensor& x, const Tensor& lengths, bool with_output = true) const;
  // The same from per-step primitives (linear, sigmoid, tanh, where): the reference for the fused path.
  GRUOutput forward_composite(const Tensor& x, const Tensor& lengths) const;

  int64_t input_size, hidden_size;
  bool bidirectional;
  // gate order r, z, n (as torch.nn.GRU)
  Tensor weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0;
  Tensor weight_ih_l0_reverse, weight_hh_l0_reverse, bias_ih_l0_reverse, bias_hh_l0_reverse;
};

}  // namespace dive::nn
