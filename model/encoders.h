// The two towers of DivE (BUTD region features; GloVe-style embedding + bi-GRU text), with the
// official sub-module names (img_enc.fc, img_enc.mlp.bn.bn, txt_enc.rnn, ...). The set module under
// `spm` is the slot SetPredictionModule (arch slot) or PIE-Net (arch pvse).
#pragma once
#include "lib/nn/gru.h"
#include "lib/nn/layers.h"
#include "model/aggregation.h"
#include "model/pvse.h"
#include "model/resnet.h"

namespace dive::model {

// The set module of one tower, registered as "spm": exactly one of `slot` (arch slot) and `pie` (arch pvse).
struct SetModule {
  std::shared_ptr<SetPredictionModule> slot;
  std::shared_ptr<PIENet> pie;
  // context [B, N, Dc], global [B, D], pad [B, N] bool; key_pos [N, Dc] (slot only; PIE-Net uses none)
  SetOutput forward(const Tensor& context, const Tensor& global, const Tensor& pad, const Tensor& key_pos) const;
};

struct EncoderOutput {
  Tensor emb;  // [B, K, D], L2-normalised
  Tensor r;    // [B, K, D], set prediction before the residual
};

// fc1 -> BatchNorm (over all tokens) -> ReLU -> fc2, names fc1, bn.bn, fc2 (the official gpo_1x1 MLP).
class ImageMLP : public nn::Module {
 public:
  ImageMLP(int64_t in, int64_t hidden, int64_t out);
  // x [..., in]; runs the BatchNorm `bn_calls` times on the same input in training mode, because the
  // official model applies spm_fc twice per step (the running statistics are updated twice).
  Tensor forward(const Tensor& x, int bn_calls = 1);
  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<nn::BatchNorm1d> bn;
};

class ImageEncoderButd : public nn::Module {
 public:
  explicit ImageEncoderButd(const ModelConfig& c);
  // images [B, N, img_dim], lengths i64 [B]
  EncoderOutput forward(const Tensor& images, const Tensor& lengths);

  ModelConfig cfg;
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<ImageMLP> mlp;
  SetModule spm;
};

// The CNN image branch (docs/MODEL.md §2.6, official EncoderImage without butd): a torchvision ResNet
// without avgpool/fc under "cnn", its layer4 map [B, C, h, w] read as h*w grid cells [B, h*w, C]
// (row-major over h, w), then the same fc / mlp / spm as the BUTD tower; no pad mask; global feature =
// spm_fc over the cells, then max or avg pooling (img_res_pool). Without img_finetune the CNN runs
// without autograd (its parameters get no gradient, as requires_grad = False officially); its
// BatchNorms still update their running statistics in training mode unless bn_eval.
class ImageEncoderCnn : public nn::Module {
 public:
  explicit ImageEncoderCnn(const ModelConfig& c);
  // images f32 [B, 3, H, W] (normalised)
  EncoderOutput forward(const Tensor& images);

  ModelConfig cfg;
  std::shared_ptr<ResNet> cnn;
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<ImageMLP> mlp;
  SetModule spm;
};

// 2-D sine encoding of the official PositionEmbeddingSine2D(dim / 2, normalize=True) on an h x w grid:
// [h*w, dim], row i*w + j = concat(PE1(h, dim/2)[i], PE1(w, dim/2)[j]) with PE1 = sine_position_encoding.
Tensor sine_position_encoding_2d(int64_t h, int64_t w, int64_t dim, DType dt, Device dev);

class TextEncoder : public nn::Module {
 public:
  explicit TextEncoder(const ModelConfig& c);
  // captions i64 [C, T] (0-padded), lengths i64 [C] (tokens incl. <start>/<end>)
  EncoderOutput forward(const Tensor& captions, const Tensor& lengths);

  ModelConfig cfg;
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::GRU> rnn;
  SetModule spm;
};

// [B, T] bool, true where position >= length (padding), on `dev`.
Tensor pad_mask(const Tensor& lengths, int64_t T, Device dev);

}  // namespace dive::model
