// One DivE training step (forward, backward, clip, AdamW), timed, at one of two configs:
//   butd  (default) the official COCO BUTD config: 36 regions of 2048, captions of 6-12 tokens;
//   cnn18 the ResNet-18 branch on raw 64x64 images (img_finetune), embed 256, word_dim 128, K = 4.
// Prints one JSON line: {"impl": "dive", "batch": B, ..., "step_ms": [...], "spm_attention": the flag,
// "attention": "img X, txt Y" (the form each tower ran), ...}.
// Usage: bench_train_step BATCH STEPS [device] [nondet] [--config butd|cnn18] [--spm_attention auto|folded|unfolded]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/step_bench.h"
#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"
#include "lib/optim/optimizer.h"
#include "model/vse.h"

using namespace dive;

namespace {

// The official optimizer groups: the image side and the text set module at lr 1e-4 (the CNN at the base
// lr), text embedding + GRU at 1e-3; weight decay 1e-4.
optim::Adam official_optimizer(model::DiveModel& m, bool cnn) {
  optim::ParamGroup img{"img", {}, 1e-4, 1e-4, 1e-4}, txt{"txt", {}, 1e-3, 1e-3, 1e-4},
      txt_spm{"txt_spm", {}, 1e-4, 1e-4, 1e-4}, backbone{"cnn", {}, 1e-3, 1e-3, 1e-4};
  for (auto& [name, p] : m.named_parameters()) {
    if (cnn && name.rfind("img_enc.cnn.", 0) == 0) backbone.params.push_back(p);
    else if (name.rfind("img_enc.", 0) == 0) img.params.push_back(p);
    else if (name.rfind("txt_enc.spm.", 0) == 0) txt_spm.params.push_back(p);
    else txt.params.push_back(p);
  }
  std::vector<optim::ParamGroup> groups{img, txt, txt_spm};
  if (cnn) groups.push_back(backbone);
  return optim::Adam(groups, true);
}

model::Batch synthetic_batch(const model::ModelConfig& cfg, bool cnn, int64_t B, Device dev) {
  const int64_t N = 36, T = 12, C = 5 * B;
  model::Batch b;
  if (cnn) {
    b.images = Tensor::randn({B, 3, 64, 64}, 0, 1, DType::f32, dev);
  } else {
    b.images = Tensor::randn({B, N, cfg.img_dim}, 0, 1, DType::f32, dev);
    b.img_lengths = Tensor::full({B}, double(N), DType::i64, dev);
  }
  std::vector<int64_t> caps(static_cast<size_t>(C * T), 0), lens(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    lens[size_t(c)] = 6 + (c * 7) % (T - 5);  // 6..12 tokens, unsorted
    caps[size_t(c * T)] = 1;
    for (int64_t t = 1; t < lens[size_t(c)] - 1; ++t) caps[size_t(c * T + t)] = 4 + (c * 131 + t * 17) % (cfg.vocab_size - 5);
    caps[size_t(c * T + lens[size_t(c)] - 1)] = 2;
  }
  b.captions = Tensor::from_vector(caps, {C, T}, dev);
  b.cap_lengths = Tensor::from_vector(lens, {C}, dev);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  // flags first (anywhere after the positional arguments), then the positional ones
  std::string config = "butd", attention = "auto";
  std::vector<char*> pos;
  for (int i = 0; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--config") == 0 && has_value) config = argv[++i];
    else if (std::strcmp(argv[i], "--spm_attention") == 0 && has_value) attention = argv[++i];
    else pos.push_back(argv[i]);
  }
  const int n = int(pos.size());
  int64_t B = n > 1 ? std::atoll(pos[1]) : 32;
  int steps = n > 2 ? std::atoi(pos[2]) : 5;
  try {
    Device dev = Device::parse(n > 3 ? pos[3] : "cpu");
    const char* mode = bench::apply_gpu_mode(n, pos.data(), 4);
    DIVE_CHECK(config == "butd" || config == "cnn18", "--config: expected butd or cnn18, got '", config, "'");
    const bool cnn = config == "cnn18";
    model::ModelConfig cfg;  // train_eval_coco.sh defaults (dropout 0.1, K = 4, depth 4 shared, 4 x 512 heads)
    model::OptionSet opts;
    model::add_model_options(opts, cfg);
    opts.set("spm_attention", attention, "--spm_attention");
    if (cnn) {
      cfg.cnn_type = "resnet18";
      cfg.img_finetune = true;
      cfg.embed_size = 256;
      cfg.word_dim = 128;
    }
    manual_seed(0);
    model::DiveModel m(cfg);
    m.to(dev);
    m.train();
    std::vector<Tensor> params = m.parameters();
    optim::Adam opt = official_optimizer(m, cnn);
    const model::Batch b = synthetic_batch(cfg, cnn, B, dev);

    double loss = 0;
    std::string times = bench::timed_steps(steps, dev, [&] {
      opt.zero_grad();
      model::StepOutput o = m.forward(b);
      o.loss.total.backward();
      optim::clip_grad_norm(params, 1.0);
      opt.step();
      loss = o.loss.total.item<double>();
    });
    auto [img, txt] = m.aggregation_blocks();
    std::printf("{%s, \"config\": \"%s\", \"spm_attention\": \"%s\", \"attention\": \"img %s, txt %s\", "
                "\"loss\": %.6f}\n",
                bench::step_fields(B, dev, mode, times).c_str(), config.c_str(), attention.c_str(),
                img ? img->last_attention_form().c_str() : "-", txt ? txt->last_attention_form().c_str() : "-", loss);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
