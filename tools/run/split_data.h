// The data of one split as the commands see it: BUTD region features (cnn_type none) or raw images
// from a Karpathy JSON (the CNN branch, cnn_type resnet*), chosen from the model configuration.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "data/dataset.h"
#include "model/config.h"

namespace dive::tools {

struct SplitData {
  SplitData(data::PrecompDataset d) : precomp(std::move(d)) {}  // NOLINT: implicit, either kind is a split
  SplitData(data::ImageDataset d) : images(std::move(d)) {}     // NOLINT
  std::optional<data::PrecompDataset> precomp;
  std::optional<data::ImageDataset> images;

  int64_t num_images() const { return images ? images->num_images() : precomp->num_images(); }
  int64_t num_captions() const { return 5 * num_images(); }
  const std::string& caption(int64_t j) const { return images ? images->caption(j) : precomp->caption(j); }
  std::string describe() const { return images ? images->describe() : precomp->describe(); }
  // A loader over this split; for raw images opt.crop_size sets the transforms' output size.
  std::unique_ptr<data::Loader> loader(const data::Vocabulary& vocab, const data::LoaderOptions& opt) const;
};

// The split name of a role (train | val | test): the official BUTD names (data::split_name) for
// region features, the Karpathy names (train = train + restval, val, test) for raw images.
std::string role_split(const model::ModelConfig& c, const std::string& data_name, const std::string& role);

// Opens `split` under data_path. The CNN branch reads raw images (data_name coco, f30k or synth; the
// layout of data::image_split_paths), cnn_type none reads precomp features (coco_butd, f30k_butd or synth,
// data_path holding {split}_ims.npy). A data_name of the other kind is an error saying which flag to change.
SplitData open_split(const model::ModelConfig& c, const std::string& data_name, const std::string& data_path,
                     const std::string& split);

}  // namespace dive::tools
