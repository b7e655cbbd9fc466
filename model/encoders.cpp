#include "model/encoders.h"

#include <limits>

#include "lib/ops/ops.h"

namespace dive::model {

Tensor pad_mask(const Tensor& lengths, int64_t T, Device dev) {
  return length_mask(lengths, T, true, "padding mask").to(dev);
}

SetOutput SetModule::forward(const Tensor& context, const Tensor& global, const Tensor& pad,
                             const Tensor& key_pos) const {
  if (pie) return pie->forward(context, global, pad);
  return slot->forward(context, global, pad, key_pos);
}

ImageMLP::ImageMLP(int64_t in, int64_t hidden, int64_t out) {
  fc1 = register_module("fc1", std::make_shared<nn::Linear>(in, hidden));
  bn = register_module("bn.bn", std::make_shared<nn::BatchNorm1d>(hidden));
  fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden, out));
}

Tensor ImageMLP::forward(const Tensor& x, int bn_calls) {
  Shape s = x.shape();
  Tensor h = fc1->forward(x);
  Tensor flat = h.reshape({-1, h.size(-1)});  // SequenceBN: all tokens, padding included
  if (is_training()) {
    NoGradGuard ng;  // the earlier calls only advance the running statistics
    for (int i = 1; i < bn_calls; ++i) bn->forward(flat.detach());
  }
  Tensor y = bn->forward(flat);
  s.back() = h.size(-1);
  return fc2->forward(relu(y.reshape(s)));
}

ImageEncoderButd::ImageEncoderButd(const ModelConfig& c) : cfg(c) {
  fc = register_module("fc", std::make_shared<nn::Linear>(c.img_dim, c.embed_size));
  if (c.gpo_1x1) mlp = register_module("mlp", std::make_shared<ImageMLP>(c.embed_size, c.embed_size / 2, c.embed_size));
  if (c.arch == "pvse")  // official: PIENet(K, spm_input_dim, embed_size, spm_input_dim // 2), no dropout
    spm.pie = register_module("spm", std::make_shared<PIENet>(c.img_num_embeds, c.embed_size, c.embed_size,
                                                              c.embed_size / 2, 0.0));
  else
    spm.slot = register_module("spm", std::make_shared<SetPredictionModule>(c, c.img_num_embeds, c.embed_size));
}

EncoderOutput ImageEncoderButd::forward(const Tensor& images, const Tensor& lengths) {
  DIVE_CHECK(images.dim() == 3 && images.size(2) == cfg.img_dim, "image encoder: images must be [B, N, ", cfg.img_dim,
             "], got ", images.str());
  int64_t N = images.size(1);
  Tensor pad = pad_mask(lengths, N, images.device());  // [B, N]
  // spm_fc(x) = dropout(mlp(fc(x)) + fc(x)). The official code evaluates it twice (local features and
  // global feature): the values agree, the dropout masks differ, the BN statistics move twice. We
  // compute fc and the MLP once and draw two dropout masks.
  Tensor h = fc->forward(images);
  if (mlp) h = add(mlp->forward(h, 2), h);
  Tensor local = dropout(h, cfg.img_1x1_dropout, is_training());
  Tensor for_global = dropout(h, cfg.img_1x1_dropout, is_training());
  Tensor global;
  if (cfg.img_res_pool == "max") {
    Tensor filled = masked_fill(for_global, pad.unsqueeze(2), -double(std::numeric_limits<float>::max()));
    global = max(filled, 1).first;  // [B, D]
  } else {
    Tensor valid = scale_shift(pad.to(h.dtype()), -1.0, 1.0).unsqueeze(2);  // [B, N, 1]
    global = div(sum(mul(for_global, valid), {1}), sum(valid, {1}));
  }
  SetOutput s = spm.forward(local, global, pad, Tensor());
  return {s.emb, s.r};
}

ImageEncoderCnn::ImageEncoderCnn(const ModelConfig& c) : cfg(c) {
  ResNetConfig rc;
  rc.depth = cnn_depth(c);
  rc.with_head = false;
  rc.bn_eval = c.bn_eval;
  cnn = register_module("cnn", std::make_shared<ResNet>(rc));
  fc = register_module("fc", std::make_shared<nn::Linear>(cnn->out_channels(), c.embed_size));
  if (c.gpo_1x1) mlp = register_module("mlp", std::make_shared<ImageMLP>(c.embed_size, c.embed_size / 2, c.embed_size));
  if (c.arch == "pvse")
    spm.pie = register_module("spm", std::make_shared<PIENet>(c.img_num_embeds, c.embed_size, c.embed_size,
                                                              c.embed_size / 2, 0.0));
  else
    spm.slot = register_module("spm", std::make_shared<SetPredictionModule>(c, c.img_num_embeds, c.embed_size));
}

