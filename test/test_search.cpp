// dive encode + dive search end to end on a tiny synthetic precomp split with a randomly initialised
// model saved as a checkpoint: the index holds encode_split's embeddings, search ranks by
// model::similarity_matrix, and the errors (missing files, K/D mismatch, bad ids, empty queries).
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "test/cli_util.h"
#include "test/test_util.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "lib/core/error.h"
#include "lib/core/rng.h"
#include "lib/ops/ops.h"
#include "model/retrieval.h"
#include "tools/run/checkpoint.h"
#include "tools/run/embedding_index.h"
#include "tools/run/session.h"

namespace fs = std::filesystem;
using namespace dive;

namespace {

using dive::test::read_bytes;
using dive::test::write_bytes;
struct TmpDir : dive::test::TempDir {
  explicit TmpDir(const std::string& tag = "x") : dive::test::TempDir("search_" + tag) {}
};


model::ModelConfig tiny_config(int64_t vocab_size, int64_t img_k = 2, int64_t txt_k = 3) {
  model::ModelConfig c;
  c.img_dim = 8; c.embed_size = 6; c.word_dim = 4; c.vocab_size = vocab_size;
  c.img_num_embeds = img_k; c.txt_num_embeds = txt_k;
  c.spm_depth = 1; c.spm_heads = 2; c.spm_dim_head = 3; c.spm_ff_mult = 1;
  return c;
}

void save_model(const std::string& path, model::ModelConfig c, uint64_t seed) {
  manual_seed(seed);
  model::DiveModel m(c);
  model::OptionSet opts;
  model::add_model_options(opts, c);
  tools::TrainState st;
  st.options = opts.dump();
  tools::save_checkpoint(path, m, nullptr, st);
}

boost::json::object read_json(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return boost::json::parse(ss.str()).as_object();
}

// `dive search` with these flags exits 0 (its output is shown otherwise).
bool search_ok(const std::vector<std::string>& args) {
  test::CliResult r = test::run_dive("search", args);
  if (r.status != 0) BOOST_TEST_MESSAGE("dive search failed:\n" << r.output);
  return r.status == 0;
}

// Ids of a score row sorted best first (ties: lower id first), as search promises.
std::vector<int64_t> ranking(const std::vector<float>& s) {
  std::vector<int64_t> o(s.size());
  std::iota(o.begin(), o.end(), 0);
  std::stable_sort(o.begin(), o.end(), [&](int64_t a, int64_t b) { return s[size_t(a)] > s[size_t(b)]; });
  return o;
}

struct Fixture {
  TmpDir t{"e2e"};
  std::string pre, ckpt, index;
  model::ModelConfig cfg;
  Fixture() {
    data::SynthOptions o;
    o.seed = 11; o.train = 1; o.dev = 1; o.test = 7; o.regions = 5; o.feature_dim = 8; o.images = false;
    data::write_synth_dataset(t.dir.string(), o);
    pre = t / "precomp";
    ckpt = t / "model.safetensors";
    index = t / "index";
    cfg = tiny_config(data::Vocabulary::load(pre + "/vocab.txt").size());
    save_model(ckpt, cfg, 21);
    test::CliResult r = test::run_dive("encode", {"--checkpoint", ckpt, "--data_path", pre, "--vocab_path", pre,
                                                  "--split", "test", "--out", index, "--batch_size_eval", "4"});
    BOOST_REQUIRE_MESSAGE(r.status == 0, r.output);
  }
  std::vector<std::string> search_args(std::vector<std::string> extra) const {
    std::vector<std::string> a = {"--index", index, "--checkpoint", ckpt, "--vocab_path", pre};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(search)

BOOST_AUTO_TEST_CASE(encode_writes_the_split_embeddings) {
  Fixture f;
  tools::EmbeddingIndex x = tools::load_index(f.index);
  BOOST_TEST(x.img.size(0) == 7);
  BOOST_TEST(x.img.size(1) == 2);
  BOOST_TEST(x.img.size(2) == 6);
  BOOST_TEST(x.txt.size(0) == 35);
  BOOST_TEST(x.txt.size(1) == 3);
  BOOST_TEST(x.meta.split == "test");
  BOOST_TEST(x.meta.eval_similarity == f.cfg.eval_similarity);
  BOOST_TEST(x.meta.img_dim == 8);
  data::PrecompDataset ds = data::PrecompDataset::open(f.pre, "test");
  for (int64_t j = 0; j < 35; ++j) BOOST_TEST(x.captions[size_t(j)] == ds.caption(j));
  // The same numbers as encoding in-process with the checkpoint's weights and the same batches.
  model::DiveModel m(f.cfg);
  tools::load_checkpoint(f.ckpt, m, nullptr);
  data::Vocabulary vocab = data::Vocabulary::load(f.pre + "/vocab.txt");
  tools::Encoded e = tools::encode_split(m, ds, vocab, kCPU, 4);
  BOOST_TEST(x.img.to_vector<float>() == e.img.to_vector<float>(), boost::test_tools::per_element());
  BOOST_TEST(x.txt.to_vector<float>() == e.txt.to_vector<float>(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(image_query_ranks_like_similarity_matrix) {
  Fixture f;
  tools::EmbeddingIndex x = tools::load_index(f.index);
  Tensor s = model::similarity_matrix(x.img, x.txt, f.cfg.eval_similarity, f.cfg.temperature, f.cfg.denominator);
  for (int64_t img : {0, 3, 6}) {
    const std::string out = f.t / ("hits" + std::to_string(img) + ".json");
    BOOST_REQUIRE(search_ok(f.search_args({"--image_id", std::to_string(img), "--topk", "35", "--json", out})));
    boost::json::object doc = read_json(out);
    const boost::json::array& hits = doc.at("hits").as_array();
    BOOST_REQUIRE(hits.size() == 35u);
    std::vector<float> row = s.select(0, img).to_vector<float>();
    std::vector<int64_t> want = ranking(row);
    for (size_t r = 0; r < hits.size(); ++r) {
      const boost::json::object& h = hits[r].as_object();
      const int64_t id = h.at("id").as_int64();
      BOOST_TEST(id == want[r], "image " << img << " rank " << r + 1);
      BOOST_TEST(h.at("score").to_number<double>() == double(row[size_t(id)]), boost::test_tools::tolerance(1e-6));
      BOOST_TEST(h.at("match").as_bool() == (id / 5 == img));
      BOOST_TEST(std::string(h.at("caption").as_string()) == x.captions[size_t(id)]);
    }
  }
  // --topk larger than the index is clamped.
  BOOST_TEST(search_ok(f.search_args({"--image_id", "0", "--topk", "1000"})));
}

BOOST_AUTO_TEST_CASE(text_query_scores_the_encoded_caption) {
  Fixture f;
  tools::EmbeddingIndex x = tools::load_index(f.index);
  const std::string query = x.captions[7];
  const std::string out = f.t / "text.json";
  BOOST_REQUIRE(search_ok(f.search_args({"--text", query, "--topk", "7", "--json", out})));
  // In-process: the query alone as a batch of one caption, scored against every image.
  model::DiveModel m(f.cfg);
  tools::load_checkpoint(f.ckpt, m, nullptr);
  m.eval();
  data::Vocabulary vocab = data::Vocabulary::load(f.pre + "/vocab.txt");
  std::vector<int64_t> ids = vocab.encode(query);
  const int64_t T = int64_t(ids.size());
  Tensor q;
  {
    NoGradGuard ng;
    q = m.encode_captions(Tensor::from_vector(ids, {1, T}), Tensor::from_vector<int64_t>({T}, {1})).emb;
  }
  std::vector<float> row =
      model::similarity_matrix(x.img, q, f.cfg.eval_similarity, f.cfg.temperature, f.cfg.denominator).to_vector<float>();
  std::vector<int64_t> want = ranking(row);
  const boost::json::object doc = read_json(out);
  const boost::json::array& hits = doc.at("hits").as_array();
  BOOST_REQUIRE(hits.size() == 7u);
  for (size_t r = 0; r < hits.size(); ++r) {
    const boost::json::object& h = hits[r].as_object();
    BOOST_TEST(h.at("id").as_int64() == want[r]);
    BOOST_TEST(h.at("score").to_number<double>() == double(row[size_t(want[r])]), boost::test_tools::tolerance(1e-6));
    BOOST_TEST(std::string(h.at("caption").as_string()) == x.captions[size_t(5 * want[r])]);
  }
  // Only unknown words: a warning, still a ranking.
  BOOST_TEST(search_ok(f.search_args({"--text", "zzzz qqqq", "--topk", "3"})));
}

BOOST_AUTO_TEST_CASE(errors) {
  Fixture f;
  test::expect_cli_error("search", f.search_args({"--text", "   "}), {"has no words"});
  test::expect_cli_error("search", f.search_args({"--text", ""}), {"has no words"});
  test::expect_cli_error("search", f.search_args({"--image_id", "7"}), {"--image_id 7", "out of range", "7 images"});
  test::expect_cli_error("search", f.search_args({}), {"exactly one of"});
  test::expect_cli_error("search", f.search_args({"--text", "a red circle", "--image_id", "1"}), {"exactly one of"});
  // An index encoded with another K.
  const std::string other = f.t / "k3.safetensors";
  save_model(other, tiny_config(f.cfg.vocab_size, 3, 3), 5);
  test::expect_cli_error("search", {"--index", f.index, "--checkpoint", other, "--vocab_path", f.pre, "--image_id", "0"}, {"K=2", "K=3", "img_num_embeds", "encode the split again"});
  // Missing files.
  fs::copy(f.index, f.t / "partial");
  fs::remove(f.t / "partial/txt_emb.npy");
  test::expect_cli_error("search", {"--index", f.t / "partial", "--checkpoint", f.ckpt, "--vocab_path", f.pre, "--image_id", "0"}, {"partial", "missing txt_emb.npy", "dive encode"});
  test::expect_cli_error("search", {"--index", f.t / "nowhere", "--checkpoint", f.ckpt, "--vocab_path", f.pre, "--image_id", "0"}, {"nowhere", "missing meta.json"});
  test::expect_cli_error("encode", {"--checkpoint", f.ckpt, "--data_path", f.pre, "--vocab_path", f.pre}, {"--out"});
}

BOOST_AUTO_TEST_SUITE_END()
