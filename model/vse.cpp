#include "model/vse.h"

#include "lib/ops/ops.h"

namespace dive::model {

DiveModel::DiveModel(const ModelConfig& c) : cfg(c) {
  validate(c);
  img_enc = register_module("img_enc", std::make_shared<ImageEncoderButd>(c));
  txt_enc = register_module("txt_enc", std::make_shared<TextEncoder>(c));
}

StepOutput DiveModel::forward(const Batch& b) {
  StepOutput o;
  o.img = img_enc->forward(b.images, b.img_lengths);
  o.txt = txt_enc->forward(b.captions, b.cap_lengths);
  o.loss = dive_loss(cfg, o.img.emb, o.txt.emb, o.img.r, o.txt.r);
  return o;
}

Batch prepare_batch(const std::map<std::string, Tensor>& t, const ModelConfig& c, Device dev, const std::string& file) {
  auto get = [&](const char* name) {
    auto it = t.find(name);
    DIVE_CHECK(it != t.end(), file, ": batch has no tensor '", name, "' (expected images, img_lengths, captions, cap_lengths)");
    return it->second;
  };
  Batch b{get("images"), get("img_lengths"), get("captions"), get("cap_lengths")};
  DIVE_CHECK(b.images.dim() == 3 && b.images.size(2) == c.img_dim && is_floating(b.images.dtype()), file,
             ": 'images' must be f32 [B, N, ", c.img_dim, "], got ", b.images.str());
  int64_t B = b.images.size(0);
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
  b.img_lengths = b.img_lengths.to(DType::i64).to(dev);
  b.captions = b.captions.to(DType::i64).to(dev);
  b.cap_lengths = b.cap_lengths.to(DType::i64).to(dev);
  return b;
}

}  // namespace dive::model
