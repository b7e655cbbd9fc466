// Shared pieces of the dive commands that join data/ and model/: converting batches, encoding a whole
// split in eval mode, and the progress line.
#pragma once
#include <chrono>
#include <string>

#include "data/dataset.h"
#include "model/config.h"
#include "model/retrieval.h"
#include "model/vse.h"
#include "tools/run/split_data.h"

namespace dive::tools {

model::Batch to_model_batch(const data::Batch& b, Device dev);

// The GPU switches every command takes with --device: --allow_tf32 (TF32 tensor-core math for f32
// matrix products and convolutions; off by default so that results match the CPU backends) and
// --nondeterministic (lets kernels use atomics and cuDNN any algorithm; by default two runs are
// bit-identical).
struct DeviceFlags {
  bool allow_tf32 = false;
  bool nondeterministic = false;
};
// The official CNN branch starts from ImageNet weights (get_cnn(..., pretrained=True)): loads
// img_enc.cnn.* from `path` (keys with that prefix or bare torchvision names; fc.* is ignored), checking
// that every CNN tensor is there with its shape. An empty or missing path is a warning (training starts
// from random weights), a file that does not fit the model an error.
void load_cnn_weights(model::DiveModel& m, const std::string& path);

void add_device_options(model::OptionSet& s, std::string* device, DeviceFlags* flags);
// Parses --device, checks that the device exists ("--device cuda:1: ...") and applies the flags.
Device open_device(const std::string& device, const DeviceFlags& flags);

struct Encoded {
  Tensor img;  // [N, K, D] on the host
  Tensor txt;  // [5N, K, D] on the host
};
// Eval-mode embeddings of every image and caption of a split (captions in dataset order, in batches of
// `batch` as the official eval loader). Raw images are decoded and given the test transform
// (m.cfg.crop_size) by `workers` loader threads, `batch` images at a time.
Encoded encode_split(model::DiveModel& m, const SplitData& ds, const data::Vocabulary& vocab, Device dev,
                     int64_t batch = 256, bool progress = false, int64_t workers = 2);
// Recall on a split: COCO 5K folds when the split has 5000 images ("1K" and "5K" rows), else one row.
// The similarity matrix is computed on `dev` (the embeddings are moved there; the matrix comes back).
std::vector<std::pair<std::string, model::RecallMetrics>> evaluate(const model::ModelConfig& c, const Encoded& e,
                                                                   Device dev = kCPU);

// A one-line progress display with rate and ETA ("\r" on a terminal, a line per update otherwise).
class Progress {
 public:
  Progress(std::string what, int64_t total);
  void update(int64_t done, const std::string& extra = "");
  void finish(const std::string& extra = "");

 private:
  std::string what_;
  int64_t total_;
  std::chrono::steady_clock::time_point start_;
  bool tty_;
};

std::string format_duration(double seconds);

// A --vocab_path: a vocabulary file, or a folder holding vocab.txt.
std::string vocab_file(const std::string& path);

// Initialises txt_enc.embed.weight as the official EncoderText.init_weights: wemb_type "glove" copies
// the vectors of `wemb_path` (GloVe text format, data/glove.h, official fallbacks) into the rows of the
// words found and keeps the current (N(0, 1)) init elsewhere; "none" draws U(-0.1, 0.1) as the official
// code does without pre-trained vectors. Prints "Words: X/Y found in vocabulary; Z words missing".
// Errors: an unknown type, glove without a path, a vocabulary or word_dim that differs from the model's.
void init_word_embeddings(model::DiveModel& m, const data::Vocabulary& vocab, const std::string& wemb_type,
                          const std::string& wemb_path);

}  // namespace dive::tools
