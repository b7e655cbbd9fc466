// Synthetic multi-object scenes for the demo (namespace dive::data). Each image holds 3-5 objects
// (shape, colour, size, position on a 3x3 grid); each of its 5 captions describes a different subset
// of 1-2 objects, so no single embedding matches all captions well: the ambiguity DivE is built for.
// Written in two formats: BUTD-style precomp (region features = a fixed seeded projection of the
// object attributes + noise) and Karpathy JSON + PNG images. Everything is a pure function of the
// seed: the same options give byte-identical files.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dive::data {

struct SynthOptions {
  uint64_t seed = 0;
  int64_t train = 2000, dev = 200, test = 200;  // images per split
  int64_t image_size = 64;                      // PNG side in pixels
  int64_t regions = 12;                         // R rows per image in the precomp features (>= 5)
  int64_t feature_dim = 256;                    // D
  bool images = true;                           // also write PNGs + Karpathy JSON
};

// Splits in file order; the Karpathy JSON calls "dev" "val".
inline constexpr const char* kSynthSplits[3] = {"train", "dev", "test"};

struct SynthObject {
  int shape = 0, colour = 0, size = 0;  // indices into synth_shapes(), synth_colours(); size 0 small, 1 large
  int row = 0, col = 0;                 // grid cell (0..2), derived from the centre coordinates
  double x = 0, y = 0;                  // centre in [0, 1] image coordinates (y grows downwards)
  double radius = 0;                    // in [0, 1] image units
  int position() const { return 3 * row + col; }  // index into synth_positions()
};

struct SynthCaption {
  std::string text;          // lower-case words separated by single spaces, no punctuation
  std::vector<int> objects;  // indices of the objects it mentions (1 or 2, sorted)
  std::vector<bool> sized;   // per mentioned object: its size word is in the caption
  bool placed = false;       // the caption gives each object's position (not only a relation)
};

struct SynthScene {
  std::vector<SynthObject> objects;    // 3..5, pairwise different (shape, colour), different cells
  std::vector<SynthCaption> captions;  // 5, pairwise different object subsets
};

const std::vector<std::string>& synth_shapes();     // circle, square, ...
const std::vector<std::string>& synth_colours();    // red, green, ...
const std::vector<std::string>& synth_positions();  // "top left", "top", ..., row-major 3x3

// Scene `index` of split `split` (0 train, 1 dev, 2 test).
SynthScene synth_scene(uint64_t seed, int split, int64_t index);
// Region features of that scene: f32 [regions, feature_dim] row-major. Objects' rows, "part" rows
// (a weaker encoding of some of one object's attributes) and background rows, in a seeded order.
std::vector<float> synth_features(const SynthOptions& opt, const SynthScene& scene, int split, int64_t index);
// RGB pixels [size, size, 3] of the scene: filled shapes on a plain dark background, 4x4 supersampled.
std::vector<uint8_t> synth_render(const SynthScene& scene, int64_t size);

struct SynthSummary {
  int64_t images = 0, captions = 0, vocab_size = 0;
  double unique_test_captions = 0;  // fraction of test captions whose content fits only their own image
  double seconds = 0;
};

// Writes out_dir/precomp/{split}_ims.npy, {split}_caps.txt, vocab.txt and (opt.images)
// out_dir/images/{split}/NNNNN.png, out_dir/dataset_synth.json. Creates the folders.
SynthSummary write_synth_dataset(const std::string& out_dir, const SynthOptions& opt);

}  // namespace dive::data
