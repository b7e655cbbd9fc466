// The training loop of `dive train`, in the order of the official train.py: set up the data, the model,
// the optimizer groups and the run folder; then per epoch one pass over the loader (schedule, forward,
// backward, clipping, AdamW, progress and log.jsonl), a validation every --eval_epoch epochs that keeps
// checkpoint_best, and checkpoint_last at the end of every epoch and on an interrupt.
#include "tools/run/train.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"
#include "lib/optim/optimizer.h"
#include "tools/run/checkpoint.h"
#include "tools/run/session.h"

namespace dive::tools {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void on_sigint(int) { g_interrupted = 1; }

// Everything one training run holds between its steps.
struct Run {
  Run(model::ModelConfig c, Device d, data::Vocabulary v, SplitData train, SplitData val)
      : cfg(std::move(c)), dev(d), vocab(std::move(v)), train_ds(std::move(train)), val_ds(std::move(val)) {}
  model::ModelConfig cfg;
  Device dev;
  data::Vocabulary vocab;
  SplitData train_ds, val_ds;
  std::unique_ptr<model::DiveModel> m;
  std::unique_ptr<optim::Adam> opt;
  std::vector<Tensor> params;
  std::unique_ptr<data::Loader> loader;
  TrainState st;
  std::string last, best;  // checkpoint paths
  std::ofstream log;       // log.jsonl
  int64_t per_epoch = 0, total_steps = 0;
  TrainResult result;

