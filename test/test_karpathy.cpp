// Karpathy-split JSON reader and image decoding (data/karpathy.h) on the synthetic dataset (dive synth
// layout: images/{split}/NNNNN.png, dataset_synth.json) and on hand-written broken files.
#include <unistd.h>

#include <stb_image_write.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test/test_util.h"
#include "data/karpathy.h"
#include "data/synth.h"
#include "lib/core/error.h"

namespace fs = std::filesystem;
using namespace dive;
using namespace dive::data;

namespace {

using dive::test::read_bytes;
using dive::test::write_bytes;
struct TmpDir : dive::test::TempDir {
  explicit TmpDir(const std::string& tag = "x") : dive::test::TempDir("karpathy_" + tag) {}
};


SynthOptions small_options() {
  SynthOptions o;
  o.seed = 3;
  o.train = 6;
  o.dev = 3;
  o.test = 4;
  o.image_size = 32;
  o.regions = 6;
  o.feature_dim = 8;
  return o;
}

using test::expect_error;

std::string image_json(const std::string& filename, const std::string& split, int sentences,
                       const std::string& extra_sentence = "") {
  std::string s = "{\"filepath\": \"imgs\", \"filename\": \"" + filename + "\", \"split\": \"" + split +
                  "\", \"sentences\": [";
  for (int k = 0; k < sentences; ++k)
    s += std::string(k ? ", " : "") + "{\"raw\": \"Caption " + std::to_string(k) + " of " + filename +
         ".\", \"tokens\": [\"caption\", \"" + std::to_string(k) + "\"]}";
  if (!extra_sentence.empty()) s += (sentences ? ", " : "") + extra_sentence;
  return s + "]}";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(karpathy)

BOOST_AUTO_TEST_CASE(synthetic_dataset_splits_captions_and_images) {
  TmpDir t("synth");
  SynthOptions o = small_options();
  write_synth_dataset(t.dir.string(), o);
  const std::string json = (t.dir / "dataset_synth.json").string();
  const int64_t counts[3] = {o.train, o.dev, o.test};
  const char* names[3] = {"train", "val", "test"};
  for (int s = 0; s < 3; ++s) {
    KarpathySplit k = load_karpathy(json, t.dir.string(), names[s]);
    BOOST_TEST(int64_t(k.images.size()) == counts[s]);
    BOOST_TEST(k.num_captions() == 5 * counts[s]);
    // The precomp captions of the same split are the same sentences in the same order.
    std::ifstream caps(t.dir / "precomp" / (std::string(kSynthSplits[s]) + "_caps.txt"));
    for (int64_t j = 0; j < k.num_captions(); ++j) {
      std::string line;
      BOOST_REQUIRE(std::getline(caps, line));
      BOOST_TEST(k.caption(j) == line);
    }
    for (size_t i = 0; i < k.images.size(); ++i) {
      const KarpathyImage& im = k.images[i];
      BOOST_TEST(im.split == names[s]);
      BOOST_TEST(im.captions.size() == 5u);
      BOOST_TEST(im.tokens.size() == 5u);
      BOOST_TEST(!im.tokens[0].empty());
      char fname[32];
      std::snprintf(fname, sizeof fname, "%05zu.png", i);
      BOOST_TEST(im.path == (t.dir / "images" / kSynthSplits[s] / fname).string());
      Tensor px = load_rgb(im.path);
      BOOST_TEST(px.dtype() == DType::u8);
      BOOST_TEST(px.dim() == 3);
      BOOST_TEST(px.size(0) == o.image_size);
      BOOST_TEST(px.size(1) == o.image_size);
      BOOST_TEST(px.size(2) == 3);
    }
  }
  BOOST_TEST(load_karpathy(json, t.dir.string(), "dev").images.size() == size_t(o.dev));
  BOOST_TEST(load_karpathy(json, t.dir.string(), "all").images.size() == size_t(o.train + o.dev + o.test));
  expect_error([&] { load_karpathy(json, t.dir.string(), "testall"); }, {"unknown split", "testall"});
}

BOOST_AUTO_TEST_CASE(restval_more_sentences_and_no_filepath) {
  TmpDir t("coco");
  std::string json = t.write(
      "d.json", "{\"images\": [" + image_json("a.jpg", "train", 5) + ", " + image_json("b.jpg", "restval", 7) + ", " +
                    image_json("c.jpg", "val", 5) + ", " + image_json("d.jpg", "test", 6) +
                    ", {\"filename\": \"e.jpg\", \"split\": \"test\", \"sentences\": [{\"raw\": \"1\"}, {\"raw\": "
                    "\"2\"}, {\"raw\": \"3\"}, {\"raw\": \"4\"}, {\"raw\": \"5\"}]}]}");
  KarpathySplit tr = load_karpathy(json, "/root", "train");  // train + restval
  BOOST_REQUIRE(tr.images.size() == 2u);
  BOOST_TEST(tr.images[1].filename == "b.jpg");
  BOOST_TEST(tr.images[1].index == 1);
  BOOST_TEST(tr.images[1].captions.size() == 5u);  // the first 5 of 7
  BOOST_TEST(tr.images[1].captions[4] == "Caption 4 of b.jpg.");
  BOOST_TEST(tr.images[0].path == "/root/imgs/a.jpg");
  KarpathySplit te = load_karpathy(json, "/root", "test");
  BOOST_REQUIRE(te.images.size() == 2u);
  BOOST_TEST(te.images[1].path == "/root/e.jpg");  // Flickr30K style: no filepath
  BOOST_TEST(te.images[1].tokens[0].empty());
  BOOST_TEST(load_karpathy(json, "/root", "restval").images.size() == 1u);
}

BOOST_AUTO_TEST_CASE(bad_json_names_file_and_field) {
  TmpDir t("bad");
  std::string p1 = t.write("notjson.json", "{\"images\": [\n  {\"filename\": oops}\n]}");
  expect_error([&] { load_karpathy(p1, ".", "test"); }, {"notjson.json", "line 2", "not valid JSON"});
  std::string p2 = t.write("noimages.json", "{\"dataset\": \"coco\"}");
  expect_error([&] { load_karpathy(p2, ".", "test"); }, {"noimages.json", "missing field 'images'"});
  std::string p3 = t.write("noraw.json", "{\"images\": [" + image_json("x.jpg", "test", 4, "{\"tokens\": []}") + "]}");
  expect_error([&] { load_karpathy(p3, ".", "test"); }, {"noraw.json", "x.jpg", "sentences[4]", "'raw'"});
  std::string p4 = t.write("few.json", "{\"images\": [" + image_json("y.jpg", "val", 4) + "]}");
  expect_error([&] { load_karpathy(p4, ".", "val"); }, {"few.json", "y.jpg", "4 sentences"});
  BOOST_TEST(load_karpathy(p4, ".", "test").images.empty());  // other splits are not checked
  std::string p5 = t.write("nosplit.json", "{\"images\": [{\"filename\": \"z.jpg\"}]}");
  expect_error([&] { load_karpathy(p5, ".", "test"); }, {"nosplit.json", "z.jpg", "'split'"});
  expect_error([&] { load_karpathy((t.dir / "absent.json").string(), ".", "test"); }, {"absent.json", "cannot open"});
}

BOOST_AUTO_TEST_CASE(images_gray_rgba_corrupt_missing) {
  TmpDir t("img");
  const uint8_t gray[4] = {0, 100, 200, 255};
  const std::string gp = (t.dir / "gray.png").string();
  BOOST_REQUIRE(stbi_write_png(gp.c_str(), 2, 2, 1, gray, 2) != 0);
  Tensor g = load_rgb(gp);
  BOOST_TEST(g.size(0) == 2);
  BOOST_TEST(g.size(1) == 2);
  BOOST_TEST(g.size(2) == 3);
  std::vector<uint8_t> gv = g.to_vector<uint8_t>();
  BOOST_TEST(gv == std::vector<uint8_t>({0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255}),
             boost::test_tools::per_element());
  const uint8_t rgba[8] = {10, 20, 30, 0, 40, 50, 60, 255};  // 2 x 1 pixels
  const std::string ap = (t.dir / "rgba.png").string();
  BOOST_REQUIRE(stbi_write_png(ap.c_str(), 2, 1, 4, rgba, 8) != 0);
  Tensor a = load_rgb(ap);
  BOOST_TEST(a.size(0) == 1);
  BOOST_TEST(a.size(1) == 2);
  BOOST_TEST(a.to_vector<uint8_t>() == std::vector<uint8_t>({10, 20, 30, 40, 50, 60}), boost::test_tools::per_element());
  std::string bad = t.write("corrupt.png", "\x89PNG\r\n\x1a\n this is not a png at all");
  expect_error([&] { load_rgb(bad); }, {"corrupt.png", "cannot decode"});
  std::string junk = t.write("junk.jpg", "garbage bytes");
  expect_error([&] { load_rgb(junk); }, {"junk.jpg", "cannot decode"});
  expect_error([&] { load_rgb((t.dir / "missing.png").string()); }, {"missing.png", "no such file"});
}

BOOST_AUTO_TEST_SUITE_END()
