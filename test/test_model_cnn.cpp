// Model parity with PyTorch for the CNN image branch (docs/MODEL.md §2.6, cnn_type resnet18, img_finetune,
// 2-D sine key PE, max-pooled global feature) at tiny dims (embed 16, word_dim 12, vocab 50, K 2,
// depth 1, 2 heads x 8, dropouts 0), images [2, 3, 64, 64] (2 x 2 grid cells), captions [10, 5].
// As test_model_default.cpp: both sides set every weight (the ResNet's included) from the closed-form
// formula (tools::deterministic_init / test/reference/det_init.py), the fixture holds embeddings,
// loss terms, BN running statistics after the step and gradient summaries (gradsum / gradproj /
// gradnoise) of PyTorch's float64 step; written by `python3 test/reference/make_cnn_fixture.py`.
// Tolerances are those of test_model_default.cpp (see there): float32 1e-4 relative (gradients:
// max(1e-4 ||r||, 10 * gradnoise)), float64 1e-6 for stored float32 tensors, 1e-7 ||r|| for gradients.
// Also: img_finetune off gives no ResNet gradient, bn_eval keeps the ResNet's running statistics,
// and a batch whose image layout does not match the configured branch is rejected by name.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>

#include "lib/io/safetensors.h"
#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"
#include "model/vse.h"
#include "test/det_fixture.h"
#include "tools/run/step.h"
#include "test/test_util.h"

using namespace dive;