  void save(const std::string& path) {
    st.rng_seed = default_generator().seed();
    st.rng_offset = default_generator().offset();
    save_checkpoint(path, *m, opt.get(), st);
  }
};

constexpr size_t kTxtGroup = 2;  // the group whose lr the progress line shows

// The official parameter groups (train.py): the image encoder without its CNN; the CNN at the base lr
// (empty for BUTD; without --img_finetune its parameters never get a gradient, so AdamW leaves them
// alone, weight decay included); the text encoder without its set module; the text set module.
std::unique_ptr<optim::Adam> official_optimizer(model::DiveModel& m, const TrainOptions& o) {
  optim::ParamGroup g_img{"img_enc", {}, 0, o.lr * o.img_pie_lr_scale, o.weight_decay};
  optim::ParamGroup g_cnn{"img_enc.cnn", {}, 0, o.lr, o.weight_decay};
  optim::ParamGroup g_txt{"txt_enc", {}, 0, o.lr * o.txt_lr_scale, o.weight_decay};
  optim::ParamGroup g_txt_spm{"txt_enc.spm", {}, 0, o.lr * o.txt_pie_lr_scale, o.weight_decay};
  for (auto& [name, p] : m.named_parameters()) {
    if (name.rfind("img_enc.cnn.", 0) == 0) g_cnn.params.push_back(p);
    else if (name.rfind("img_enc.", 0) == 0) g_img.params.push_back(p);
    else if (name.rfind("txt_enc.spm.", 0) == 0) g_txt_spm.params.push_back(p);
    else g_txt.params.push_back(p);
  }
  for (auto* g : {&g_img, &g_cnn, &g_txt, &g_txt_spm}) g->lr = g->initial_lr;
  return std::make_unique<optim::Adam>(std::vector<optim::ParamGroup>{g_img, g_cnn, g_txt, g_txt_spm},
                                       o.optimizer == "adamw");
}

// Data, model (word embeddings / ImageNet weights on a fresh run), optimizer, the resumed state, the run
// folder and the loader.
std::unique_ptr<Run> set_up(model::ModelConfig cfg, const TrainOptions& o, const std::string& options_dump) {
  Device dev = open_device(o.device, o.device_flags);
  data::Vocabulary vocab = data::Vocabulary::load(vocab_file(o.vocab_path));
  SplitData train_ds = open_split(cfg, o.data_name, o.data_path, role_split(cfg, o.data_name, "train"));
  SplitData val_ds = open_split(cfg, o.data_name, o.data_path, role_split(cfg, o.data_name, "val"));
  cfg.vocab_size = vocab.size();
  if (train_ds.precomp) cfg.img_dim = train_ds.precomp->feature_dim();
  std::printf("train: %s\nval:   %s\nvocabulary: %lld words\n", train_ds.describe().c_str(), val_ds.describe().c_str(),
              (long long)vocab.size());
  auto run = std::make_unique<Run>(cfg, dev, std::move(vocab), std::move(train_ds), std::move(val_ds));

  manual_seed(uint64_t(o.seed));
  run->m = std::make_unique<model::DiveModel>(cfg);
  model::DiveModel& m = *run->m;
  // official EncoderText.init_weights: U(-0.1, 0.1), or GloVe vectors where the vocabulary has them
  if (o.resume.empty()) init_word_embeddings(m, run->vocab, o.wemb_type, o.wemb_path);
  if (o.resume.empty() && cfg.cnn_type != "none") load_cnn_weights(m, o.cnn_weights);
  m.to(dev);
  std::printf("model: %lld parameters, K = %lld/%lld, device %s\n", (long long)m.num_parameters(),
              (long long)cfg.img_num_embeds, (long long)cfg.txt_num_embeds, dev.str().c_str());
  run->opt = official_optimizer(m, o);
  run->params = m.parameters();

  // the sizes come from the data: store them so that eval/encode rebuild the same model
  run->st.options = options_dump + "vocab_size = " + std::to_string(cfg.vocab_size) +
                    "\nimg_dim = " + std::to_string(cfg.img_dim) + "\n";
  if (!o.resume.empty()) {
    TrainState saved = load_checkpoint(o.resume, m, run->opt.get());
    run->st.epoch = saved.epoch;
    run->st.step = saved.step;
    run->st.best_rsum = saved.best_rsum;
    default_generator().manual_seed(saved.rng_seed);
    default_generator().set_offset(saved.rng_offset);
    std::printf("resumed from %s: epoch %lld, step %lld\n", o.resume.c_str(), (long long)saved.epoch,
                (long long)saved.step);
  }

  std::filesystem::create_directories(o.logger_name);
  run->last = o.logger_name + "/checkpoint_last.safetensors";
  run->best = o.logger_name + "/checkpoint_best.safetensors";
  run->log.open(o.logger_name + "/log.jsonl", std::ios::app);

  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.drop_last = o.drop_last;
  lo.workers = o.workers;
  lo.seed = uint64_t(o.seed);
  lo.caption_drop_prob = o.caption_drop_prob;
  lo.butd_drop_prob = o.butd_drop_prob;
  lo.crop_size = cfg.crop_size;
  run->loader = run->train_ds.loader(run->vocab, lo);
  run->per_epoch = run->loader->batches_per_epoch();
  run->total_steps = run->per_epoch * o.num_epochs;
  if (o.max_steps >= 0) run->total_steps = std::min(run->total_steps, o.max_steps);
  return run;
}

// The progress line and the log.jsonl record of a step.
void log_step(Run& run, Progress& bar, int64_t epoch, int64_t in_epoch, double loss, const model::LossTerms& l,
              double images_per_s) {
  char extra[256];
  std::snprintf(extra, sizeof extra, "%.1f img/s loss %.4f (i2t %.4f t2i %.4f mmd %.4f unif %.4f) lr %.2e",
                images_per_s, loss, l.i2t.item<double>(), l.t2i.item<double>(), l.mmd.item<double>(),
                l.unif.item<double>(), run.opt->groups()[kTxtGroup].lr);
  bar.update(in_epoch, extra);
  run.log << "{\"type\": \"step\", \"epoch\": " << epoch << ", \"step\": " << run.st.step << ", \"loss\": " << loss
          << ", \"i2t\": " << l.i2t.item<double>() << ", \"t2i\": " << l.t2i.item<double>()
          << ", \"mmd\": " << l.mmd.item<double>() << ", \"unif\": " << l.unif.item<double>()
          << ", \"images_per_s\": " << images_per_s << "}\n";
  run.log.flush();
}

enum class EpochEnd { complete, partial, interrupted, diverged };

// One pass over the training loader (the official train() of one epoch).
EpochEnd train_one_epoch(Run& run, const TrainOptions& o, int64_t epoch) {
  model::DiveModel& m = *run.m;
  m.train();
  if (o.tri_mean_to_max) m.cfg.max_violation = epoch >= o.warm_epoch;  // official tri_mean_to_max()
  run.loader->start_epoch(epoch);
  Progress bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.num_epochs), run.per_epoch);
  data::Batch db;
  int64_t in_epoch = 0, images = 0;
  auto t0 = std::chrono::steady_clock::now();
  // skip the batches a resumed run already consumed in this epoch (same order: seeded by epoch)
  int64_t skip = run.st.step - epoch * run.per_epoch;
  while (skip-- > 0 && run.loader->next(db)) ++in_epoch;
  while (run.st.step < run.total_steps && run.loader->next(db)) {
    if (o.lr_scheduler == "cosine") optim::cosine_schedule(*run.opt, run.st.step, run.per_epoch * o.num_epochs);
    else optim::step_schedule(*run.opt, epoch, o.lr_step_size, o.lr_step_gamma);
    run.opt->zero_grad();
    model::StepOutput out = m.forward(to_model_batch(db, run.dev));
    out.loss.total.backward();
    if (o.grad_clip > 0) optim::clip_grad_norm(run.params, o.grad_clip);
    // The loss is read back once the whole step is queued (on a GPU, reading it earlier would stall the
    // stream between forward and backward). A non-finite loss stops before anything is saved.
    double loss = out.loss.total.item<double>();
    if (!std::isfinite(loss)) {
      std::fprintf(stderr, "\nerror: loss is %f at epoch %lld step %lld; stopping. The last good checkpoint is %s\n",
                   loss, (long long)epoch, (long long)run.st.step, run.last.c_str());
      return EpochEnd::diverged;
    }
    if (run.result.steps == 0 && run.st.step == 0) run.result.first_loss = loss;
    run.result.last_loss = loss;
    run.result.steps = run.st.step + 1;
    run.opt->step();
    ++run.st.step;
    ++in_epoch;
    images += int64_t(db.image_ids.size());
    if (run.st.step % o.log_step == 0 || in_epoch == run.per_epoch) {
      double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      log_step(run, bar, epoch, in_epoch, loss, out.loss, double(images) / std::max(el, 1e-9));
    }
    if (g_interrupted) {
      run.save(run.last);
      std::fprintf(stderr, "\ninterrupted: saved %s (epoch %lld, step %lld); continue with --resume %s\n",
                   run.last.c_str(), (long long)epoch, (long long)run.st.step, run.last.c_str());
      run.result.steps = run.st.step;
      return EpochEnd::interrupted;
    }
  }
  std::fprintf(stderr, "\n");
  return in_epoch == run.per_epoch ? EpochEnd::complete : EpochEnd::partial;
}

