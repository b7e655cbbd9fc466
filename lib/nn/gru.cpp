// The GRU: one GEMM for the input projections of all steps, then per step h' = (1 - z) * n + z * h with
// r, z, n from PyTorch's equations. Steps past a sequence's length leave its state unchanged, which gives
// packed-sequence semantics without sorting. forward() runs the fused gru_sequence op; forward_composite()
// builds the same from primitives and is the test oracle for it.
#include "lib/nn/gru.h"

#include <cmath>

#include "lib/ops/ops.h"
#include "lib/ops/rnn.h"

namespace dive::nn {

GRU::GRU(int64_t in, int64_t hidden, bool bidir) : input_size(in), hidden_size(hidden), bidirectional(bidir) {
  double k = 1.0 / std::sqrt(double(hidden));
  auto u = [&](Shape s) { return Tensor::rand(s, -k, k); };
  register_parameter("weight_ih_l0", weight_ih_l0, u({3 * hidden, in}));
  register_parameter("weight_hh_l0", weight_hh_l0, u({3 * hidden, hidden}));
  register_parameter("bias_ih_l0", bias_ih_l0, u({3 * hidden}));
  register_parameter("bias_hh_l0", bias_hh_l0, u({3 * hidden}));
  if (bidir) {
    register_parameter("weight_ih_l0_reverse", weight_ih_l0_reverse, u({3 * hidden, in}));
    register_parameter("weight_hh_l0_reverse", weight_hh_l0_reverse, u({3 * hidden, hidden}));
    register_parameter("bias_ih_l0_reverse", bias_ih_l0_reverse, u({3 * hidden}));
    register_parameter("bias_hh_l0_reverse", bias_hh_l0_reverse, u({3 * hidden}));
  }
}

namespace {

// Runs one direction; returns (outputs per step [B, H] in time order, final state [B, H]).
std::pair<std::vector<Tensor>, Tensor> run_direction(const Tensor& x, const Tensor& valid, const Tensor& w_ih,
                                                     const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                                                     bool reverse) {
  int64_t B = x.size(0), T = x.size(1), H = w_hh.size(1);
  Tensor gi = linear(x, w_ih, b_ih);  // [B, T, 3H]
  Tensor h = Tensor::zeros({B, H}, x.dtype(), x.device());
  Tensor zero = scalar_like(x, 0.0);
  std::vector<Tensor> outs(static_cast<size_t>(T));
  for (int64_t s = 0; s < T; ++s) {
    int64_t t = reverse ? T - 1 - s : s;
    Tensor g = gi.select(1, t);             // [B, 3H]
    Tensor gh = linear(h, w_hh, b_hh);      // [B, 3H]
    Tensor r = sigmoid(add(g.slice(1, 0, H), gh.slice(1, 0, H)));
    Tensor z = sigmoid(add(g.slice(1, H, 2 * H), gh.slice(1, H, 2 * H)));
    Tensor n = tanh(add(g.slice(1, 2 * H, 3 * H), mul(r, gh.slice(1, 2 * H, 3 * H))));
    Tensor h_new = add(n, mul(z, sub(h, n)));
    Tensor m = valid.select(1, t).unsqueeze(1);  // [B, 1] bool
    h = where(m, h_new, h);
    outs[size_t(t)] = where(m, h_new, zero);
  }
  return {outs, h};
}

}  // namespace

namespace {

// valid [B, T] bool: t < length[b]; checks the lengths.
Tensor valid_mask(const Tensor& x, const Tensor& lengths, int64_t input_size) {
  DIVE_CHECK(x.dim() == 3 && x.size(2) == input_size, "GRU: input must be [B, T, ", input_size, "], got ", x.str());
  int64_t B = x.size(0), T = x.size(1);
  DIVE_CHECK(lengths.dim() == 1 && lengths.size(0) == B && is_index(lengths.dtype()), "GRU: lengths must be i64 [", B,
             "], got ", lengths.str());
  return length_mask(lengths, T, false, "GRU").to(x.device());
}

}  // namespace

GRUOutput GRU::forward(const Tensor& x, const Tensor& lengths, bool with_output) const {
  Tensor valid_tb = valid_mask(x, lengths, input_size).t().contiguous();  // [T, B]
  Tensor xt = x.transpose(0, 1);                                           // [T, B, I]
  auto direction = [&](const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh, bool rev) {
    return gru_sequence(linear(xt, w_ih, b_ih), w_hh, b_hh, valid_tb, rev);
  };
  auto [fs, fh] = direction(weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, false);
  std::vector<Tensor> states{fs}, finals{fh};
  if (bidirectional) {
    auto [rs, rh] = direction(weight_ih_l0_reverse, weight_hh_l0_reverse, bias_ih_l0_reverse, bias_hh_l0_reverse, true);
    states.push_back(rs);
    finals.push_back(rh);
  }
  GRUOutput out;
  out.h_n = stack(finals, 0);
  if (with_output) {
    Tensor m = valid_tb.unsqueeze(2);  // [T, B, 1]
    std::vector<Tensor> ys;
    for (auto& s : states) ys.push_back(where(m, s, scalar_like(s, 0.0)).transpose(0, 1));  // [B, T, H]
    out.output = ys.size() == 1 ? ys[0].contiguous() : cat(ys, 2);
  }
  return out;
}

GRUOutput GRU::forward_composite(const Tensor& x, const Tensor& lengths) const {
  Tensor valid = valid_mask(x, lengths, input_size);
  auto [fo, fh] = run_direction(x, valid, weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, false);
  GRUOutput out;
  if (!bidirectional) {
    out.output = stack(fo, 1);
    out.h_n = fh.unsqueeze(0);
    return out;
  }
  auto [ro, rh] = run_direction(x, valid, weight_ih_l0_reverse, weight_hh_l0_reverse, bias_ih_l0_reverse,
                                bias_hh_l0_reverse, true);
  out.output = cat({stack(fo, 1), stack(ro, 1)}, 2);
  out.h_n = stack({fh, rh}, 0);
  return out;
}

}  // namespace dive::nn