EncoderOutput ImageEncoderCnn::forward(const Tensor& images) {
  DIVE_CHECK(images.dim() == 4 && images.size(1) == 3 && is_floating(images.dtype()),
             "image encoder (cnn_type ", cfg.cnn_type, "): images must be f32 [B, 3, H, W], got ", images.str());
  Tensor map;  // [B, C, h, w]
  if (cfg.img_finetune) {
    map = cnn->forward(images);
  } else {
    NoGradGuard ng;  // frozen CNN: no graph, no gradient (BN running statistics still move unless bn_eval)
    map = cnn->forward(images);
  }
  const int64_t B = map.size(0), C = map.size(1), h = map.size(2), w = map.size(3);
  Tensor cells = map.permute({0, 2, 3, 1}).reshape({B, h * w, C});  // [B, h*w, C]
  Tensor x = fc->forward(cells);
  if (mlp) x = add(mlp->forward(x, 2), x);  // spm_fc twice officially: BN statistics move twice
  Tensor local = dropout(x, cfg.img_1x1_dropout, is_training());
  Tensor for_global = dropout(x, cfg.img_1x1_dropout, is_training());
  Tensor global = cfg.img_res_pool == "max" ? max(for_global, 1).first : mean(for_global, {1});  // [B, D]
  Tensor pos;
  if (spm.slot && cfg.spm_img_pos_enc_type == "sine")
    pos = sine_position_encoding_2d(h, w, cfg.embed_size, x.dtype(), x.device());
  SetOutput s = spm.forward(local, global, Tensor(), pos);
  return {s.emb, s.r};
}

Tensor sine_position_encoding_2d(int64_t h, int64_t w, int64_t dim, DType dt, Device dev) {
  DIVE_CHECK(dim % 4 == 0, "2-D sine encoding: dim must be divisible by 4, got ", dim);
  const int64_t half = dim / 2;
  std::vector<double> py = sine_position_encoding(h, half, DType::f64, kRef).to_vector<double>();
  std::vector<double> px = sine_position_encoding(w, half, DType::f64, kRef).to_vector<double>();
  std::vector<double> pe(size_t(h * w * dim));
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      double* row = pe.data() + (i * w + j) * dim;
      for (int64_t c = 0; c < half; ++c) {
        row[c] = py[size_t(i * half + c)];
        row[half + c] = px[size_t(j * half + c)];
      }
    }
  return Tensor::from_vector(pe, {h * w, dim}, kRef).to(dt).to(dev);
}

TextEncoder::TextEncoder(const ModelConfig& c) : cfg(c) {
  embed = register_module("embed", std::make_shared<nn::Embedding>(c.vocab_size, c.word_dim));
  int64_t hidden = c.gpo_rnn ? c.embed_size : c.embed_size / 2;
  rnn = register_module("rnn", std::make_shared<nn::GRU>(c.word_dim, hidden, true));
  if (c.arch == "pvse")  // official: PIENet(K, word_dim, embed_size, word_dim // 2, opt.dropout)
    spm.pie = register_module("spm", std::make_shared<PIENet>(c.txt_num_embeds, c.word_dim, c.embed_size,
                                                              c.word_dim / 2, c.dropout));
  else
    spm.slot = register_module("spm", std::make_shared<SetPredictionModule>(c, c.txt_num_embeds, c.word_dim));
}

EncoderOutput TextEncoder::forward(const Tensor& captions, const Tensor& lengths) {
  DIVE_CHECK(captions.dim() == 2 && is_index(captions.dtype()), "text encoder: captions must be i64 [C, T], got ",
             captions.str());
  int64_t C = captions.size(0), T = captions.size(1);
  Tensor w = dropout(embed->forward(captions), cfg.dropout, is_training());  // [C, T, word_dim]
  nn::GRUOutput r = rnn->forward(w, lengths, false);  // only h_n is used
  Tensor g = cfg.gpo_rnn ? scale_shift(add(r.h_n.select(0, 0), r.h_n.select(0, 1)), 0.5)  // [C, H]
                         : r.h_n.permute({1, 0, 2}).reshape({C, -1});
  g = dropout(g, cfg.dropout, is_training());
  Tensor pad = pad_mask(lengths, T, captions.device());
  Tensor pos;
  if (spm.slot && cfg.spm_txt_pos_enc_type == "sine")  // PIE-Net takes no positional encoding
    pos = sine_position_encoding(T, cfg.word_dim, w.dtype(), w.device());
  SetOutput s = spm.forward(w, g, pad, pos);
  return {s.emb, s.r};
}

}  // namespace dive::model
