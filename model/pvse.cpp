#include "model/pvse.h"

#include <cmath>
#include <limits>

#include "lib/ops/ops.h"

namespace dive::model {

void xavier_uniform_(Tensor& w) {
  DIVE_CHECK(w.dim() == 2, "xavier_uniform_: expects a [fan_out, fan_in] weight, got ", w.str());
  double a = std::sqrt(6.0 / double(w.size(0) + w.size(1)));
  NoGradGuard ng;
  w.copy_(Tensor::rand(w.shape(), -a, a, w.dtype(), w.device()));
}

MultiHeadSelfAttention::MultiHeadSelfAttention(int64_t h, int64_t d_in, int64_t d_hidden) : n_head(h) {
  w_1 = register_module("w_1", std::make_shared<nn::Linear>(d_in, d_hidden, false));
  w_2 = register_module("w_2", std::make_shared<nn::Linear>(d_hidden, h, false));
  xavier_uniform_(w_1->weight);
  xavier_uniform_(w_2->weight);
}

Tensor MultiHeadSelfAttention::forward(const Tensor& x, const Tensor& pad) const {
  DIVE_CHECK(x.dim() == 3, "PIENet attention: expects x [B, N, Din], got ", x.str());
  Tensor logits = w_2->forward(tanh(w_1->forward(x)));  // [B, N, K]
  if (pad.defined()) logits = masked_fill(logits, pad.unsqueeze(2), -std::numeric_limits<double>::infinity());
  Tensor attn = softmax(logits, 1);                       // over the sequence, one distribution per element
  return matmul(attn.transpose(1, 2), x);                 // [B, K, Din]
}

PIENet::PIENet(int64_t n_embeds, int64_t d_in, int64_t d_out, int64_t d_h, double p)
    : num_embeds(n_embeds), dropout(p) {
  DIVE_CHECK(n_embeds >= 1 && d_in >= 1 && d_out >= 1 && d_h >= 1, "PIENet: sizes must be >= 1, got K=", n_embeds,
             " d_in=", d_in, " d_out=", d_out, " d_h=", d_h);
  attention = register_module("attention", std::make_shared<MultiHeadSelfAttention>(n_embeds, d_in, d_h));
  fc = register_module("fc", std::make_shared<nn::Linear>(d_in, d_out));
  layer_norm = register_module("layer_norm", std::make_shared<nn::LayerNorm>(d_out));
  xavier_uniform_(fc->weight);
  NoGradGuard ng;
  fc->bias.zero_();
}

SetOutput PIENet::forward(const Tensor& local, const Tensor& global, const Tensor& pad) const {
  DIVE_CHECK(global.dim() == 2 && global.size(0) == local.size(0), "PIENet: global must be [B, D] with B = ",
             local.size(0), ", got ", global.str());
  SetOutput o;
  Tensor pooled = attention->forward(local, pad);                                   // [B, K, Din]
  o.r = dive::dropout(sigmoid(fc->forward(pooled)), dropout, is_training());        // [B, K, D]
  o.emb = l2_normalize(layer_norm->forward(add(global.unsqueeze(1), o.r)), -1);     // [B, K, D]
  return o;
}

}  // namespace dive::model
