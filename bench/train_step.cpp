// One DivE training step (forward, backward, clip, AdamW) at the default COCO BUTD config, timed.
// Prints one JSON line: {"impl": "dive", "batch": B, "step_ms": [...], "peak_rss_mb": ...}.
// Usage: bench_train_step BATCH STEPS [device] [nondet]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/step_bench.h"
#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"
#include "lib/optim/optimizer.h"
#include "model/vse.h"

using namespace dive;

int main(int argc, char** argv) {
  int64_t B = argc > 1 ? std::atoll(argv[1]) : 32;
  int steps = argc > 2 ? std::atoi(argv[2]) : 5;
  Device dev = Device::parse(argc > 3 ? argv[3] : "cpu");
  const char* mode = bench::apply_gpu_mode(argc, argv, 4);
  model::ModelConfig cfg;  // train_eval_coco.sh defaults (dropout 0.1, K = 4, depth 4 shared, 4 x 512 heads)
  manual_seed(0);
  model::DiveModel m(cfg);
  m.to(dev);
  m.train();
  // official groups: image side and text set module at lr 1e-4, text embedding + GRU at 1e-3; wd 1e-4
  optim::ParamGroup img{"img", {}, 1e-4, 1e-4, 1e-4}, txt{"txt", {}, 1e-3, 1e-3, 1e-4}, txt_spm{"txt_spm", {}, 1e-4, 1e-4, 1e-4};
  for (auto& [name, p] : m.named_parameters()) {
    if (name.rfind("img_enc.", 0) == 0) img.params.push_back(p);
    else if (name.rfind("txt_enc.spm.", 0) == 0) txt_spm.params.push_back(p);
    else txt.params.push_back(p);
  }
  std::vector<Tensor> params = m.parameters();
  optim::Adam opt({img, txt, txt_spm}, true);

  const int64_t N = 36, T = 12, C = 5 * B;
  model::Batch b;
  b.images = Tensor::randn({B, N, cfg.img_dim}, 0, 1, DType::f32, dev);
  b.img_lengths = Tensor::full({B}, double(N), DType::i64, dev);
  std::vector<int64_t> caps(static_cast<size_t>(C * T), 0), lens(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    lens[size_t(c)] = 6 + (c * 7) % (T - 5);  // 6..12 tokens, unsorted
    caps[size_t(c * T)] = 1;
    for (int64_t t = 1; t < lens[size_t(c)] - 1; ++t) caps[size_t(c * T + t)] = 4 + (c * 131 + t * 17) % (cfg.vocab_size - 5);
    caps[size_t(c * T + lens[size_t(c)] - 1)] = 2;
  }
  b.captions = Tensor::from_vector(caps, {C, T}, dev);
  b.cap_lengths = Tensor::from_vector(lens, {C}, dev);

  double loss = 0;
  std::string times = bench::timed_steps(steps, dev, [&] {
    opt.zero_grad();
    model::StepOutput o = m.forward(b);
    o.loss.total.backward();
    optim::clip_grad_norm(params, 1.0);
    opt.step();
    loss = o.loss.total.item<double>();
  });
  std::printf("{%s, \"loss\": %.6f}\n", bench::step_fields(B, dev, mode, times).c_str(), loss);
  return 0;
}
