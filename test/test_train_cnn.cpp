// The CNN branch on raw images end to end (dive synth PNGs + Karpathy JSON): the image loader (decoding
// and transforms in the workers, seeded per image), ResNet-18 + set module learning a batch, a short
// run_training, the optimizer's CNN group (frozen without --img_finetune), dive eval/encode on the
// checkpoint, bad input.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "data/dataset.h"
#include "data/synth.h"
#include "lib/core/rng.h"
#include "lib/io/safetensors.h"
#include "lib/optim/optimizer.h"
#include "test/cli_util.h"
#include "test/test_util.h"
#include "tools/run/session.h"
#include "tools/run/train.h"

using namespace dive;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kCrop = 64;

// 8 training images: one batch per epoch, so that a few steps see the same images (new augmentations).
struct TinyImages : test::TempDir {
  TinyImages() : test::TempDir("train_cnn") {
    data::SynthOptions o;
    o.seed = 5;
    o.train = 8;
    o.dev = 8;
    o.test = 6;
    o.image_size = kCrop;
    o.regions = 5;
    o.feature_dim = 4;
    data::write_synth_dataset(dir.string(), o);
  }
  std::string vocab() const { return path("precomp/vocab.txt"); }
  std::string png(const std::string& split, int i) const {
    char name[32];
    std::snprintf(name, sizeof name, "images/%s/%05d.png", split.c_str(), i);
    return path(name);
  }
};

model::ModelConfig tiny_cnn() {
  model::ModelConfig c;
  c.cnn_type = "resnet18";
  c.img_finetune = true;
  c.crop_size = kCrop;
  c.embed_size = 32;
  c.word_dim = 16;
  c.img_num_embeds = c.txt_num_embeds = 2;
  c.spm_depth = 1;
  c.spm_heads = 2;
  c.spm_dim_head = 8;
  c.max_violation = false;  // learns from random init (docs/MODEL.md §8)
  return c;
}

tools::TrainOptions tiny_train(const TinyImages& d, const std::string& run) {
  tools::TrainOptions o;
  o.data_name = "synth";
  o.data_path = d.dir.string();
  o.vocab_path = d.vocab();
  o.logger_name = d.path(run);
  o.batch_size = 8;
  o.num_epochs = 3;
  o.workers = 2;
  o.log_step = 1000;
  o.lr = 2e-3;
  o.img_pie_lr_scale = o.txt_pie_lr_scale = 1;
  o.caption_drop_prob = 0;
  o.seed = 2;
  return o;
}

// What `dive train` stores in the checkpoint (eval/encode rebuild the model from it).
std::string options_dump(model::ModelConfig c, tools::TrainOptions o) {
  model::OptionSet s;
  model::add_model_options(s, c);
  tools::add_train_options(s, o);
  return s.dump();
}

std::map<std::string, Tensor> checkpoint_params(const std::string& ckpt, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (auto& [k, v] : io::load_safetensors(ckpt).tensors)
    if (k.rfind("model." + prefix, 0) == 0) out[k.substr(6)] = v;
  return out;
}

// The untrained model of run_training (same seed, same construction order).
std::map<std::string, Tensor> initial_params(model::ModelConfig c, int64_t seed, int64_t vocab_size) {
  c.vocab_size = vocab_size;
  manual_seed(uint64_t(seed));
  model::DiveModel m(c);
  std::map<std::string, Tensor> out;
  for (auto& [k, v] : m.named_parameters()) out[k] = v.clone();
  return out;
}

bool same(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(), a.nbytes()) == 0;
}

using test::expect_error;