// The official validate(): recall on the val split; a better RSUM is saved as checkpoint_best.
void validate(Run& run, const TrainOptions& o, int64_t epoch) {
  Encoded e = encode_split(*run.m, run.val_ds, run.vocab, run.dev, 256, false, o.workers);
  auto rows = evaluate(run.cfg, e, run.dev);
  const model::RecallMetrics& r = rows.back().second;
  run.result.last_eval = r;
  std::printf("validation after epoch %lld:\n%s", (long long)(epoch + 1), model::format_table(rows).c_str());
  run.log << "{\"type\": \"eval\", \"epoch\": " << epoch + 1 << ", \"step\": " << run.st.step
          << ", \"metrics\": " << model::to_json(r) << "}\n";
  run.log.flush();
  if (r.rsum > run.st.best_rsum) {
    run.st.best_rsum = r.rsum;
    run.save(run.best);
    std::printf("new best rsum %.1f: saved %s\n", r.rsum, run.best.c_str());
  }
}

void report_gpu_memory(const Run& run, int64_t epoch) {
  if (run.dev.kind != DeviceKind::cuda) return;
  DeviceMemory mem = device_memory(run.dev);
  std::printf("epoch %lld: peak GPU memory %.0f MiB in tensors (%.0f MiB reserved by the caching allocator)\n",
              (long long)(epoch + 1), double(mem.peak_allocated) / 1048576.0, double(mem.peak_reserved) / 1048576.0);
}

}  // namespace

