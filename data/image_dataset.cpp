// Raw-image splits for the CNN branch (data/dataset.h ImageDataset): the Karpathy JSON is read once;
// images are decoded and transformed on demand, in the loader's worker threads.
#include <filesystem>

#include "data/dataset.h"
#include "data/karpathy.h"
#include "data/transforms.h"
#include "lib/core/error.h"

namespace dive::data {

struct ImageDataset::Impl {
  KarpathySplit split;
};

ImageDataset ImageDataset::open(const std::string& json_path, const std::string& image_root, const std::string& split) {
  auto impl = std::make_shared<Impl>();
  impl->split = load_karpathy(json_path, image_root, split);
  DIVE_CHECK(!impl->split.images.empty(), "karpathy json '", json_path, "': no images in split '", split,
             "' (an image's \"split\" is train, restval, val or test; train = train + restval)");
  ImageDataset ds;
  ds.impl_ = std::move(impl);
  return ds;
}

int64_t ImageDataset::num_images() const { return int64_t(impl_->split.images.size()); }

const std::string& ImageDataset::caption(int64_t j) const {
  DIVE_CHECK(j >= 0 && j < num_captions(), impl_->split.json_path, " ", impl_->split.split, ": caption ", j,
             " out of range [0, ", num_captions(), ")");
  return impl_->split.caption(j);
}

const std::string& ImageDataset::image_path(int64_t i) const {
  DIVE_CHECK(i >= 0 && i < num_images(), impl_->split.json_path, " ", impl_->split.split, ": image ", i,
             " out of range [0, ", num_images(), ")");
  return impl_->split.images[size_t(i)].path;
}

Tensor ImageDataset::load(int64_t i, int64_t crop_size, std::mt19937_64* rng) const {
  const std::string& path = image_path(i);
  Tensor rgb = load_rgb(path);  // u8 [H, W, 3]; errors name the file
  try {
    return rng ? train_transform(rgb, crop_size, *rng) : test_transform(rgb, crop_size);
  } catch (const Error& e) {
    throw Error("image '" + path + "': " + e.what());  // e.g. smaller than the test crop: say which file
  }
}

std::string ImageDataset::describe() const {
  return impl_->split.json_path + " " + impl_->split.split + ": " + std::to_string(num_images()) + " images, " +
         std::to_string(num_captions()) + " captions";
}

ImageSplitPaths image_split_paths(const std::string& data_name, const std::string& data_path) {
  const std::filesystem::path root(data_path);
  if (data_name == "synth") return {(root / "dataset_synth.json").string(), root.string()};
  if (data_name == "coco") return {(root / "dataset_coco.json").string(), (root / "images").string()};
  if (data_name == "f30k") return {(root / "dataset_flickr30k.json").string(), (root / "images").string()};
  DIVE_FAIL("--data_name ", data_name, ": no raw images (coco, f30k or synth have them; ", data_name,
            " holds precomputed region features, for --cnn_type none)");
}

}  // namespace dive::data
