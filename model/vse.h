// The DivE model: both towers under the official names img_enc.* and txt_enc.*.
#pragma once
#include "model/encoders.h"
#include "model/loss.h"

namespace dive::model {

struct Batch {
  Tensor images;       // f32 [B, N, img_dim] (BUTD) or f32 [B, 3, H, W] (CNN branch, cnn_type resnet*)
  Tensor img_lengths;  // i64 [B] (BUTD only; undefined for the CNN branch)
  Tensor captions;     // i64 [5B, T], 0-padded
  Tensor cap_lengths;  // i64 [5B]
};

struct StepOutput {
  EncoderOutput img, txt;
  LossTerms loss;
};

class DiveModel : public nn::Module {
 public:
  explicit DiveModel(const ModelConfig& c);
  // BUTD: images [B, N, img_dim] + lengths; CNN branch: images [B, 3, H, W], lengths ignored.
  EncoderOutput encode_images(const Tensor& images, const Tensor& lengths) {
    return img_cnn ? img_cnn->forward(images) : img_enc->forward(images, lengths);
  }
  EncoderOutput encode_captions(const Tensor& caps, const Tensor& lengths) { return txt_enc->forward(caps, lengths); }
  // Forward of both towers and the loss (training mode uses batch statistics and updates BN stats).
  StepOutput forward(const Batch& b);

  // The slot-attention blocks of the image and text towers (null with arch pvse), e.g. to set or report
  // their attention form (spm_attention).
  std::pair<AggregationBlock*, AggregationBlock*> aggregation_blocks() const;

  ModelConfig cfg;
  std::shared_ptr<ImageEncoderButd> img_enc;  // BUTD tower (cnn_type none), registered as img_enc
  std::shared_ptr<ImageEncoderCnn> img_cnn;   // CNN tower (cnn_type resnet*), registered as img_enc
  std::shared_ptr<TextEncoder> txt_enc;
};

// Checks a batch's tensors (BUTD: images, img_lengths, captions, cap_lengths; CNN branch: images
// [B, 3, H, W], captions, cap_lengths, img_lengths optional and ignored) (names the field and the expected dtype/shape) and moves it to `dev`.
Batch prepare_batch(const std::map<std::string, Tensor>& t, const ModelConfig& c, Device dev, const std::string& file);

}  // namespace dive::model
