#include "model/vse.h"

#include "lib/ops/ops.h"

namespace dive::model {

DiveModel::DiveModel(const ModelConfig& c) : cfg(c) {
  validate(c);
  if (uses_cnn(c))
    img_cnn = register_module("img_enc", std::make_shared<ImageEncoderCnn>(c));
  else
    img_enc = register_module("img_enc", std::make_shared<ImageEncoderButd>(c));
  txt_enc = register_module("txt_enc", std::make_shared<TextEncoder>(c));
}

std::pair<AggregationBlock*, AggregationBlock*> DiveModel::aggregation_blocks() const {
  auto block = [](const SetModule& m) { return m.slot ? m.slot->agg_block.get() : nullptr; };
  return {block(img_cnn ? img_cnn->spm : img_enc->spm), block(txt_enc->spm)};
}

StepOutput DiveModel::forward(const Batch& b) {
  StepOutput o;
  o.img = encode_images(b.images, b.img_lengths);
  o.txt = txt_enc->forward(b.captions, b.cap_lengths);
  o.loss = dive_loss(cfg, o.img.emb, o.txt.emb, o.img.r, o.txt.r);
  return o;
}

Batch prepare_batch(const std::map<std::string, Tensor>& t, const ModelConfig& c, Device dev, const std::string& file) {
  const bool cnn = uses_cnn(c);
  auto get = [&](const char* name) {
    auto it = t.find(name);
    DIVE_CHECK(it != t.end(), file, ": batch has no tensor '", name, "' (expected ",
               cnn ? "images [B, 3, H, W], captions, cap_lengths" : "images, img_lengths, captions, cap_lengths", ")");
    return it->second;
  };
  Batch b;
  b.images = get("images");
  b.captions = get("captions");
  b.cap_lengths = get("cap_lengths");
  if (cnn) {
    DIVE_CHECK(b.images.dim() == 4 && b.images.size(1) == 3 && is_floating(b.images.dtype()), file,
               ": 'images' must be f32 [B, 3, H, W] for the CNN branch (cnn_type ", c.cnn_type, "), got ",
               b.images.str(), b.images.dim() == 3 ? " (BUTD region features: set cnn_type none)" : "");
    DIVE_CHECK(b.images.size(2) >= 32 && b.images.size(3) >= 32, file, ": 'images' ", b.images.str(),
               " are too small for the ResNet (H, W >= 32)");
  } else {
    DIVE_CHECK(b.images.dim() == 3 && b.images.size(2) == c.img_dim && is_floating(b.images.dtype()), file,
               ": 'images' must be f32 [B, N, ", c.img_dim, "], got ", b.images.str(),
               b.images.dim() == 4 ? " (raw images [B, 3, H, W] need the CNN branch: set cnn_type resnet*)" : "");
    b.img_lengths = get("img_lengths");
  }
  int64_t B = b.images.size(0);
  if (!cnn)
    DIVE_CHECK(b.img_lengths.shape() == Shape{B} && is_index(b.img_lengths.dtype()), file,
               ": 'img_lengths' must be i64 [", B, "], got ", b.img_lengths.str());
  DIVE_CHECK(b.captions.dim() == 2 && b.captions.size(0) == 5 * B && is_index(b.captions.dtype()), file,
             ": 'captions' must be i64 [", 5 * B, ", T], got ", b.captions.str());
  DIVE_CHECK(b.cap_lengths.shape() == Shape{5 * B} && is_index(b.cap_lengths.dtype()), file,
             ": 'cap_lengths' must be i64 [", 5 * B, "], got ", b.cap_lengths.str());
  auto ids = b.captions.to(DType::i64).to_vector<int64_t>();
  for (size_t i = 0; i < ids.size(); ++i)
    DIVE_CHECK(ids[i] >= 0 && ids[i] < c.vocab_size, file, ": caption token ", ids[i], " at caption ",
               i / size_t(b.captions.size(1)), " outside the vocabulary [0, ", c.vocab_size, ")");
  b.images = b.images.to(DType::f32).to(dev);
  if (b.img_lengths.defined()) b.img_lengths = b.img_lengths.to(DType::i64).to(dev);
  b.captions = b.captions.to(DType::i64).to(dev);
  b.cap_lengths = b.cap_lengths.to(DType::i64).to(dev);
  return b;
}

}  // namespace dive::model
