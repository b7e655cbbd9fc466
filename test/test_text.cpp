// Tokenizer (against NLTK's output recorded in test/data/tokenizer_cases.json) and vocabulary
// build/save/load/encode, including malformed vocabulary files.
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "test/test_util.h"

namespace fs = std::filesystem;
namespace json = boost::json;
using dive::data::tokenize;
using dive::data::Vocabulary;

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& t : v) s += (s.empty() ? "" : " | ") + t;
  return s;
}

struct TmpDir : dive::test::TempDir {
  TmpDir() : dive::test::TempDir("text") {}
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

void expect_load_error(const std::string& path, const std::string& needle) {
  try {
    Vocabulary::load(path);
    BOOST_ERROR("no error loading " << path);
  } catch (const dive::Error& e) {
    std::string msg = e.what();
    BOOST_TEST_INFO("message: " << msg);
    BOOST_CHECK(msg.find(path) != std::string::npos);
    BOOST_CHECK(msg.find(needle) != std::string::npos);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tokenizer)

BOOST_AUTO_TEST_CASE(matches_nltk_fixture) {
  std::ifstream f("test/data/tokenizer_cases.json", std::ios::binary);
  BOOST_REQUIRE_MESSAGE(f.good(), "missing test/data/tokenizer_cases.json (test/reference/make_tokenizer_cases.py)");
  std::stringstream ss;
  ss << f.rdbuf();
  json::object doc = json::parse(ss.str()).as_object();
  BOOST_TEST_MESSAGE("tokenizer fixture from nltk " << doc.at("nltk_version").as_string());
  int n = 0;
  for (const json::value& c : doc.at("cases").as_array()) {
    std::string text(c.at("text").as_string());
    std::vector<std::string> want;
    for (const json::value& t : c.at("tokens").as_array()) want.emplace_back(t.as_string());
    std::vector<std::string> got = tokenize(text);
    BOOST_CHECK_MESSAGE(got == want, "text '" << text << "'\n  nltk: " << join(want) << "\n  ours: " << join(got));
    ++n;
  }
  BOOST_CHECK_GE(n, 60);
}

BOOST_AUTO_TEST_CASE(keeps_case_without_lowering) {
  BOOST_CHECK((dive::data::tokenize_sentence("A Dog's toy.") ==
               std::vector<std::string>{"A", "Dog", "'s", "toy", "."}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(vocab)

BOOST_AUTO_TEST_CASE(build_first_seen_order_and_threshold) {
  std::vector<std::string> caps = {"A dog runs.", "The dog sleeps.", "A cat, a dog."};
  Vocabulary v = Vocabulary::build(caps, 2);
  // counts: a 3, dog 3, . 3, the 1, runs 1, sleeps 1, cat 1, ',' 1 -> kept in first-seen order
  std::vector<std::string> want = {"<pad>", "<start>", "<end>", "<unk>", "a", "dog", ".", "<mask>"};
  BOOST_REQUIRE_EQUAL(v.size(), int64_t(want.size()));
  for (size_t k = 0; k < want.size(); ++k) BOOST_CHECK_EQUAL(v.word(int64_t(k)), want[k]);
  BOOST_CHECK_EQUAL(v.mask_id(), 7);
  BOOST_CHECK_EQUAL(v.id("dog"), 5);
  BOOST_CHECK_EQUAL(v.id("cat"), Vocabulary::kUnk);
  BOOST_CHECK((v.encode("A CAT dog.") == std::vector<int64_t>{1, 4, 3, 5, 6, 2}));
  BOOST_CHECK((v.encode("") == std::vector<int64_t>{1, 2}));
  Vocabulary all = Vocabulary::build(caps, 0);
  BOOST_CHECK_EQUAL(all.size(), 4 + 8 + 1);
  BOOST_CHECK_EQUAL(all.word(4), "a");
  BOOST_CHECK_EQUAL(all.word(7), ".");
  BOOST_CHECK_EQUAL(all.word(8), "the");
  BOOST_CHECK_THROW(v.word(8), dive::Error);
  BOOST_CHECK_THROW(v.word(-1), dive::Error);
}

BOOST_AUTO_TEST_CASE(save_load_round_trip) {
  TmpDir tmp;
  Vocabulary v = Vocabulary::build({"two zebras grazing", "a zebra", "zebras!"}, 1);
  v.save(tmp.path("vocab.txt"));
  Vocabulary u = Vocabulary::load(tmp.path("vocab.txt"));
  BOOST_REQUIRE_EQUAL(u.size(), v.size());
  for (int64_t k = 0; k < v.size(); ++k) BOOST_CHECK_EQUAL(u.word(k), v.word(k));
  BOOST_CHECK_EQUAL(u.id("zebras"), v.id("zebras"));
  // No trailing newline is accepted too.
  write_text(tmp.path("nonl.txt"), "<pad>\n<start>\n<end>\n<unk>\nx\n<mask>");
  BOOST_CHECK_EQUAL(Vocabulary::load(tmp.path("nonl.txt")).size(), 6);
}

BOOST_AUTO_TEST_CASE(bad_files) {
  TmpDir tmp;
  auto file = [&](const std::string& name, const std::string& text) {
    write_text(tmp.path(name), text);
    return tmp.path(name);
  };
  expect_load_error(tmp.path("missing.txt"), "cannot open");
  expect_load_error(file("short.txt", "<pad>\n<start>\n"), "needs at least");
  expect_load_error(file("order.txt", "<pad>\n<end>\n<start>\n<unk>\nx\n<mask>\n"), "line 2: expected '<start>'");
  expect_load_error(file("nomask.txt", "<pad>\n<start>\n<end>\n<unk>\nx\ny\n"), "line 6: the last token must be '<mask>'");
  expect_load_error(file("dup.txt", "<pad>\n<start>\n<end>\n<unk>\nx\ny\nx\n<mask>\n"),
                    "line 7: duplicate token 'x' (first on line 5)");
  expect_load_error(file("empty.txt", "<pad>\n<start>\n<end>\n<unk>\nx\n\ny\n<mask>\n"), "line 6: empty token");
  expect_load_error(file("space.txt", "<pad>\n<start>\n<end>\n<unk>\na b\n<mask>\n"), "line 5: token 'a b' contains whitespace");
  expect_load_error(file("crlf.txt", "<pad>\r\n<start>\r\n<end>\r\n<unk>\r\n<mask>\r\n"), "line 1");
}

BOOST_AUTO_TEST_SUITE_END()
