#include "model/aggregation.h"

#include <cmath>
#include <limits>

#include "lib/ops/ops.h"

namespace dive::model {

CrossAttention::CrossAttention(int64_t qd, int64_t cd, int64_t h, int64_t dh, double p)
    : heads(h), dim_head(dh), dropout(p) {
  to_q = register_module("to_q", std::make_shared<nn::Linear>(qd, h * dh, false));
  to_k = register_module("to_k", std::make_shared<nn::Linear>(cd, h * dh, false));
  to_v = register_module("to_v", std::make_shared<nn::Linear>(cd, h * dh, false));
  to_out = register_module("to_out.0", std::make_shared<nn::Linear>(h * dh, qd));
}

AttentionCost attention_cost(int64_t B, int64_t N, int64_t K, int64_t H, int64_t dh, int64_t C, int64_t layers,
                             int64_t blocks) {
  const double b = double(B), n = double(N), k = double(K), h = double(H), d = double(dh), c = double(C);
  // The unfolded q.k and w.v are B*H products of [K, dh] x [dh, N] (K = 4 queries, N = a few dozen
  // tokens): measured at ~1/8 of the large-GEMM rate on the CPU (oneDNN, 21 vs 170 GFLOP/s on Zen 3), so
  // they count 8x. Everything else here is a large GEMM.
  constexpr double kSmallProductPenalty = 8;
  return {
      // W_k kin_j and W_v ctx_j for every token once per block; q.k and w.v per layer
      double(blocks) * 2 * b * n * c * h * d + kSmallProductPenalty * double(layers) * 2 * b * h * k * n * d,
      // W_k^T q and W_v (w.ctx) per layer; (W_k^T q).kin and w.ctx in the context width per layer
      double(layers) * (2 * b * k * h * d * c + 2 * b * h * k * n * c),
  };
}

CrossAttention::Context CrossAttention::prepare(const Tensor& ctx, const Tensor& key_pos, bool folded) const {
  const Tensor kin = key_pos.defined() ? add(ctx, key_pos) : ctx;
  if (folded) return {true, kin, ctx};
  int64_t B = ctx.size(0), N = ctx.size(1);
  auto heads_first = [&](const Tensor& t) {  // [B, N, H*dh] -> [B, H, N, dh], materialised once
    return t.view({B, N, heads, dim_head}).permute({0, 2, 1, 3}).contiguous();
  };
  return {false, heads_first(to_k->forward(kin)), heads_first(to_v->forward(ctx))};
}

Tensor CrossAttention::logits(const Tensor& q, const Context& kv) const {
  const int64_t B = q.size(0), K = q.size(1), N = kv.k.size(-2);
  if (!kv.folded) {
    Tensor qh = q.view({B, K, heads, dim_head}).permute({0, 2, 1, 3});  // [B, H, K, dh]
    return matmul(qh, kv.k.transpose(-1, -2));                           // [B, H, K, N]
  }
  const int64_t C = kv.k.size(-1);
  // W_k,h^T q_h for every head at once: [H, B*K, dh] @ [H, dh, C] -> [H, B*K, C]
  Tensor qh = q.reshape({B * K, heads, dim_head}).permute({1, 0, 2});
  Tensor qk = matmul(qh, to_k->weight.view({heads, dim_head, C}));
  qk = qk.view({heads, B, K, C}).permute({1, 0, 2, 3}).reshape({B, heads * K, C});
  return matmul(qk, kv.k.transpose(-1, -2)).view({B, heads, K, N});  // [B, H*K, C] @ [B, C, N]
}

Tensor CrossAttention::attend(const Tensor& attn, const Context& kv) const {
  const int64_t B = attn.size(0), K = attn.size(2), N = attn.size(3);
  if (!kv.folded) return matmul(attn, kv.v).permute({0, 2, 1, 3}).reshape({B, K, heads * dim_head});
  const int64_t C = kv.v.size(-1);
  // the weighted context per (head, query), then W_v,h of it: [H, B*K, C] @ [H, C, dh] -> [H, B*K, dh]
  Tensor avg = matmul(attn.reshape({B, heads * K, N}), kv.v);  // [B, H*K, C]
  avg = avg.view({B, heads, K, C}).permute({1, 0, 2, 3}).reshape({heads, B * K, C});
  Tensor o = matmul(avg, to_v->weight.view({heads, dim_head, C}).transpose(-1, -2));
  return o.view({heads, B, K, dim_head}).permute({1, 2, 0, 3}).reshape({B, K, heads * dim_head});
}

Tensor CrossAttention::forward(const Tensor& x, const Context& kv, const Tensor& pad, bool strict) const {
  int64_t B = x.size(0), N = kv.k.size(-2);
  Tensor q = to_q->forward(x);                                                   // [B, K, H*dh]
  Tensor sim = scale_shift(logits(q, kv), 1.0 / std::sqrt(double(dim_head)));  // [B, H, K, N]
  Tensor pad4;
  if (pad.defined()) {
    pad4 = pad.view({B, 1, 1, N});
    double lowest = x.dtype() == DType::f32 ? -double(std::numeric_limits<float>::max())
                                            : -std::numeric_limits<double>::max();
    sim = masked_fill(sim, pad4, lowest);
  }
  Tensor attn = softmax(sim, 2);  // over the queries: slots compete for each token
  if (strict && pad.defined()) attn = masked_fill(attn, pad4, 0.0);
  attn = div(attn, sum(attn, {-1}, true) + 1e-7);
  return dive::dropout(to_out->forward(attend(attn, kv)), dropout, is_training());
}

AttentionBlock::AttentionBlock(int64_t qd, int64_t cd, int64_t h, int64_t dh, double p) {
  norm = register_module("norm", std::make_shared<nn::LayerNorm>(qd));
  norm_context = register_module("norm_context", std::make_shared<nn::LayerNorm>(cd));
  fn = register_module("fn", std::make_shared<CrossAttention>(qd, cd, h, dh, p));
}

FeedForwardBlock::FeedForwardBlock(int64_t dim, double mult, const std::string& act, double p)
    : gelu_act(act == "gelu"), dropout(p) {
  int64_t hidden = int64_t(double(dim) * mult);
  norm = register_module("norm", std::make_shared<nn::LayerNorm>(dim));
  fc1 = register_module("fn.net.0", std::make_shared<nn::Linear>(dim, hidden));
  fc2 = register_module("fn.net.3", std::make_shared<nn::Linear>(hidden, dim));
}

Tensor FeedForwardBlock::forward(const Tensor& x) const {
  Tensor h = fc1->forward(norm->forward(x));
  h = gelu_act ? gelu(h) : relu(h);
  return fc2->forward(dive::dropout(h, dropout, is_training()));
}

AggregationBlock::AggregationBlock(const ModelConfig& c, int64_t num_queries, int64_t context_dim)
    : strict(c.pad_mask == "strict"), attention_form(c.spm_attention) {
  int64_t D = c.embed_size;
  register_parameter("latents", latents, Tensor::randn({num_queries, D}));
  std::shared_ptr<AttentionBlock> shared_attn;
  std::shared_ptr<FeedForwardBlock> shared_ff;
  for (int64_t i = 0; i < c.spm_depth; ++i) {
    // With weight sharing the same module objects fill every layer slot (the official cache_fn).
    if (!c.spm_weight_sharing || !shared_attn) {
      shared_attn = std::make_shared<AttentionBlock>(D, context_dim, c.spm_heads, c.spm_dim_head, c.dropout);
      shared_ff = std::make_shared<FeedForwardBlock>(D, c.spm_ff_mult, c.spm_activation, c.dropout);
    }
    std::string p = "layers." + std::to_string(i);
    attn.push_back(register_module(p + ".0", shared_attn));
    ff.push_back(register_module(p + ".2", shared_ff));
  }
  if (c.spm_last_ln) last_ln = register_module("last_layer.0", std::make_shared<nn::LayerNorm>(D));
}

bool AggregationBlock::use_folded(int64_t B, int64_t N, int64_t C) const {
  if (attention_form != "auto") return attention_form == "folded";
  int64_t blocks = 0;
  for (size_t i = 0; i < attn.size(); ++i) blocks += (i == 0 || attn[i] != attn[i - 1]) ? 1 : 0;
  const CrossAttention& a = *attn[0]->fn;
  const AttentionCost cost =
      attention_cost(B, N, latents.size(0), a.heads, a.dim_head, C, int64_t(attn.size()), blocks);
  return cost.folded < cost.unfolded;
}

Tensor AggregationBlock::forward(const Tensor& context, const Tensor& pad, const Tensor& key_pos) const {
  int64_t B = context.size(0);
  const bool folded = use_folded(B, context.size(1), context.size(2));
  last_form_ = folded ? "folded" : "unfolded";
  Tensor x = latents.unsqueeze(0).expand({B, latents.size(0), latents.size(1)});  // [B, K, D]
  CrossAttention::Context kv;
  for (size_t i = 0; i < attn.size(); ++i) {
    const AttentionBlock& a = *attn[i];
    // What the attention reads of the context depends on the context and the block's weights only: with
    // weight sharing every layer gets the same, so it is prepared once (same values; the gradients sum
    // before the projections' backward instead of after).
    if (i == 0 || attn[i] != attn[i - 1]) kv = a.fn->prepare(a.norm_context->forward(context), key_pos, folded);
    x = add(a.fn->forward(a.norm->forward(x), kv, pad, strict), x);
    x = add(ff[i]->forward(x), x);
  }
  return last_ln ? last_ln->forward(x) : x;
}

SetPredictionModule::SetPredictionModule(const ModelConfig& c, int64_t num_queries, int64_t context_dim)
    : residual(c.spm_residual), local_dropout(c.res_act_local_dropout), global_dropout(c.res_act_global_dropout) {
  if (c.spm_residual_norm) residual_norm = register_module("residual_norm", std::make_shared<nn::LayerNorm>(c.embed_size));
  agg_block = register_module("agg_block", std::make_shared<AggregationBlock>(c, num_queries, context_dim));
}

SetOutput SetPredictionModule::forward(const Tensor& context, const Tensor& global, const Tensor& pad,
                                       const Tensor& key_pos) const {
  SetOutput o;
  o.r = dropout(agg_block->forward(context, pad, key_pos), local_dropout, is_training());
  Tensor out = o.r;
  if (residual) {
    Tensor gd = dropout(global, global_dropout, is_training());
    Tensor g = residual_norm ? residual_norm->forward(gd) : gd;  // [B, D]
    out = add(g.unsqueeze(1), o.r);
  }
  o.emb = l2_normalize(out, -1);
  return o;
}

Tensor sine_position_encoding(int64_t L, int64_t dim, DType dt, Device dev) {
  std::vector<double> pe(size_t(L * dim));
  const double two_pi = 6.283185307179586;
  for (int64_t p = 0; p < L; ++p) {
    // the official computes in f32: cumsum of ones, / (last + 1e-6) * 2pi
    float q = float(p + 1) / (float(L) + 1e-6f) * float(two_pi);
    for (int64_t i = 0; i < dim; ++i) {
      float dim_t = std::pow(10000.0f, float(2 * (i / 2)) / float(dim));
      float a = q / dim_t;
      pe[size_t(p * dim + i)] = (i % 2 == 0) ? std::sin(a) : std::cos(a);
    }
  }
  return Tensor::from_vector(pe, {L, dim}, kRef).to(dt).to(dev);
}

}  // namespace dive::model