namespace {

const test::DetFixture& fixture() {
  static const test::DetFixture f = test::load_det_fixture("test/data/model_cnn/", "cnn_resnet18");
  return f;
}

using test::rel_error;
using test::starts_with;
constexpr double kRelTol = 1e-4;

// the ResNet-18 parameters included (img_finetune)
void check(Device dev, DType dt) { test::check_det_fixture(fixture(), dev, dt, "cnn branch", 100); }

bool starts_with_any(const std::map<std::string, Tensor>& m, const std::string& p) {
  for (const auto& [k, v] : m)
    if (starts_with(k, p)) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(model_cnn)

BOOST_AUTO_TEST_CASE(config_and_names) {
  const model::ModelConfig& c = fixture().cfg;
  BOOST_TEST(c.cnn_type == "resnet18");
  BOOST_TEST(model::uses_cnn(c));
  BOOST_TEST(c.img_finetune);
  BOOST_TEST(c.spm_img_pos_enc_type == "sine");
  model::DiveModel m(c);
  BOOST_TEST(m.img_cnn != nullptr);
  BOOST_TEST(m.img_enc == nullptr);
  auto sd = m.state_dict();
  for (const char* k : {"img_enc.cnn.conv1.weight", "img_enc.cnn.layer4.1.bn2.running_var",
                        "img_enc.cnn.layer2.0.downsample.0.weight", "img_enc.fc.weight", "img_enc.mlp.bn.bn.weight",
                        "img_enc.spm.agg_block.latents"})
    BOOST_TEST(sd.count(k) == 1u, k);
  BOOST_TEST(sd.at("img_enc.fc.weight").shape() == (Shape{16, 512}));
  BOOST_TEST(sd.count("img_enc.cnn.fc.weight") == 0u);
  // the option parser knows the official names
  model::ModelConfig d;
  model::OptionSet o;
  model::add_model_options(o, d);
  BOOST_TEST(d.cnn_type == "none");
  BOOST_TEST(!model::uses_cnn(d));
  o.parse_args({"--cnn_type", "resnet152", "--img_finetune", "--bn_eval", "--crop_size", "256"});
  BOOST_TEST(model::cnn_depth(d) == 152);
  BOOST_TEST(d.img_finetune);
  BOOST_TEST(d.bn_eval);
  BOOST_TEST(d.crop_size == 256);
  BOOST_CHECK_THROW(o.parse_args({"--cnn_type", "resnet19"}), Error);
  model::ModelConfig butd_pe;
  butd_pe.spm_img_pos_enc_type = "sine";
  BOOST_CHECK_THROW(model::validate(butd_pe), Error);  // officially asserted: no image PE for BUTD
}

BOOST_AUTO_TEST_CASE(deterministic_init_is_bit_identical) {
  const test::DetFixture& f = fixture();
  model::DiveModel m(f.cfg);
  tools::deterministic_init(m);
  auto sd = m.state_dict();
  int checked = test::check_init_bits(f.expected, sd);
  BOOST_TEST(checked >= 100);
}

BOOST_AUTO_TEST_CASE(reference_backend) { check(kRef, DType::f32); }

BOOST_AUTO_TEST_CASE(cpu_backend, *boost::unit_test::precondition(test::cpu_backend_present)) {
  check(kCPU, DType::f32);
}

BOOST_AUTO_TEST_CASE(cpu_backend_f64) { check(kCPU, DType::f64); }

BOOST_AUTO_TEST_CASE(cuda_backend, *boost::unit_test::precondition(test::cuda_present)) {
  check(kCUDA, DType::f32);
}

// img_finetune off: the ResNet runs without autograd (officially requires_grad = False), every other
// parameter still gets its gradient; the ResNet's BN running statistics still move (train mode).
BOOST_AUTO_TEST_CASE(frozen_cnn_gets_no_gradient) {
  model::ModelConfig c = fixture().cfg;
  c.img_finetune = false;
  model::DiveModel m(c);
  tools::deterministic_init(m);
  const std::string rv = "img_enc.cnn.layer1.0.bn1.running_mean";
  Tensor before = m.state_dict().at(rv).to(kCPU).clone();
  auto got = tools::run_step(m, fixture().batch, kCPU, false);
  BOOST_TEST(!starts_with_any(got, "grad.img_enc.cnn."));
  BOOST_TEST(got.count("grad.img_enc.fc.weight") == 1u);
  BOOST_TEST(got.count("grad.img_enc.spm.agg_block.latents") == 1u);
  BOOST_TEST(got.count("grad.txt_enc.embed.weight") == 1u);
  for (const auto& [name, p] : m.named_parameters())
    if (starts_with(name, "img_enc.cnn.")) BOOST_TEST(!p.grad().defined(), name);
  // the forward values agree with the fine-tuned model (only gradients differ)
  BOOST_TEST(rel_error(got.at("img_emb"), fixture().expected.at("img_emb")) <= kRelTol);
  BOOST_TEST(rel_error(got.at("loss"), fixture().expected.at("loss")) <= kRelTol);
  BOOST_TEST(rel_error(got.at("after." + rv), before) > 1e-6);
}

// bn_eval: the ResNet's BatchNorms use and keep their running statistics during training; the image
// MLP's BatchNorm (not part of the CNN) still updates.
BOOST_AUTO_TEST_CASE(bn_eval_keeps_cnn_running_stats) {
  model::ModelConfig c = fixture().cfg;
  c.bn_eval = true;
  model::DiveModel m(c);
  tools::deterministic_init(m);
  std::map<std::string, Tensor> init;
  for (const auto& [k, t] : m.state_dict()) init[k] = t.to(kCPU).clone();
  auto got = tools::run_step(m, fixture().batch, kCPU, false);
  int n = 0;
  for (const auto& [k, t] : got) {
    if (!starts_with(k, "after.img_enc.cnn.")) continue;
    std::string key = k.substr(std::strlen("after."));
    BOOST_TEST(rel_error(t, init.at(key)) == 0.0, key << " changed under bn_eval");
    ++n;
  }
  BOOST_TEST(n == 3 * 20);  // resnet18: 20 BatchNorms x (running_mean, running_var, num_batches_tracked)
  const std::string mlp = "img_enc.mlp.bn.bn.running_mean";
  BOOST_TEST(rel_error(got.at("after." + mlp), init.at(mlp)) > 1e-6);
  BOOST_TEST(starts_with_any(got, "grad.img_enc.cnn."));  // bn_eval does not freeze the weights
  // the eval-mode BN in train mode changes the step: the loss differs from the fixture's
  BOOST_TEST(rel_error(got.at("loss"), fixture().expected.at("loss")) > 1e-6);
}

// The batch layout must match the configured branch; the message says which option to change.
BOOST_AUTO_TEST_CASE(layout_mismatch_is_reported) {
  const model::ModelConfig& cnn = fixture().cfg;
  std::map<std::string, Tensor> butd{{"images", Tensor::zeros({2, 3, 512}, DType::f32)},
                                     {"img_lengths", Tensor::from_vector<int64_t>({3, 2}, {2})},
                                     {"captions", Tensor::ones({10, 4}, DType::i64)},
                                     {"cap_lengths", Tensor::full({10}, 4.0, DType::i64)}};
  try {
    model::prepare_batch(butd, cnn, kCPU, "b.safetensors");
    BOOST_FAIL("a BUTD batch was accepted by the CNN branch");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("cnn_type none") != std::string::npos, e.what());
  }
  std::map<std::string, Tensor> raw = butd;
  raw["images"] = Tensor::zeros({2, 3, 64, 64}, DType::f32);
  raw.erase("img_lengths");
  BOOST_CHECK_NO_THROW(model::prepare_batch(raw, cnn, kCPU, "b.safetensors"));
  model::ModelConfig plain = cnn;
  plain.cnn_type = "none";
  plain.spm_img_pos_enc_type = "none";
  try {
    model::prepare_batch(raw, plain, kCPU, "b.safetensors");
    BOOST_FAIL("raw images were accepted by the BUTD branch");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("cnn_type resnet") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
