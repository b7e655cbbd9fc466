// Datasets, vocabulary and batching for DivE (namespace dive::data). `data/` never includes `model/`;
// tools/ joins the two. Formats: BUTD "precomp" folders (SCAN/VSE-infinity layout) and Karpathy-split JSON.
#pragma once
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/core/tensor.h"

namespace dive::data {

// ---- vocabulary and tokenizer --------------------------------------------------------------------
// One token per line, line number = id. <pad>=0, <start>=1, <end>=2, <unk>=3, <mask> last.
class Vocabulary {
 public:
  static constexpr int64_t kPad = 0, kStart = 1, kEnd = 2, kUnk = 3;
  static Vocabulary load(const std::string& path);           // errors name the file and line
  void save(const std::string& path) const;                  // atomic write
  // Words with count >= threshold over the tokenized captions, in first-seen order (as the official
  // vocab.py, whose Counter iterates in insertion order), after the four specials; <mask> last.
  static Vocabulary build(const std::vector<std::string>& captions, int64_t threshold);
  // Validates the layout above (specials, <mask> last, no duplicates/empty/whitespace tokens);
  // errors name `origin` and the 1-based line.
  static Vocabulary from_words(std::vector<std::string> words, const std::string& origin = "(in memory)");
  int64_t id(const std::string& word) const;                 // <unk> for unknown words
  const std::string& word(int64_t id) const;
  int64_t size() const { return int64_t(words_.size()); }
  int64_t mask_id() const { return size() - 1; }
  // <start> tokens... <end> as ids
  std::vector<int64_t> encode(const std::string& caption) const;

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, int64_t> index_;
};

// NLTK word_tokenize of the lower-cased caption (Treebank rules for what captions contain).
std::vector<std::string> tokenize(const std::string& caption);
// nltk.tokenize.NLTKWordTokenizer().tokenize(text) without lower-casing (one sentence).
std::vector<std::string> tokenize_sentence(const std::string& text);

// ---- augmentation (training only; data/augment.cpp) -------------------------------------------------
// One generator per (seed, epoch, image index): the same sample gets the same augmentation whatever
// the number of worker threads. `index` -1 is the epoch's shuffle.
std::mt19937_64 sample_rng(uint64_t seed, int64_t epoch, int64_t index);
double uniform01(std::mt19937_64& rng);                   // U[0, 1) with 53 random bits
int64_t uniform_int(std::mt19937_64& rng, int64_t n);     // uniform in [0, n)
// Official caption augmentation on <start> w1 .. wn <end> (ids): each word (never <start>/<end>) is
// picked with probability p; a picked word becomes <mask> (50%), a uniform id in [0, vocab_size)
// (10%) or is deleted (40%). p <= 0 returns the ids unchanged.
std::vector<int64_t> augment_caption(const std::vector<int64_t>& ids, double p, int64_t vocab_size,
                                     int64_t mask_id, std::mt19937_64& rng);
// Official BUTD region drop: region r is kept when U(0,1) > p. Returns the kept indices in order. If
// every region would be dropped, all are kept (the official code would return an empty image).
std::vector<int64_t> drop_regions(int64_t regions, double p, std::mt19937_64& rng);

// ---- BUTD precomp split -----------------------------------------------------------------------------
// {split}_ims.npy f32 [N_img, R, D] (memory-mapped, never loaded whole) and {split}_caps.txt.
// 5x captions: image i owns captions 5i..5i+4; equal counts: image rows repeated 5x (every 5th used).
class PrecompDataset {
 public:
  static PrecompDataset open(const std::string& data_path, const std::string& split);
  int64_t num_images() const;
  int64_t num_captions() const;            // always 5 * num_images()
  int64_t regions() const;                 // R
  int64_t feature_dim() const;             // D
  // Region features of image i as f32 [R, D] (a copy out of the mapping).
  Tensor image(int64_t i) const;
  const float* image_data(int64_t i) const;  // R*D floats inside the mapping (valid while open)
  const std::string& caption(int64_t j) const;  // caption j belongs to image j / 5
  std::string describe() const;            // "coco testall: 5000 images x 36 x 2048, 25000 captions"

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Official split mapping (--data_name): coco_butd: train/dev/testall; f30k_butd (and synth): train/dev/test.
std::string split_name(const std::string& data_name, const std::string& role);  // role: train | val | test

// ---- raw-image split (CNN branch, data/image_dataset.cpp) -------------------------------------------
// A Karpathy-JSON split (data/karpathy.h) whose images the Loader decodes and transforms in its worker
// threads. Image i owns captions 5i..5i+4, as in PrecompDataset.
class ImageDataset {
 public:
  // `split` as load_karpathy takes it (train = train + restval, val/dev, test, restval, all). A split
  // with no images is an error naming the file; image files are only opened when loaded.
  static ImageDataset open(const std::string& json_path, const std::string& image_root, const std::string& split);
  int64_t num_images() const;
  int64_t num_captions() const { return 5 * num_images(); }
  const std::string& caption(int64_t j) const;
  const std::string& image_path(int64_t i) const;
  // Image i decoded (stb_image) and transformed to f32 [3, crop_size, crop_size]: the training transform
  // (RandomResizedCrop + flip + ImageNet normalisation, drawing from *rng) when rng is given, else the
  // test transform (Resize(256 * crop / 224) + CenterCrop). Errors name the image file.
  Tensor load(int64_t i, int64_t crop_size, std::mt19937_64* rng) const;
  std::string describe() const;            // "dataset_synth.json val: 200 images, 1000 captions"

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// The Karpathy JSON of a raw-image --data_name in its folder: coco -> dataset_coco.json, f30k ->
// dataset_flickr30k.json, synth -> dataset_synth.json (dive synth); images under data_path/images
// (coco: images/train2014, images/val2014 as the JSON's filepath says; f30k: images/<file>), except synth,
// whose JSON filepath already starts with images/.
struct ImageSplitPaths {
  std::string json, image_root;
};
// The roles train | val | test are also the Karpathy split names.
ImageSplitPaths image_split_paths(const std::string& data_name, const std::string& data_path);

// ---- batches --------------------------------------------------------------------------------------
struct Batch {
  Tensor images;        // f32 [B, N, D] zero-padded to the longest image in the batch, or (ImageDataset)
                        // f32 [B, 3, crop_size, crop_size]
  Tensor img_lengths;   // i64 [B]; undefined for raw images
  Tensor captions;      // i64 [5B, T] 0-padded, image-major: caption j belongs to image j / 5
  Tensor cap_lengths;   // i64 [5B]
  std::vector<int64_t> image_ids;  // dataset index of each image
};

struct LoaderOptions {
  int64_t batch_size = 128;        // images per batch (each with its 5 captions)
  bool shuffle = true;
  bool drop_last = false;
  int64_t workers = 2;             // threads that read, augment and collate ahead
  uint64_t seed = 0;
  bool train = true;               // augmentation only when true
  double caption_drop_prob = 0.2;  // official token mask/replace/delete augmentation
  double butd_drop_prob = 0.2;     // official region drop
  int64_t crop_size = 224;         // raw images: the train/test transform's output size
  int64_t max_images = -1;         // use only the first max_images images (official COCO dev: 1000)
};

// Iterates over images in (seeded) shuffled order, collating batches in worker threads.
class Loader {
 public:
  Loader(const PrecompDataset& ds, const Vocabulary& vocab, LoaderOptions opt);
  // Raw images: each worker decodes and transforms the images of its batch (train transform when
  // opt.train, seeded by sample_rng(seed, epoch, image) before the caption augmentation; else the test
  // transform).
  Loader(const ImageDataset& ds, const Vocabulary& vocab, LoaderOptions opt);
  ~Loader();
  void start_epoch(int64_t epoch);    // reshuffles with (seed, epoch); deterministic
  // The next batch of the current epoch (epoch 0 is started on the first call); false at the end of
  // the epoch. A worker's error is rethrown here.
  bool next(Batch& out);
  int64_t batches_per_epoch() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dive::data
