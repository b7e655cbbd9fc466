// Training end to end on a tiny synthetic dataset: resume continues exactly, and 30 steps lower the
// loss and raise recall over the untrained model.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "data/synth.h"
#include "lib/core/rng.h"
#include "lib/io/safetensors.h"
#include "tools/run/session.h"
#include "tools/run/train.h"

using namespace dive;
namespace fs = std::filesystem;

namespace {

struct TinyData {
  std::string root;
  TinyData() {
    root = (fs::temp_directory_path() / ("dive_train_test_" + std::to_string(::getpid()))).string();
    data::SynthOptions o;
    o.train = 96;
    o.dev = 40;
    o.test = 40;
    o.images = false;
    o.regions = 6;
    o.feature_dim = 32;
    data::write_synth_dataset(root, o);
  }
  ~TinyData() { fs::remove_all(root); }
  std::string precomp() const { return root + "/precomp"; }
};

model::ModelConfig tiny_model() {
  model::ModelConfig c;
  c.embed_size = 64;
  c.word_dim = 32;
  c.img_num_embeds = c.txt_num_embeds = 2;
  c.spm_depth = 1;
  c.spm_heads = 2;
  c.spm_dim_head = 16;
  c.max_violation = false;  // learns from random init (docs/MODEL.md §8)
  return c;
}

tools::TrainOptions tiny_train(const TinyData& d, const std::string& run) {
  tools::TrainOptions o;
  o.data_name = "synth";
  o.data_path = d.precomp();
  o.vocab_path = d.precomp() + "/vocab.txt";
  o.logger_name = d.root + "/" + run;
  o.batch_size = 16;
  o.num_epochs = 5;
  o.workers = 2;
  o.log_step = 1000;
  o.lr = 5e-3;
  o.img_pie_lr_scale = o.txt_pie_lr_scale = 1;
  o.seed = 4;
  return o;
}

std::map<std::string, Tensor> model_tensors(const std::string& ckpt) {
  std::map<std::string, Tensor> out;
  for (auto& [k, v] : io::load_safetensors(ckpt).tensors)
    if (k.rfind("model.", 0) == 0) out[k] = v;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(training)

BOOST_AUTO_TEST_CASE(resume_continues_exactly) {
  TinyData d;
  // uninterrupted: 9 steps (crosses the epoch boundary at 6 steps per epoch)
  tools::TrainOptions full = tiny_train(d, "full");
  full.max_steps = 9;
  tools::run_training(tiny_model(), full, "");
  // interrupted after 4 steps, then resumed to 9
  tools::TrainOptions first = tiny_train(d, "split");
  first.max_steps = 4;
  tools::run_training(tiny_model(), first, "");
  tools::TrainOptions second = tiny_train(d, "split");
  second.max_steps = 9;
  second.resume = d.root + "/split/checkpoint_last.safetensors";
  tools::run_training(tiny_model(), second, "");
  auto a = model_tensors(d.root + "/full/checkpoint_last.safetensors");
  auto b = model_tensors(d.root + "/split/checkpoint_last.safetensors");
  BOOST_TEST_REQUIRE(a.size() == b.size());
  for (auto& [k, v] : a) {
    std::vector<uint8_t> x(static_cast<const uint8_t*>(v.raw_data()), static_cast<const uint8_t*>(v.raw_data()) + v.nbytes());
    const Tensor& w = b.at(k);
    std::vector<uint8_t> y(static_cast<const uint8_t*>(w.raw_data()), static_cast<const uint8_t*>(w.raw_data()) + w.nbytes());
    BOOST_TEST((x == y), "parameter " << k << " differs after resume");
  }
}

BOOST_AUTO_TEST_CASE(thirty_steps_learn) {
  TinyData d;
  tools::TrainOptions o = tiny_train(d, "smoke");
  // the untrained model (same seed, so the same initial weights) on the validation split
  data::Vocabulary vocab = data::Vocabulary::load(o.vocab_path);
  data::PrecompDataset dev = data::PrecompDataset::open(o.data_path, "dev");
  model::ModelConfig c0 = tiny_model();
  c0.vocab_size = vocab.size();
  c0.img_dim = dev.feature_dim();
  manual_seed(uint64_t(o.seed));
  model::DiveModel m0(c0);
  tools::init_word_embeddings(m0, vocab, o.wemb_type, o.wemb_path);  // as run_training does
  double rsum0 = tools::evaluate(c0, tools::encode_split(m0, dev, vocab, kCPU)).back().second.rsum;
  o.max_steps = 30;
  auto r = tools::run_training(tiny_model(), o, "");
  BOOST_TEST(r.steps == 30);
  BOOST_TEST(r.last_loss < r.first_loss, "loss " << r.first_loss << " -> " << r.last_loss);
  BOOST_TEST_MESSAGE("rsum " << rsum0 << " -> " << r.last_eval.rsum);
  BOOST_TEST(r.last_eval.rsum > rsum0 + 30, "rsum " << rsum0 << " -> " << r.last_eval.rsum);
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_clear_errors) {
  TinyData d;
  tools::TrainOptions o = tiny_train(d, "bad");
  o.data_path = d.root + "/nowhere";
  BOOST_CHECK_EXCEPTION(tools::run_training(tiny_model(), o, ""), Error,
                        [](const Error& e) { return std::string(e.what()).find("nowhere") != std::string::npos; });
  // a checkpoint of another configuration
  tools::TrainOptions a = tiny_train(d, "cfg");
  a.max_steps = 1;
  tools::run_training(tiny_model(), a, "");
  tools::TrainOptions b = tiny_train(d, "cfg2");
  b.resume = d.root + "/cfg/checkpoint_last.safetensors";
  model::ModelConfig other = tiny_model();
  other.embed_size = 48;
  BOOST_CHECK_EXCEPTION(tools::run_training(other, b, ""), Error, [](const Error& e) {
    std::string m = e.what();
    return m.find("checkpoint_last.safetensors") != std::string::npos && m.find("wrong shape") != std::string::npos;
  });
}

BOOST_AUTO_TEST_SUITE_END()
