// Synthetic demo dataset (data/synth.h): determinism, file layout, captions vs. scenes, PNGs, JSON.
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <stb_image.h>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/synth.h"
#include "lib/core/error.h"
#include "test/test_util.h"

namespace fs = std::filesystem;
using namespace dive::data;

namespace {

struct TmpDir : dive::test::TempDir {
  explicit TmpDir(const std::string& tag) : dive::test::TempDir("synth_" + tag) {}
};

SynthOptions small_options(uint64_t seed = 7) {
  SynthOptions o;
  o.seed = seed;
  o.train = 12;
  o.dev = 4;
  o.test = 6;
  o.image_size = 40;
  o.regions = 8;
  o.feature_dim = 24;
  return o;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(f, "cannot read " << p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> lines(const fs::path& p) {
  std::istringstream in(slurp(p));
  std::vector<std::string> v;
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> v;
  for (std::string w; in >> w;) v.push_back(w);
  return v;
}

// Every regular file under `root`, by relative path.
std::vector<std::string> tree(const fs::path& root) {
  std::vector<std::string> v;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) v.push_back(fs::relative(e.path(), root).string());
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(synth)

BOOST_AUTO_TEST_CASE(same_seed_gives_identical_files) {
  TmpDir a("a"), b("b"), c("c");
  write_synth_dataset(a.dir.string(), small_options(7));
  write_synth_dataset(b.dir.string(), small_options(7));
  write_synth_dataset(c.dir.string(), small_options(8));
  const auto files = tree(a.dir);
  BOOST_CHECK_EQUAL(files.size(), 3u * 2u + 1u + 1u + 12u + 4u + 6u);  // npy+caps per split, vocab, json, pngs
  BOOST_REQUIRE(files == tree(b.dir));
  for (const std::string& f : files) BOOST_CHECK_MESSAGE(slurp(a.dir / f) == slurp(b.dir / f), f << " differs");
  BOOST_CHECK(slurp(a.dir / "precomp/train_ims.npy") != slurp(c.dir / "precomp/train_ims.npy"));
  BOOST_CHECK(slurp(a.dir / "precomp/train_caps.txt") != slurp(c.dir / "precomp/train_caps.txt"));
}

BOOST_AUTO_TEST_CASE(counts_shapes_and_vocabulary) {
  TmpDir t("counts");
  const SynthOptions o = small_options();
  const SynthSummary s = write_synth_dataset(t.dir.string(), o);
  BOOST_CHECK_EQUAL(s.images, o.train + o.dev + o.test);
  BOOST_CHECK_EQUAL(s.captions, 5 * s.images);
  const std::vector<std::string> vocab = lines(t.dir / "precomp/vocab.txt");
  BOOST_CHECK_EQUAL(int64_t(vocab.size()), s.vocab_size);
  BOOST_REQUIRE_GE(vocab.size(), 6u);
  BOOST_CHECK_EQUAL(vocab[0], "<pad>");
  BOOST_CHECK_EQUAL(vocab[1], "<start>");
  BOOST_CHECK_EQUAL(vocab[2], "<end>");
  BOOST_CHECK_EQUAL(vocab[3], "<unk>");
  BOOST_CHECK_EQUAL(vocab.back(), "<mask>");
  const std::set<std::string> words(vocab.begin(), vocab.end());
  BOOST_CHECK_EQUAL(words.size(), vocab.size());
  const int64_t counts[3] = {o.train, o.dev, o.test};
  for (int split = 0; split < 3; ++split) {
    const std::string name = kSynthSplits[split];
    const auto caps = lines(t.dir / "precomp" / (name + "_caps.txt"));
    BOOST_CHECK_EQUAL(int64_t(caps.size()), 5 * counts[split]);
    for (const std::string& c : caps) {
      BOOST_CHECK(!c.empty());
      for (const std::string& w : split_words(c)) {
        BOOST_CHECK_MESSAGE(words.count(w), "'" << w << "' of '" << c << "' not in vocab.txt");
        for (char ch : w) BOOST_CHECK_MESSAGE(ch >= 'a' && ch <= 'z', "'" << w << "' is not a lower-case word");
      }
    }
    // .npy header: v1.0, '<f4', C order, shape (N, R, D), data aligned to 64 bytes and complete.
    const std::string npy = slurp(t.dir / "precomp" / (name + "_ims.npy"));
    BOOST_REQUIRE_GT(npy.size(), 10u);
    BOOST_CHECK(npy.compare(0, 6, "\x93NUMPY") == 0);
    const size_t header = 10 + size_t(uint8_t(npy[8])) + 256 * size_t(uint8_t(npy[9]));
    BOOST_CHECK_EQUAL(header % 64, 0u);
    const std::string dict = npy.substr(10, header - 10);
    std::ostringstream shape;
    shape << "(" << counts[split] << ", " << o.regions << ", " << o.feature_dim << ")";
    BOOST_CHECK_MESSAGE(dict.find("'descr': '<f4'") != std::string::npos, dict);
    BOOST_CHECK_MESSAGE(dict.find("'fortran_order': False") != std::string::npos, dict);
    BOOST_CHECK_MESSAGE(dict.find("'shape': " + shape.str()) != std::string::npos,
                        dict << " lacks " << shape.str());
    BOOST_CHECK_EQUAL(npy.size(), header + size_t(counts[split] * o.regions * o.feature_dim) * 4);
  }
  // Bad options name the flag.
  SynthOptions bad = o;
  bad.regions = 4;
  BOOST_CHECK_THROW(write_synth_dataset((t.dir / "bad").string(), bad), dive::Error);
}

BOOST_AUTO_TEST_CASE(captions_describe_different_objects) {
  for (int split = 0; split < 3; ++split)
    for (int64_t i = 0; i < 40; ++i) {
      const SynthScene s = synth_scene(3, split, i);
      BOOST_REQUIRE_GE(s.objects.size(), 3u);
      BOOST_REQUIRE_LE(s.objects.size(), 5u);
      BOOST_REQUIRE_EQUAL(s.captions.size(), 5u);
      std::set<std::pair<int, int>> kinds;
      std::set<int> cells;
      for (const SynthObject& o : s.objects) {
        kinds.insert({o.shape, o.colour});
        cells.insert(o.position());
        BOOST_CHECK_EQUAL(o.col, int(o.x * 3));
        BOOST_CHECK_EQUAL(o.row, int(o.y * 3));
      }
      BOOST_CHECK_EQUAL(kinds.size(), s.objects.size());
      BOOST_CHECK_EQUAL(cells.size(), s.objects.size());
      std::set<std::string> texts;
      std::set<std::vector<int>> subsets;
      std::set<int> mentioned;
      for (const SynthCaption& c : s.captions) {
        texts.insert(c.text);
        subsets.insert(c.objects);
        BOOST_CHECK(c.objects.size() == 1 || c.objects.size() == 2);
        BOOST_CHECK_EQUAL(c.sized.size(), c.objects.size());
        for (size_t k = 0; k < c.objects.size(); ++k) {
          const SynthObject& o = s.objects[size_t(c.objects[k])];
          mentioned.insert(c.objects[k]);
          const std::string kind = synth_colours()[size_t(o.colour)] + " " + synth_shapes()[size_t(o.shape)];
          BOOST_CHECK_MESSAGE(c.text.find(kind) != std::string::npos, "'" << c.text << "' lacks '" << kind << "'");
        }
        // Objects the caption does not mention are not named in it.
        for (int j = 0; j < int(s.objects.size()); ++j) {
          if (std::find(c.objects.begin(), c.objects.end(), j) != c.objects.end()) continue;
          const SynthObject& o = s.objects[size_t(j)];
          const std::string kind = synth_colours()[size_t(o.colour)] + " " + synth_shapes()[size_t(o.shape)];
          BOOST_CHECK_MESSAGE(c.text.find(kind) == std::string::npos, "'" << c.text << "' names '" << kind << "'");
        }
      }
      BOOST_CHECK_EQUAL(texts.size(), 5u);
      BOOST_CHECK_EQUAL(subsets.size(), 5u);
      BOOST_CHECK_EQUAL(mentioned.size(), s.objects.size());  // every object is described somewhere
    }
}

BOOST_AUTO_TEST_CASE(features_are_informative) {
  const SynthOptions o = small_options();
  const SynthScene s = synth_scene(o.seed, 0, 0);
  const std::vector<float> f = synth_features(o, s, 0, 0);
  BOOST_REQUIRE_EQUAL(int64_t(f.size()), o.regions * o.feature_dim);
  for (float v : f) BOOST_REQUIRE(std::isfinite(v));
  BOOST_CHECK(f == synth_features(o, s, 0, 0));
  BOOST_CHECK(f != synth_features(o, synth_scene(o.seed, 0, 1), 0, 1));
  std::set<std::vector<float>> rows;
  for (int64_t r = 0; r < o.regions; ++r)
    rows.insert(std::vector<float>(f.begin() + r * o.feature_dim, f.begin() + (r + 1) * o.feature_dim));
  BOOST_CHECK_EQUAL(int64_t(rows.size()), o.regions);
}

BOOST_AUTO_TEST_CASE(png_and_karpathy_json) {
  TmpDir t("png");
  const SynthOptions o = small_options();
  write_synth_dataset(t.dir.string(), o);
  const boost::json::value root = boost::json::parse(slurp(t.dir / "dataset_synth.json"));
  BOOST_CHECK_EQUAL(root.at("dataset").as_string(), "synth");
  const boost::json::array& images = root.at("images").as_array();
  BOOST_REQUIRE_EQUAL(int64_t(images.size()), o.train + o.dev + o.test);
  const auto test_caps = lines(t.dir / "precomp/test_caps.txt");
  int64_t k = 0;
  for (const auto& v : images) {
    const boost::json::object& im = v.as_object();
    BOOST_CHECK_EQUAL(im.at("imgid").as_int64(), k);
    const std::string split(im.at("split").as_string());
    const int s = k < o.train ? 0 : k < o.train + o.dev ? 1 : 2;
    const int64_t local = k - (s == 0 ? 0 : s == 1 ? o.train : o.train + o.dev);
    BOOST_CHECK_EQUAL(split, s == 1 ? "val" : kSynthSplits[s]);
    const fs::path png = t.dir / std::string(im.at("filepath").as_string()) / std::string(im.at("filename").as_string());
    int w = 0, h = 0, c = 0;
    unsigned char* px = stbi_load(png.c_str(), &w, &h, &c, 3);
    BOOST_REQUIRE_MESSAGE(px, "stb_image cannot decode " << png);
    BOOST_CHECK_EQUAL(w, o.image_size);
    BOOST_CHECK_EQUAL(h, o.image_size);
    BOOST_CHECK_EQUAL(c, 3);
    // Pixels inside an object (at its centre, except for the ring and crescent) are not background.
    const SynthScene scene = synth_scene(o.seed, s, local);
    const std::vector<uint8_t> expect = synth_render(scene, o.image_size);
    BOOST_CHECK(std::equal(expect.begin(), expect.end(), px));
    for (const SynthObject& ob : scene.objects) {
      if (ob.shape == 7 || ob.shape == 9) continue;
      const int x = int(ob.x * w), y = int(ob.y * h);
      const unsigned char* p = px + 3 * (y * w + x);
      const unsigned char* bg = px;  // the top-left pixel is background (objects stay inside their cells)
      BOOST_CHECK_MESSAGE(p[0] != bg[0] || p[1] != bg[1] || p[2] != bg[2], png << ": object at " << x << "," << y);
    }
    stbi_image_free(px);
    const boost::json::array& sents = im.at("sentences").as_array();
    BOOST_REQUIRE_EQUAL(sents.size(), 5u);
    for (size_t j = 0; j < 5; ++j) {
      const std::string raw(sents[j].at("raw").as_string());
      BOOST_CHECK_EQUAL(raw, scene.captions[j].text);
      std::string joined;
      for (const auto& tok : sents[j].at("tokens").as_array()) {
        if (!joined.empty()) joined += ' ';
        joined += std::string(tok.as_string());
      }
      BOOST_CHECK_EQUAL(joined, raw);
      if (s == 2) BOOST_CHECK_EQUAL(test_caps[size_t(5 * local) + j], raw);
    }
    ++k;
  }
}

// The precomp folder is what PrecompDataset, Vocabulary and tokenize() read.
BOOST_AUTO_TEST_CASE(precomp_dataset_reads_it) {
  TmpDir t("precomp");
  SynthOptions o = small_options();
  o.images = false;
  write_synth_dataset(t.dir.string(), o);
  const std::string pre = (t.dir / "precomp").string();
  const Vocabulary vocab = Vocabulary::load(pre + "/vocab.txt");
  BOOST_CHECK_EQUAL(vocab.word(vocab.mask_id()), "<mask>");
  const int64_t counts[3] = {o.train, o.dev, o.test};
  for (int split = 0; split < 3; ++split) {
    const PrecompDataset ds = PrecompDataset::open(pre, kSynthSplits[split]);
    BOOST_REQUIRE_EQUAL(ds.num_images(), counts[split]);
    BOOST_CHECK_EQUAL(ds.num_captions(), 5 * counts[split]);
    BOOST_CHECK_EQUAL(ds.regions(), o.regions);
    BOOST_CHECK_EQUAL(ds.feature_dim(), o.feature_dim);
    for (int64_t i = 0; i < ds.num_images(); ++i) {
      const SynthScene scene = synth_scene(o.seed, split, i);
      BOOST_CHECK(ds.image(i).to_vector<float>() == synth_features(o, scene, split, i));
      for (int64_t j = 0; j < 5; ++j) {
        BOOST_CHECK_EQUAL(ds.caption(5 * i + j), scene.captions[size_t(j)].text);
        BOOST_CHECK(tokenize(ds.caption(5 * i + j)) == split_words(scene.captions[size_t(j)].text));
        for (int64_t id : vocab.encode(ds.caption(5 * i + j))) BOOST_CHECK_NE(id, 3);  // no <unk>
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
