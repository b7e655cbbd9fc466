// PIE-Net (Polysemous Instance Embedding, Song & Soleymani, CVPR 2019): the set module of `--arch pvse`,
// the comparison baseline of the DivE paper. Sub-module names and initialisation follow the official
// PIENet / MultiHeadSelfAttention (kdwonn/DivE model_spm.py): attention.w_1, attention.w_2 (no bias),
// fc, layer_norm.
#pragma once
#include "lib/nn/layers.h"
#include "model/aggregation.h"

namespace dive::model {

// Structured self-attention (Lin et al., ICLR 2017) with K "heads", one per set element:
// a = softmax over the sequence of w_2(tanh(w_1(x))), out_k = sum_n a[n, k] x_n.
class MultiHeadSelfAttention : public nn::Module {
 public:
  MultiHeadSelfAttention(int64_t n_head, int64_t d_in, int64_t d_hidden);
  // x [B, N, Din], pad [B, N] bool (true = padded) or undefined -> [B, K, Din]
  Tensor forward(const Tensor& x, const Tensor& pad) const;

  int64_t n_head;
  std::shared_ptr<nn::Linear> w_1, w_2;  // [d_hidden, Din], [K, d_hidden]
};

class PIENet : public nn::Module {
 public:
  // d_h: the attention's hidden width (officially d_in / 2); dropout on the residual.
  PIENet(int64_t n_embeds, int64_t d_in, int64_t d_out, int64_t d_h, double dropout);
  // local [B, N, Din], global [B, D], pad [B, N] bool or undefined.
  // r = dropout(sigmoid(fc(attention(local)))) [B, K, D]; emb = l2norm(layer_norm(global + r)) [B, K, D].
  SetOutput forward(const Tensor& local, const Tensor& global, const Tensor& pad) const;

  int64_t num_embeds;
  double dropout;
  std::shared_ptr<MultiHeadSelfAttention> attention;
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<nn::LayerNorm> layer_norm;
};

// Fills `w` [fan_out, fan_in] in place from U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (xavier_uniform_).
void xavier_uniform_(Tensor& w);

}  // namespace dive::model
