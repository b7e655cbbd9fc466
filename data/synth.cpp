// Synthetic multi-object scenes and captions, their region features, and the dataset writer.
#include "data/synth.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

#include <boost/json.hpp>
#include <stb_image_write.h>

#include "lib/core/error.h"
#include "lib/core/rng.h"
#include "lib/core/tensor.h"
#include "lib/io/atomic_file.h"
#include "lib/io/npy.h"

namespace dive::data {

namespace fs = std::filesystem;

const std::vector<std::string>& synth_shapes() {
  static const std::vector<std::string> v = {"circle", "square", "triangle", "star", "cross",
                                             "diamond", "hexagon", "ring", "heart", "crescent"};
  return v;
}
const std::vector<std::string>& synth_colours() {
  static const std::vector<std::string> v = {"red", "green", "blue", "yellow", "purple",
                                             "orange", "white", "pink", "cyan", "brown"};
  return v;
}
const std::vector<std::string>& synth_positions() {
  static const std::vector<std::string> v = {"top left", "top", "top right", "left", "center",
                                             "right", "bottom left", "bottom", "bottom right"};
  return v;
}

namespace {

// Counter-based stream: Philox under a key derived from (seed, stream); no state shared between
// scenes, so scene i of a split does not depend on how many scenes came before it.
class Stream {
 public:
  Stream(uint64_t seed, uint64_t stream) : key_(mix(mix(seed) ^ (stream * 0x9E3779B97F4A7C15ull))) {}
  uint64_t next() {
    const Philox4x32 r = philox(key_, ctr_++);
    return (uint64_t(r.c[0]) << 32) | r.c[1];
  }
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  int below(int n) { return int(next() % uint64_t(n)); }
  double normal() { return philox_normal(key_, ctr_++); }
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[size_t(below(int(i)))]);
  }