void add_train_options(model::OptionSet& s, TrainOptions& o) {
  s.add("data_name", &o.data_name,
        "dataset: coco_butd, f30k_butd (region features), coco, f30k (raw images, --cnn_type resnet*) or synth "
        "(dive synth: either)",
        {"coco_butd", "f30k_butd", "coco", "f30k", "synth"});
  s.add("data_path", &o.data_path,
        "region features: the folder with {split}_ims.npy and {split}_caps.txt; raw images: the folder with "
        "dataset_{coco,flickr30k,synth}.json");
  s.add("vocab_path", &o.vocab_path, "vocabulary file (one token per line) or a folder holding vocab.txt");
  s.add("logger_name", &o.logger_name, "run folder: checkpoints and log.jsonl");
  s.add("resume", &o.resume, "checkpoint to continue from");
  add_device_options(s, &o.device, &o.device_flags);
  s.add("optimizer", &o.optimizer, "adamw or adam", {"adamw", "adam"});
  s.add("lr_scheduler", &o.lr_scheduler, "cosine (per iteration) or step (per epoch)", {"cosine", "step"});
  s.add("batch_size", &o.batch_size, "images per batch (each with its 5 captions)");
  s.add("num_epochs", &o.num_epochs, "epochs");
  s.add("workers", &o.workers, "data loader threads");
  s.add("log_step", &o.log_step, "steps between log lines");
  s.add("eval_epoch", &o.eval_epoch, "epochs between validations");
  s.add("lr_step_size", &o.lr_step_size, "epochs per step of the step schedule");
  s.add("lr_step_gamma", &o.lr_step_gamma, "factor of the step schedule");
  s.add("seed", &o.seed, "random seed (model init, shuffling, augmentation, dropout)");
  s.add("max_steps", &o.max_steps, "stop after this many steps in total (-1: no limit)");
  s.add("lr", &o.lr, "base learning rate");
  s.add("weight_decay", &o.weight_decay, "decoupled weight decay on every parameter");
  s.add("grad_clip", &o.grad_clip, "clip the global gradient norm (<= 0: off)");
  s.add("img_pie_lr_scale", &o.img_pie_lr_scale, "lr scale of the image encoder");
  s.add("txt_pie_lr_scale", &o.txt_pie_lr_scale, "lr scale of the text set module");
  s.add("txt_lr_scale", &o.txt_lr_scale, "lr scale of the text embedding and GRU");
  s.add("caption_drop_prob", &o.caption_drop_prob, "caption token mask/replace/delete probability");
  s.add("butd_drop_prob", &o.butd_drop_prob, "region drop probability");
  s.add("drop_last", &o.drop_last, "drop the last partial batch");
  s.add("tri_mean_to_max", &o.tri_mean_to_max, "mean over negatives before --warm_epoch, hardest negative after");
  s.add("warm_epoch", &o.warm_epoch, "epoch at which --tri_mean_to_max switches to the hardest negative");
  s.add("wemb_type", &o.wemb_type, "word embedding init: none (uniform) or glove", {"none", "glove"});
  s.add("wemb_path", &o.wemb_path, "GloVe text file for --wemb_type glove");
  s.add("cnn_weights", &o.cnn_weights,
        "CNN branch: ImageNet weights to start from (safetensors written by tools/convert/convert_torchvision.py)");
  s.add("help", &o.help, "show the flags");
}

TrainResult run_training(model::ModelConfig cfg, const TrainOptions& o, const std::string& options_dump) {
  std::unique_ptr<Run> run = set_up(std::move(cfg), o, options_dump);
  TrainState& st = run->st;
  std::signal(SIGINT, on_sigint);
  std::signal(SIGTERM, on_sigint);
  for (int64_t epoch = st.epoch; epoch < o.num_epochs && st.step < run->total_steps; ++epoch) {
    EpochEnd end = train_one_epoch(*run, o, epoch);
    if (end == EpochEnd::diverged) run->result.diverged = true;
    if (end == EpochEnd::interrupted) run->result.interrupted = true;
    if (end == EpochEnd::diverged || end == EpochEnd::interrupted) return run->result;
    report_gpu_memory(*run, epoch);
    if (end == EpochEnd::complete) st.epoch = epoch + 1;
    if ((epoch + 1) % o.eval_epoch == 0 || st.epoch == o.num_epochs || st.step >= run->total_steps)
      validate(*run, o, epoch);
    run->save(run->last);
  }
  std::printf("done: %lld steps; last checkpoint %s, best %s (rsum %.1f)\n", (long long)st.step, run->last.c_str(),
              run->best.c_str(), st.best_rsum);
  run->result.steps = st.step;
  run->result.best_rsum = st.best_rsum;
  return run->result;
}

}  // namespace dive::tools
