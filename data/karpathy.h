// Karpathy-split JSON (dataset_coco.json, dataset_flickr30k.json, dataset_synth.json) and image decoding
// (namespace dive::data). The JSON is {"images": [{"filepath"?, "filename", "split", "sentences":
// [{"raw", "tokens"?}, ...]}, ...]}; Flickr30K has no "filepath" (the image lies in image_root itself).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lib/core/tensor.h"

namespace dive::data {

struct KarpathyImage {
  std::string path;                               // image_root/filepath/filename
  std::string filename;
  std::string split;                              // as written in the file: train, restval, val, test
  int64_t index = 0;                              // position in the file's "images" array
  std::vector<std::string> captions;              // exactly 5: the first 5 sentences' "raw"
  std::vector<std::vector<std::string>> tokens;   // their "tokens" (empty where the file has none)
};

struct KarpathySplit {
  std::string json_path, split;
  std::vector<KarpathyImage> images;              // in file order
  int64_t num_captions() const { return 5 * int64_t(images.size()); }
  // Caption j belongs to image j / 5 (the precomp convention).
  const std::string& caption(int64_t j) const { return images[size_t(j / 5)].captions[size_t(j % 5)]; }
};

// Images of one split: "train" = train + restval (as the official COCO training set), "val" (also
// "dev"), "test", "restval", or "all". An image with more than 5 sentences keeps the first 5; fewer
// than 5 is an error naming the image. Malformed JSON (with its line), a missing "images" array or a
// sentence without "raw" are errors naming the file and the field. Image files are not opened here.
KarpathySplit load_karpathy(const std::string& json_path, const std::string& image_root, const std::string& split);

// Decodes a PNG/JPEG/BMP/... (stb_image) to u8 [H, W, 3]: grayscale is replicated, alpha dropped.
// A missing, unreadable or corrupt file is a dive::Error naming it.
Tensor load_rgb(const std::string& path);

}  // namespace dive::data
