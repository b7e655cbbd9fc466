// GloVe text-format word vectors (data/glove.h) and the embedding-table init (tools::init_word_embeddings):
// exact and fallback matches ('-', '.', '\'' stripped, part before '/'), missing words, header lines,
// repeated words, malformed lines with the file and line in the message.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test/test_util.h"
#include "data/glove.h"
#include "lib/core/error.h"
#include "lib/core/rng.h"
#include "tools/run/session.h"

namespace fs = std::filesystem;
using namespace dive;

namespace {

using dive::test::read_bytes;
using dive::test::write_bytes;
struct TmpDir : dive::test::TempDir {
  explicit TmpDir(const std::string& tag = "x") : dive::test::TempDir("glove_" + tag) {}
};


data::Vocabulary vocab() {
  return data::Vocabulary::from_words(
      {"<pad>", "<start>", "<end>", "<unk>", "dog", "t-shirt", "and/or", "missing", "cat", "mr.", "<mask>"});
}

// 4-d vectors; "tshirt", "and" and "mr" only match through the fallback; "cat" is listed twice.
const char* kGlove =
    "7 4\n"
    "dog 1 2 3 4\n"
    "tshirt 5 6 7 8\n"
    "and -1 -2 -3 -4\n"
    "cat 0.5 0.5 0.5 0.5\n"
    "unused 9 9 9 9\n"
    "cat 1.5 -2 3e-1 +4\n"
    "mr 0 0 0 1\n"
    "mr. 2 2 2 2\r\n";

std::vector<float> row(const Tensor& t, int64_t i) {
  std::vector<float> v = t.to_vector<float>();
  int64_t d = t.size(1);
  return std::vector<float>(v.begin() + i * d, v.begin() + (i + 1) * d);
}

using test::expect_error;

model::ModelConfig tiny_config() {
  model::ModelConfig c;
  c.img_dim = 5; c.embed_size = 4; c.word_dim = 4; c.vocab_size = 11; c.img_num_embeds = 2; c.txt_num_embeds = 2;
  c.spm_depth = 1; c.spm_heads = 1; c.spm_dim_head = 3; c.spm_ff_mult = 1;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(glove)

BOOST_AUTO_TEST_CASE(fallback_rule) {
  BOOST_TEST(data::word_vector_fallback("t-shirt") == "tshirt");
  BOOST_TEST(data::word_vector_fallback("and/or") == "and");
  BOOST_TEST(data::word_vector_fallback("o'clock.") == "oclock");
  BOOST_TEST(data::word_vector_fallback("a-b/c.d/e") == "ab");
  BOOST_TEST(data::word_vector_fallback("/x") == "");
}

BOOST_AUTO_TEST_CASE(exact_fallback_missing_and_repeats) {
  TmpDir t("ok");
  std::string path = t.write("g.txt", kGlove);
  int64_t found = -1;
  Tensor w = data::load_word_vectors(path, vocab(), 4, found);
  BOOST_TEST(w.size(0) == 11);
  BOOST_TEST(w.size(1) == 4);
  BOOST_TEST(found == 5);  // dog, t-shirt, and/or, cat, mr.
  BOOST_TEST(row(w, 4) == std::vector<float>({1, 2, 3, 4}), boost::test_tools::per_element());
  BOOST_TEST(row(w, 5) == std::vector<float>({5, 6, 7, 8}), boost::test_tools::per_element());
  BOOST_TEST(row(w, 6) == std::vector<float>({-1, -2, -3, -4}), boost::test_tools::per_element());
  BOOST_TEST(row(w, 8) == std::vector<float>({1.5f, -2, 0.3f, 4}), boost::test_tools::per_element());
  // "mr." is in the file itself: the exact match wins over the fallback "mr".
  BOOST_TEST(row(w, 9) == std::vector<float>({2, 2, 2, 2}), boost::test_tools::per_element());
  for (int64_t i : {0, 1, 2, 3, 7, 10})
    for (float v : row(w, i)) BOOST_TEST(std::isnan(v), "row " << i << " should be NaN");
}

BOOST_AUTO_TEST_CASE(malformed_files_name_file_and_line) {
  TmpDir t("bad");
  int64_t found = 0;
  auto v = vocab();
  std::string p1 = t.write("count.txt", "dog 1 2 3 4\ncat 1 2 3\n");
  expect_error([&] { data::load_word_vectors(p1, v, 4, found); }, {"count.txt", "line 2", "'cat'", "3 values"});
  std::string p2 = t.write("nan.txt", "dog 1 2 3 4\nunused 1 x2 3 4\n");
  expect_error([&] { data::load_word_vectors(p2, v, 4, found); }, {"nan.txt", "line 2", "'x2' is not a number"});
  std::string p3 = t.write("dim.txt", "dog 1 2 3 4\n");
  expect_error([&] { data::load_word_vectors(p3, v, 300, found); }, {"dim.txt", "line 1", "expected 300"});
  std::string p4 = t.write("empty.txt", "dog 1 2 3 4\n\ncat 1 2 3 4\n");
  expect_error([&] { data::load_word_vectors(p4, v, 4, found); }, {"empty.txt", "line 2", "empty line"});
  expect_error([&] { data::load_word_vectors((t.dir / "none.txt").string(), v, 4, found); },
               {"none.txt", "cannot open"});
}

BOOST_AUTO_TEST_CASE(init_word_embeddings_copies_found_rows) {
  TmpDir t("init");
  std::string path = t.write("g.txt", kGlove);
  manual_seed(5);
  model::DiveModel m(tiny_config());
  Tensor before = m.txt_enc->embed->weight.clone();
  tools::init_word_embeddings(m, vocab(), "glove", path);
  Tensor after = m.txt_enc->embed->weight;
  BOOST_TEST(row(after, 5) == std::vector<float>({5, 6, 7, 8}), boost::test_tools::per_element());
  BOOST_TEST(row(after, 8) == std::vector<float>({1.5f, -2, 0.3f, 4}), boost::test_tools::per_element());
  for (int64_t i : {0, 1, 2, 3, 7, 10})
    BOOST_TEST(row(after, i) == row(before, i), boost::test_tools::per_element());
  BOOST_TEST(after.is_leaf());  // copied under NoGradGuard: still a trainable leaf
  BOOST_TEST(after.requires_grad());

  tools::init_word_embeddings(m, vocab(), "none", "");
  for (float v : m.txt_enc->embed->weight.to_vector<float>()) BOOST_TEST((v >= -0.1f && v <= 0.1f));

  expect_error([&] { tools::init_word_embeddings(m, vocab(), "glove", ""); }, {"--wemb_path"});
  expect_error([&] { tools::init_word_embeddings(m, vocab(), "fasttext", path); }, {"fasttext"});
  auto small = data::Vocabulary::from_words({"<pad>", "<start>", "<end>", "<unk>", "dog", "<mask>"});
  expect_error([&] { tools::init_word_embeddings(m, small, "glove", path); }, {"6 words", "11 rows"});
}

BOOST_AUTO_TEST_SUITE_END()
