// The set-prediction module of DivE: learned queries cross-attend to the context (slot-attention-style
// softmax over the QUERY axis, then renormalised over keys), pre-norm blocks applied `depth` times with
// optional weight sharing, final LayerNorm, and the residual LayerNorm-ed global feature.
// Sub-module names follow the official state_dict (agg_block.layers.{i}.0 / .2, last_layer.0, ...).
#pragma once
#include "lib/nn/layers.h"
#include "model/config.h"

namespace dive::model {

// Multiply-adds of the parts of one forward pass of the attention that differ between the two forms
// (the query projection and to_out are common), in large-GEMM equivalents (the unfolded form's many tiny
// per-head products are weighted by their measured rate): `layers` applications sharing `blocks` distinct
// weight sets (blocks = 1 with weight sharing), B sets of K queries over N tokens of width C, H heads of dh.
// The backward costs about twice the forward in both forms, so the forward decides.
struct AttentionCost {
  double unfolded, folded;
};
AttentionCost attention_cost(int64_t B, int64_t N, int64_t K, int64_t H, int64_t dh, int64_t C, int64_t layers,
                             int64_t blocks);

// Cross attention from K slot queries to N context tokens. Two forms of the same function:
// - unfolded (as the official code): keys W_k kin_j and values W_v ctx_j of every token, per head;
// - folded: logits (W_k,h^T q) . kin_j and outputs W_v,h (sum_j w_j ctx_j), so only the H K query-side
//   vectors are projected and the N tokens never are (the projections have no bias, so nothing to carry).
class CrossAttention : public nn::Module {
 public:
  CrossAttention(int64_t query_dim, int64_t context_dim, int64_t heads, int64_t dim_head, double dropout);
  // What forward reads of the context, prepared once per attention block (and so once for all layers
  // with weight sharing).
  struct Context {
    bool folded = false;
    Tensor k, v;  // unfolded: [B, H, N, dh] each, contiguous; folded: kin [B, N, C] and ctx [B, N, C]
  };
  // ctx [B, N, Dc] (normed), key_pos [N, Dc] or undefined (added to the keys' input only).
  Context prepare(const Tensor& ctx, const Tensor& key_pos, bool folded) const;
  // x [B, K, Dq] (normed), pad [B, N] bool (true = padded) or undefined. strict: padded keys get zero weight.
  Tensor forward(const Tensor& x, const Context& kv, const Tensor& pad, bool strict) const;

  int64_t heads, dim_head;
  double dropout;
  std::shared_ptr<nn::Linear> to_q, to_k, to_v, to_out;

 private:
  Tensor logits(const Tensor& q, const Context& kv) const;          // [B, H, K, N], unscaled
  Tensor attend(const Tensor& attn, const Context& kv) const;        // [B, K, H * dh]
};

// PreNorm(CrossAttention) with names norm, norm_context, fn.*
class AttentionBlock : public nn::Module {
 public:
  AttentionBlock(int64_t query_dim, int64_t context_dim, int64_t heads, int64_t dim_head, double dropout);
  std::shared_ptr<nn::LayerNorm> norm, norm_context;
  std::shared_ptr<CrossAttention> fn;
};

// PreNorm(FeedForward) with names norm, fn.net.0, fn.net.3
class FeedForwardBlock : public nn::Module {
 public:
  FeedForwardBlock(int64_t dim, double mult, const std::string& activation, double dropout);
  Tensor forward(const Tensor& x) const;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> fc1, fc2;  // fn.net.0, fn.net.3
  bool gelu_act;
  double dropout;
};

class AggregationBlock : public nn::Module {
 public:
  AggregationBlock(const ModelConfig& c, int64_t num_queries, int64_t context_dim);
  // context [B, N, Dc] -> set [B, K, D]
  Tensor forward(const Tensor& context, const Tensor& pad, const Tensor& key_pos) const;

  Tensor latents;  // [K, D], init N(0, 1)
  std::vector<std::shared_ptr<AttentionBlock>> attn;
  std::vector<std::shared_ptr<FeedForwardBlock>> ff;
  std::shared_ptr<nn::LayerNorm> last_ln;  // last_layer.0 (when spm_last_ln)
  bool strict;
  std::string attention_form;  // spm_attention: auto | folded | unfolded
  // The form the last forward used ("folded" / "unfolded"; empty before the first), for benchmarks.
  const std::string& last_attention_form() const { return last_form_; }

 private:
  bool use_folded(int64_t B, int64_t N, int64_t C) const;
  mutable std::string last_form_;
};

struct SetOutput {
  Tensor emb;  // [B, K, D] L2-normalised elements
  Tensor r;    // [B, K, D] set prediction before the residual (for the diversity term)
};

class SetPredictionModule : public nn::Module {
 public:
  SetPredictionModule(const ModelConfig& c, int64_t num_queries, int64_t context_dim);
  SetOutput forward(const Tensor& context, const Tensor& global, const Tensor& pad, const Tensor& key_pos) const;

  std::shared_ptr<nn::LayerNorm> residual_norm;  // when spm_residual_norm
  std::shared_ptr<AggregationBlock> agg_block;
  bool residual;
  double local_dropout, global_dropout;
};

// 1-D sine encoding of the official PositionEmbeddingSine1D (normalised by the padded length):
// [L, dim] with PE[p, 2m] = sin(q / 10000^(2m/dim)), PE[p, 2m+1] = cos(...), q = (p+1)/(L+1e-6)*2pi.
Tensor sine_position_encoding(int64_t length, int64_t dim, DType dt, Device dev);

}  // namespace dive::model