std::vector<data::Batch> epoch_batches(const data::ImageDataset& ds, const data::Vocabulary& v, data::LoaderOptions lo) {
  data::Loader loader(ds, v, lo);
  loader.start_epoch(3);
  std::vector<data::Batch> out;
  data::Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(training_cnn)

BOOST_AUTO_TEST_CASE(image_loader_transforms_in_workers_seeded_per_image) {
  TinyImages d;
  data::Vocabulary vocab = data::Vocabulary::load(d.vocab());
  data::ImageDataset ds = data::ImageDataset::open(d.path("dataset_synth.json"), d.dir.string(), "train");
  BOOST_TEST(ds.num_images() == 8);
  data::LoaderOptions lo;
  lo.batch_size = 3;
  lo.seed = 7;
  lo.crop_size = kCrop;
  lo.workers = 0;
  std::vector<data::Batch> serial = epoch_batches(ds, vocab, lo);
  lo.workers = 2;
  std::vector<data::Batch> threaded = epoch_batches(ds, vocab, lo);
  BOOST_TEST_REQUIRE(serial.size() == 3u);
  BOOST_TEST_REQUIRE(threaded.size() == 3u);
  for (size_t b = 0; b < serial.size(); ++b) {
    const data::Batch& x = serial[b];
    BOOST_TEST(x.image_ids == threaded[b].image_ids);
    BOOST_TEST((x.images.shape() == Shape{int64_t(x.image_ids.size()), 3, kCrop, kCrop}));
    BOOST_TEST(!x.img_lengths.defined());
    BOOST_TEST(same(x.images, threaded[b].images), "batch " << b << " differs with 2 workers");
    BOOST_TEST(same(x.captions, threaded[b].captions));
    // each image is the training transform drawn from sample_rng(seed, epoch, image)
    for (size_t k = 0; k < x.image_ids.size(); ++k) {
      std::mt19937_64 rng = data::sample_rng(7, 3, x.image_ids[k]);
      BOOST_TEST(same(x.images.select(0, int64_t(k)), ds.load(x.image_ids[k], kCrop, &rng)));
    }
  }
  // evaluation: the test transform, no randomness
  lo.train = false;
  lo.shuffle = false;
  std::vector<data::Batch> test = epoch_batches(ds, vocab, lo);
  BOOST_TEST(same(test[0].images.select(0, 1), ds.load(1, kCrop, nullptr)));
}

BOOST_AUTO_TEST_CASE(steps_on_one_batch_lower_the_loss) {
  // Each training step sees new random crops, so over a few steps the loss of run_training is noise;
  // repeated steps on one loader batch (train transform) show that the CNN branch learns.
  TinyImages d;
  data::Vocabulary vocab = data::Vocabulary::load(d.vocab());
  data::ImageDataset ds = data::ImageDataset::open(d.path("dataset_synth.json"), d.dir.string(), "train");
  data::LoaderOptions lo;
  lo.batch_size = 8;
  lo.crop_size = kCrop;
  lo.caption_drop_prob = 0;
  data::Loader loader(ds, vocab, lo);
  data::Batch b;
  BOOST_TEST_REQUIRE(loader.next(b));
  model::ModelConfig c = tiny_cnn();
  c.vocab_size = vocab.size();
  c.dropout = c.img_1x1_dropout = 0;
  manual_seed(3);
  model::DiveModel m(c);
  m.train();
  optim::Adam opt({{"all", m.parameters(), 1e-3, 1e-3, 0}}, true);
  std::vector<double> losses;
  for (int step = 0; step < 8; ++step) {
    opt.zero_grad();
    Tensor loss = m.forward(tools::to_model_batch(b, kCPU)).loss.total;
    loss.backward();
    opt.step();
    losses.push_back(loss.item<double>());
  }
  std::string curve;
  for (double l : losses) curve += " " + std::to_string(l);
  BOOST_TEST_MESSAGE("losses on one batch:" << curve);
  BOOST_TEST(losses.back() < 0.75 * losses.front(), "losses on one batch:" << curve);
}

BOOST_AUTO_TEST_CASE(training_run_then_eval_and_encode) {
  TinyImages d;
  tools::TrainOptions o = tiny_train(d, "run");
  const model::ModelConfig c = tiny_cnn();
  tools::TrainResult r = tools::run_training(c, o, options_dump(c, o));
  BOOST_TEST(r.steps == 3);
  BOOST_TEST((std::isfinite(r.first_loss) && std::isfinite(r.last_loss)));
  BOOST_TEST(r.last_eval.rsum > 0);  // validation ran on the raw-image val split
  // with --img_finetune the CNN (its own group, base lr) moves
  const std::string ckpt = d.path("run/checkpoint_last.safetensors");
  auto init = initial_params(c, o.seed, data::Vocabulary::load(d.vocab()).size());
  auto cnn = checkpoint_params(ckpt, "img_enc.cnn.");
  BOOST_TEST(!same(cnn.at("img_enc.cnn.conv1.weight"), init.at("img_enc.cnn.conv1.weight")));
  BOOST_TEST(!same(cnn.at("img_enc.cnn.layer4.1.bn2.weight"), init.at("img_enc.cnn.layer4.1.bn2.weight")));
  // the commands read the raw images through the checkpoint's options (cnn_type, data_name, crop_size)
  const std::string json = d.path("eval.json");
  BOOST_TEST(test::run_dive("eval", {"--checkpoint", ckpt, "--data_path", d.dir.string(), "--vocab_path", d.vocab(),
                              "--split", "test", "--json", json}).status == 0);
  BOOST_TEST(test::read_bytes(json).find("\"6 images\"") != std::string::npos, test::read_bytes(json));
  BOOST_TEST(test::run_dive("encode", {"--checkpoint", ckpt, "--data_path", d.dir.string(), "--vocab_path", d.vocab(),
                                "--split", "val", "--out", d.path("index")}).status == 0);
  BOOST_TEST(fs::exists(d.path("index/img_emb.npy")));
}

BOOST_AUTO_TEST_CASE(frozen_cnn_gets_no_updates) {
  TinyImages d;
  tools::TrainOptions o = tiny_train(d, "frozen");
  o.max_steps = 2;
  model::ModelConfig c = tiny_cnn();
  c.img_finetune = false;
  tools::run_training(c, o, "");
  auto init = initial_params(c, o.seed, data::Vocabulary::load(d.vocab()).size());
  auto trained = checkpoint_params(d.path("frozen/checkpoint_last.safetensors"), "img_enc.");
  size_t cnn = 0;
  for (auto& [k, v] : trained) {
    if (!init.count(k)) continue;  // BatchNorm buffers (running statistics still move in training mode)
    bool in_cnn = k.rfind("img_enc.cnn.", 0) == 0;
    cnn += in_cnn;
    if (in_cnn) BOOST_TEST(same(v, init.at(k)), k << " changed without --img_finetune");
  }
  BOOST_TEST(cnn == 60u);  // resnet18 without fc: 20 convolutions (no bias) and 20 BatchNorms (weight, bias)
  BOOST_TEST(!same(trained.at("img_enc.fc.weight"), init.at("img_enc.fc.weight")));
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_file) {
  TinyImages d;
  data::Vocabulary vocab = data::Vocabulary::load(d.vocab());
  const std::string json = d.path("dataset_synth.json");
  data::LoaderOptions lo;
  lo.batch_size = 4;
  lo.crop_size = kCrop;
  auto first_epoch = [&](const data::ImageDataset& ds) {
    data::Loader loader(ds, vocab, lo);
    data::Batch b;
    while (loader.next(b)) {
    }
  };
  data::ImageDataset ds = data::ImageDataset::open(json, d.dir.string(), "train");
  fs::remove(d.png("train", 2));
  expect_error([&] { first_epoch(ds); }, {d.png("train", 2), "no such file"});
  test::write_bytes(d.png("train", 2), "not a png at all");
  expect_error([&] { first_epoch(ds); }, {d.png("train", 2), "cannot decode"});
  // a JSON without the split, an unknown split, a folder without the JSON
  const std::string only_train = d.write("only_train.json", "{\"images\": [{\"filepath\": \"images/train\", "
      "\"filename\": \"00000.png\", \"split\": \"train\", \"sentences\": [{\"raw\": \"a\"}, {\"raw\": \"b\"}, "
      "{\"raw\": \"c\"}, {\"raw\": \"d\"}, {\"raw\": \"e\"}]}]}");
  expect_error([&] { data::ImageDataset::open(only_train, d.dir.string(), "test"); },
               {"only_train.json", "no images in split 'test'"});
  expect_error([&] { data::ImageDataset::open(json, d.dir.string(), "testall"); }, {"unknown split", "testall"});
  model::ModelConfig c = tiny_cnn();
  expect_error([&] { tools::open_split(c, "synth", d.path("precomp"), "train"); },
               {"precomp/dataset_synth.json", "cannot open"});
  // the data kind must fit the image tower
  expect_error([&] { tools::open_split(c, "coco_butd", d.dir.string(), "train"); },
               {"--data_name coco_butd", "--cnn_type none"});
  c.cnn_type = "none";
  expect_error([&] { tools::open_split(c, "f30k", d.dir.string(), "train"); }, {"--data_name f30k", "--cnn_type"});
  expect_error([&] { tools::role_split(c, "coco", "train"); }, {"--data_name coco", "--cnn_type"});
}

// --cnn_weights: torchvision names (as tools/convert/convert_torchvision.py --prefix '' writes them) or the
// img_enc.cnn. prefix load 1:1; the head is ignored; a missing file only warns; a wrong shape is an error.
BOOST_AUTO_TEST_CASE(cnn_weights_load_imagenet_style_files) {
  test::TempDir d("cnn_weights");
  model::ModelConfig c = tiny_cnn();
  c.vocab_size = 20;
  manual_seed(1);
  model::DiveModel src(c);
  std::map<std::string, Tensor> bare, prefixed;
  for (auto& [k, v] : src.state_dict())
    if (k.rfind("img_enc.cnn.", 0) == 0) {
      bare[k.substr(12)] = v;
      prefixed[k] = v;
    }
  bare["fc.weight"] = Tensor::zeros({1000, 512});  // an ImageNet head: not part of the DivE CNN
  io::save_safetensors(d.path("bare.safetensors"), bare);
  io::save_safetensors(d.path("prefixed.safetensors"), prefixed);
  for (const char* f : {"bare.safetensors", "prefixed.safetensors"}) {
    manual_seed(2);
    model::DiveModel m(c);
    tools::load_cnn_weights(m, d.path(f));
    auto sd = m.state_dict();
    for (auto& [k, v] : prefixed) BOOST_TEST(same(sd.at(k), v), k << " not loaded from " << f);
    BOOST_TEST(!same(sd.at("img_enc.fc.weight"), src.state_dict().at("img_enc.fc.weight")));  // only the CNN
  }
  manual_seed(2);
  model::DiveModel m(c);
  BOOST_CHECK_NO_THROW(tools::load_cnn_weights(m, d.path("missing.safetensors")));  // a warning
  bare["layer1.0.conv1.weight"] = Tensor::zeros({64, 64, 1, 1});
  io::save_safetensors(d.path("bad.safetensors"), bare);
  expect_error([&] { tools::load_cnn_weights(m, d.path("bad.safetensors")); },
               {"bad.safetensors", "layer1.0.conv1.weight", "[64, 64, 3, 3]"});
}

BOOST_AUTO_TEST_SUITE_END()