 private:
  static uint64_t mix(uint64_t z) {  // splitmix64 finaliser
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t key_;
  uint64_t ctr_ = 0;
};

enum : uint64_t { kStreamScene = 1, kStreamFeatures = 2, kStreamProjection = 3 };
uint64_t stream_id(uint64_t kind, int split, int64_t index) {
  return (kind << 56) | (uint64_t(split) << 48) | uint64_t(index);
}

const char* kPositionPhrases[9][2] = {
    {"in the top left corner", "at the top left"},       {"at the top", "near the top"},
    {"in the top right corner", "at the top right"},     {"on the left", "at the left side"},
    {"in the center", "in the middle"},                  {"on the right", "at the right side"},
    {"in the bottom left corner", "at the bottom left"}, {"at the bottom", "near the bottom"},
    {"in the bottom right corner", "at the bottom right"},
};
const char* kSizeWords[2][2] = {{"small", "little"}, {"large", "big"}};

// "a small red circle" / "an orange star" (size optional).
std::string object_phrase(const SynthObject& o, bool with_size, Stream& rng) {
  std::string rest = (with_size ? std::string(kSizeWords[o.size][rng.below(2)]) + " " : std::string()) +
                     synth_colours()[size_t(o.colour)] + " " + synth_shapes()[size_t(o.shape)];
  const bool vowel = std::string("aeiou").find(rest[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + rest;
}

std::string position_phrase(const SynthObject& o, Stream& rng) { return kPositionPhrases[o.position()][rng.below(2)]; }

SynthCaption single_caption(const SynthScene& s, int i, Stream& rng) {
  const SynthObject& o = s.objects[size_t(i)];
  const std::string obj = object_phrase(o, true, rng), pos = position_phrase(o, rng);
  std::string t;
  switch (rng.below(5)) {
    case 0: t = obj + " " + pos; break;
    case 1: t = "there is " + obj + " " + pos; break;
    case 2: t = pos + " there is " + obj; break;
    case 3: t = "an image with " + obj + " " + pos; break;
    default: t = "a picture of " + obj + " " + pos; break;
  }
  return {t, {i}, {true}, true};
}

SynthCaption pair_caption(const SynthScene& s, int i, int j, Stream& rng) {
  if (rng.below(2)) std::swap(i, j);  // mention order
  const SynthObject &a = s.objects[size_t(i)], &b = s.objects[size_t(j)];
  const int tmpl = rng.below(3);
  // Size words are sometimes left out of pair captions (never of single-object ones).
  const bool sa = tmpl == 1 || rng.below(4) != 0, sb = tmpl == 1 || rng.below(4) != 0;
  const std::string pa = object_phrase(a, sa, rng), pb = object_phrase(b, sb, rng);
  std::string t;
  if (tmpl == 0) {  // spatial relation derived from the coordinates
    std::string rel;
    if (a.row != b.row) rel = a.row < b.row ? "above" : "below";
    else rel = a.col < b.col ? "to the left of" : "to the right of";
    t = (rng.below(2) ? "there is " : "") + pa + " " + rel + " " + pb;
  } else if (tmpl == 1) {
    t = pa + " " + position_phrase(a, rng) + " and " + pb + " " + position_phrase(b, rng);
  } else {
    const bool adjacent = std::abs(a.row - b.row) <= 1 && std::abs(a.col - b.col) <= 1;
    t = pa + (adjacent && rng.below(2) ? " next to " : " and ") + pb;
  }
  if (i < j) return {t, {i, j}, {sa, sb}, tmpl == 1};
  return {t, {j, i}, {sb, sa}, tmpl == 1};
}

}  // namespace

SynthScene synth_scene(uint64_t seed, int split, int64_t index) {
  Stream rng(seed, stream_id(kStreamScene, split, index));
  SynthScene s;
  const int n = 3 + rng.below(3);
  std::vector<int> cells = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  rng.shuffle(cells);
  std::set<std::pair<int, int>> kinds;  // (shape, colour) pairs already used in this image
  const int n_shapes = int(synth_shapes().size()), n_colours = int(synth_colours().size());
  for (int k = 0; k < n; ++k) {
    SynthObject o;
    do {
      o.shape = rng.below(n_shapes);
      o.colour = rng.below(n_colours);
    } while (!kinds.insert({o.shape, o.colour}).second);
    o.size = rng.below(2);
    o.radius = (o.size ? 0.14 : 0.085) + 0.015 * rng.uniform();
    const double slack = (1.0 / 6.0 - o.radius) * 0.9;  // the centre stays inside its cell
    const int cell = cells[size_t(k)];
    o.x = ((cell % 3) + 0.5) / 3.0 + slack * (2 * rng.uniform() - 1);
    o.y = ((cell / 3) + 0.5) / 3.0 + slack * (2 * rng.uniform() - 1);
    o.col = std::clamp(int(o.x * 3.0), 0, 2);  // position words come from the coordinates
    o.row = std::clamp(int(o.y * 3.0), 0, 2);
    s.objects.push_back(o);
  }
  // Candidate subsets: every single object and every pair, in random order. Pass 1 takes those that
  // mention an object no caption mentions yet (so every object gets described), pass 2 fills up to 5.
  std::vector<std::vector<int>> cand;
  for (int i = 0; i < n; ++i) cand.push_back({i});
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) cand.push_back({i, j});
  rng.shuffle(cand);
  std::vector<bool> covered(size_t(n), false), taken(cand.size(), false);
  std::vector<std::vector<int>> chosen;
  for (int pass = 0; pass < 2; ++pass)
    for (size_t c = 0; c < cand.size() && chosen.size() < 5; ++c) {
      if (taken[c]) continue;
      bool fresh = false;
      for (int i : cand[c]) fresh = fresh || !covered[size_t(i)];
      if (pass == 0 && !fresh) continue;
      taken[c] = true;
      for (int i : cand[c]) covered[size_t(i)] = true;
      chosen.push_back(cand[c]);
    }
  rng.shuffle(chosen);
  for (const auto& sub : chosen)
    s.captions.push_back(sub.size() == 1 ? single_caption(s, sub[0], rng) : pair_caption(s, sub[0], sub[1], rng));
  return s;
}

namespace {

// Rows of the fixed projection: shape (10), colour (10), size (2), position (9), background kinds
// (4), x, y. Each row is a D-vector of N(0, 1), the same for every split.
constexpr int kBgKinds = 4;
struct Projection {
  int64_t dim;
  std::vector<float> w;  // [rows, dim]
  int shape0 = 0, colour0, size0, pos0, bg0, x_row, y_row, rows;
  Projection(uint64_t seed, int64_t d) : dim(d) {
    colour0 = shape0 + int(synth_shapes().size());
    size0 = colour0 + int(synth_colours().size());
    pos0 = size0 + 2;
    bg0 = pos0 + 9;
    x_row = bg0 + kBgKinds;
    y_row = x_row + 1;
    rows = y_row + 1;
    Stream rng(seed, stream_id(kStreamProjection, 0, 0));
    w.resize(size_t(rows * d));
    for (float& v : w) v = float(rng.normal());
  }
  const float* row(int r) const { return &w[size_t(r) * size_t(dim)]; }
};

const Projection& projection(uint64_t seed, int64_t dim) {
  thread_local std::unique_ptr<Projection> cache;
  thread_local uint64_t cached_seed = 0;
  if (!cache || cache->dim != dim || cached_seed != seed) {
    cache = std::make_unique<Projection>(seed, dim);
    cached_seed = seed;
  }
  return *cache;
}

}  // namespace

std::vector<float> synth_features(const SynthOptions& opt, const SynthScene& scene, int split, int64_t index) {
  const int64_t R = opt.regions, D = opt.feature_dim;
  const int n = int(scene.objects.size());
  DIVE_CHECK(R >= n, "synth: --regions must be at least the number of objects (5), got ", R);
  DIVE_CHECK(D >= 1, "synth: --feature_dim must be positive, got ", D);
  const Projection& P = projection(opt.seed, D);
  Stream rng(opt.seed, stream_id(kStreamFeatures, split, index));
  // What each region row shows: an object (kind 0), part of an object (1: a subset of its attribute
  // groups, weaker), or background (2).
  struct Region {
    int kind, object;
  };
  std::vector<Region> regions;
  for (int i = 0; i < n; ++i) regions.push_back({0, i});
  const int parts = std::min<int64_t>(R - n, rng.below(4));
  for (int k = 0; k < parts; ++k) regions.push_back({1, rng.below(n)});
  while (int64_t(regions.size()) < R) regions.push_back({2, rng.below(kBgKinds)});
  rng.shuffle(regions);
  std::vector<float> out(size_t(R * D));
  for (int64_t r = 0; r < R; ++r) {
    float* f = &out[size_t(r * D)];
    const Region& g = regions[size_t(r)];
    std::vector<std::pair<const float*, double>> terms;
    double noise = 0.3;
    if (g.kind == 2) {
      terms.push_back({P.row(P.bg0 + g.object), 0.7});
      noise = 0.5;
    } else {
      const SynthObject& o = scene.objects[size_t(g.object)];
      const int groups[4] = {P.shape0 + o.shape, P.colour0 + o.colour, P.size0 + o.size, P.pos0 + o.position()};
      if (g.kind == 0) {
        for (int k = 0; k < 4; ++k) terms.push_back({P.row(groups[k]), 0.5});
        terms.push_back({P.row(P.x_row), o.x - 0.5});
        terms.push_back({P.row(P.y_row), o.y - 0.5});
      } else {
        const int a = rng.below(4), b = (a + 1 + rng.below(3)) % 4;  // two different groups
        terms.push_back({P.row(groups[a]), 0.5});
        terms.push_back({P.row(groups[b]), 0.5});
      }
    }
    for (int64_t d = 0; d < D; ++d) {
      double v = noise * rng.normal();
      for (const auto& [w, c] : terms) v += c * w[d];
      f[d] = float(v);
    }
  }
  return out;
}

namespace {

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> w;
  size_t i = 0;
  while (i < s.size()) {
    const size_t j = std::min(s.find(' ', i), s.size());
    if (j > i) w.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return w;
}

// Does caption c (of some image) describe objects that image `other` also has? Attributes the caption
// leaves out (size, absolute position) are not compared; relations are ignored.
bool fits(const SynthCaption& c, const SynthScene& own, const SynthScene& other) {
  for (size_t k = 0; k < c.objects.size(); ++k) {
    const SynthObject& a = own.objects[size_t(c.objects[k])];
    bool found = false;
    for (const SynthObject& b : other.objects)
      found = found || (a.shape == b.shape && a.colour == b.colour && (!c.sized[k] || a.size == b.size) &&
                        (!c.placed || a.position() == b.position()));
    if (!found) return false;
  }
  return true;
}

}  // namespace

SynthSummary write_synth_dataset(const std::string& out_dir, const SynthOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t counts[3] = {opt.train, opt.dev, opt.test};
  for (int s = 0; s < 3; ++s)
    DIVE_CHECK(counts[s] >= 0 && counts[s] < (int64_t(1) << 40), "synth: bad image count for ", kSynthSplits[s], ": ",
               counts[s]);
  DIVE_CHECK(opt.regions >= 5 && opt.regions <= 1024, "synth: --regions must be in [5, 1024], got ", opt.regions);
  DIVE_CHECK(opt.feature_dim >= 1 && opt.feature_dim <= 65536, "synth: --feature_dim must be in [1, 65536], got ",
             opt.feature_dim);
  DIVE_CHECK(!opt.images || (opt.image_size >= 16 && opt.image_size <= 4096),
             "synth: --image_size must be in [16, 4096], got ", opt.image_size);
  const fs::path root(out_dir), pre = root / "precomp";
  fs::create_directories(pre);
  SynthSummary sum;
  std::vector<std::string> vocab = {"<pad>", "<start>", "<end>", "<unk>"};
  std::set<std::string> seen(vocab.begin(), vocab.end());
  boost::json::array images;
  int64_t imgid = 0, sentid = 0;
  std::vector<SynthScene> test_scenes;
  for (int split = 0; split < 3; ++split) {
    const std::string name = kSynthSplits[split];
    const fs::path img_dir = root / "images" / name;
    if (opt.images) fs::create_directories(img_dir);
    std::string caps;
    Tensor ims = Tensor::empty({counts[split], opt.regions, opt.feature_dim}, DType::f32);  // [N, R, D]
    float* ims_data = counts[split] > 0 ? ims.data<float>() : nullptr;
    for (int64_t i = 0; i < counts[split]; ++i) {
      SynthScene scene = synth_scene(opt.seed, split, i);
      const std::vector<float> feat = synth_features(opt, scene, split, i);
      std::copy(feat.begin(), feat.end(), ims_data + i * opt.regions * opt.feature_dim);
      boost::json::array sentences, sentids;
      for (const SynthCaption& c : scene.captions) {
        caps += c.text + '\n';
        boost::json::array toks;
        for (const std::string& w : words(c.text)) {
          if (seen.insert(w).second) vocab.push_back(w);
          toks.emplace_back(w);
        }
        sentences.emplace_back(boost::json::object{
            {"tokens", toks}, {"raw", c.text}, {"imgid", imgid}, {"sentid", sentid}});
        sentids.emplace_back(sentid++);
      }
      if (opt.images) {
        char fname[32];
        std::snprintf(fname, sizeof fname, "%05lld.png", static_cast<long long>(i));
        const std::vector<uint8_t> px = synth_render(scene, opt.image_size);
        const int n = int(opt.image_size);
        DIVE_CHECK(stbi_write_png((img_dir / fname).c_str(), n, n, 3, px.data(), 3 * n) != 0,
                   "synth: cannot write ", (img_dir / fname).string());
        images.emplace_back(boost::json::object{{"filepath", "images/" + name},
                                                {"filename", fname},
                                                {"split", split == 1 ? "val" : name},
                                                {"imgid", imgid},
                                                {"sentids", sentids},
                                                {"sentences", sentences}});
      }
      ++imgid;
      sum.captions += int64_t(scene.captions.size());
      if (split == 2) test_scenes.push_back(std::move(scene));
    }
    io::save_npy((pre / (name + "_ims.npy")).string(), ims);
    io::write_file_atomic((pre / (name + "_caps.txt")).string(), caps, "synth captions");
  }
  vocab.push_back("<mask>");
  std::string vocab_text;
  for (const std::string& w : vocab) vocab_text += w + '\n';
  io::write_file_atomic((pre / "vocab.txt").string(), vocab_text, "synth vocabulary");
  if (opt.images) {
    const std::string text = boost::json::serialize(boost::json::object{{"images", images}, {"dataset", "synth"}});
    io::write_file_atomic((root / "dataset_synth.json").string(), text + '\n', "synth json");
  }
  // How often a test caption's content fits no other test image.
  int64_t unique = 0, total = 0;
  for (const SynthScene& s : test_scenes)
    for (const SynthCaption& c : s.captions) {
      int64_t matches = 0;
      for (const SynthScene& o : test_scenes) matches += fits(c, s, o) ? 1 : 0;
      unique += matches == 1 ? 1 : 0;
      ++total;
    }
  sum.images = imgid;
  sum.vocab_size = int64_t(vocab.size());
  sum.unique_test_captions = total ? double(unique) / double(total) : 0.0;
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace dive::data
