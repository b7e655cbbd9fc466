#include "tools/run/split_data.h"

#include "lib/core/error.h"

namespace dive::tools {

std::unique_ptr<data::Loader> SplitData::loader(const data::Vocabulary& vocab, const data::LoaderOptions& opt) const {
  if (images) return std::make_unique<data::Loader>(*images, vocab, opt);
  return std::make_unique<data::Loader>(*precomp, vocab, opt);
}

namespace {

// Raw-image datasets need the CNN branch (the reverse is checked by data::image_split_paths).
void check_needs_cnn(const model::ModelConfig& c, const std::string& data_name) {
  DIVE_CHECK(model::uses_cnn(c) || (data_name != "coco" && data_name != "f30k"), "--data_name ", data_name,
             " reads raw images, which need the CNN branch (--cnn_type resnet18 ... resnet152); precomputed BUTD "
             "region features are --data_name ", data_name, "_butd");
}

}  // namespace

std::string role_split(const model::ModelConfig& c, const std::string& data_name, const std::string& role) {
  check_needs_cnn(c, data_name);
  if (!model::uses_cnn(c)) return data::split_name(data_name, role);
  DIVE_CHECK(role == "train" || role == "val" || role == "test", "role_split: unknown role '", role,
             "' (expected train, val or test)");
  return role;
}

SplitData open_split(const model::ModelConfig& c, const std::string& data_name, const std::string& data_path,
                     const std::string& split) {
  if (model::uses_cnn(c)) {
    const data::ImageSplitPaths p = data::image_split_paths(data_name, data_path);  // rejects *_butd
    return data::ImageDataset::open(p.json, p.image_root, split);
  }
  check_needs_cnn(c, data_name);
  return data::PrecompDataset::open(data_path, split);
}

}  // namespace dive::tools
